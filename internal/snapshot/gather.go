package snapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/discover"
	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// Options say what to gather.
type Options struct {
	// Root reads an offline tree as if it were "/" (configs from git, a
	// copy of a server). Live facts are then skipped, never guessed.
	Root string
	// Mounts put repository directories where the host has them
	// (fpmdoctor check: nginx/ → /etc/nginx); they need Root.
	Mounts    []rootfs.Mount
	NginxConf string
	FPMConfs  []string
	// NoProbe turns off live FastCGI exchanges with the pools.
	NoProbe bool
	// NoProbeWhy names the flag that turned probing off, for the skipped
	// list ("" is --no-probe).
	NoProbeWhy string
	// ProbeTimeout bounds each probe (0: DefaultProbeTimeout); ProbeLimit
	// caps how many targets are probed (0: DefaultProbeLimit, <0: all).
	ProbeTimeout time.Duration
	ProbeLimit   int
	// Since is the log window (0: DefaultSince).
	Since time.Duration
	// Declared are facts a repository states instead of a live host
	// measuring them (fpmdoctor check --memory).
	Declared Declared
}

// Gather builds a Snapshot. It fails only when there is nothing to
// diagnose at all (no nginx config found or readable); everything else
// becomes a finding or a skipped check.
func Gather(ctx context.Context, opts Options) (*Snapshot, error) {
	h := host.Cached(host.NewTree(rootfs.Tree{Root: opts.Root, Mounts: opts.Mounts}))
	s := &Snapshot{Host: h, Now: h.Now(), Live: h.Live()}
	if !s.Live {
		s.Root = opts.Root
		s.mounts = opts.Mounts
		s.Declared = opts.Declared
		if _, err := os.Stat(opts.Root); err != nil {
			return nil, fmt.Errorf("offline root: %w", err)
		}
	}
	users, err := h.Users()
	if err != nil {
		s.Lack(FactUsers, "cannot read the user database: "+err.Error())
	}
	s.Users = users

	var (
		procs []host.Process
		// Listening sockets are needed only once configs are read: list
		// them meanwhile (/proc/net/unix is long on a hosting host).
		listeners = make(chan error, 1)
	)
	if s.Live {
		go func() {
			var err error
			s.Listeners, err = h.Listeners(ctx)
			listeners <- err
		}()
		procs, err = h.Processes(ctx)
		if err != nil {
			s.Lack(FactProcesses, "cannot list processes: "+err.Error())
		}
	} else {
		listeners <- nil
		s.Lack(FactService, "offline mode (--root): whether nginx and php-fpm run is not checked")
		s.Lack(FactSocket, "offline mode (--root): sockets and listeners are not checked")
		s.Lack(FactPermission, "offline mode (--root): socket permissions are not checked")
		s.Lack(FactApplied, "offline mode (--root): running configs are not compared with files")
	}

	found := discover.Find(ctx, h, procs, discover.Options{NginxConf: opts.NginxConf, FPMConfs: opts.FPMConfs})
	if len(found.Nginx) == 0 {
		// A php-fpm container, or an app server behind a remote nginx:
		// php-fpm runs here and nginx does not. Its side is still worth
		// checking (a pool only its own host can reach, a bad config).
		if !anyRunning(found.FPM) {
			return nil, errors.New("no nginx found: nothing runs and no config is installed in the usual places (use --nginx-conf)")
		}
		s.skip("nginx", "no nginx here (none runs, no config installed): php-fpm is checked alone, as on the php-fpm side of two hosts or containers")
	}

	// nginx and php-fpm configs are independent: read them side by side.
	var wg sync.WaitGroup
	s.Nginx = make([]*Nginx, len(found.Nginx))
	for i, n := range found.Nginx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Nginx[i] = loadNginx(ctx, s, n)
			host.StatAll(h, s.Nginx[i].statsAhead())
		}()
	}
	s.FPM = make([]*FPM, len(found.FPM))
	for i, f := range found.FPM {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.FPM[i] = loadFPM(ctx, s, f)
			host.StatAll(h, s.FPM[i].statsAhead())
		}()
	}
	wg.Wait()
	if err := <-listeners; err != nil {
		s.Lack(FactSockets, "cannot read listening sockets: "+err.Error())
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(s.Nginx) == 1 && s.Nginx[0].LoadErr != nil {
		return nil, s.Nginx[0].LoadErr
	}
	if len(s.FPM) == 0 {
		s.Lack(FactPools, "no php-fpm config found (running or installed); use --fpm-conf")
	}

	live := newListenerIndex(s)
	pools := linkPools(s, live)
	hosts := newResolver(ctx, s, readHosts(h))
	for _, n := range s.Nginx {
		if n.Model == nil {
			continue
		}
		for _, pass := range n.Model.FastCGIPasses {
			site := &Site{Nginx: n, Server: pass.Server, Pass: pass, Name: "_"}
			if pass.Server != nil && len(pass.Server.Names) > 0 && pass.Server.Names[0] != "" {
				site.Name = pass.Server.Names[0]
			}
			if pass.Target.Kind == nginxconf.TargetUpstream && pass.Target.Upstream != nil {
				for _, us := range pass.Target.Upstream.Servers {
					site.Targets = append(site.Targets, s.target(us.Target, us.Directive, hosts, live, pools))
				}
			} else {
				site.Targets = append(site.Targets, s.target(pass.Target, pass.Directive, hosts, live, pools))
			}
			for _, t := range site.Targets {
				if t.Pool != nil && (len(t.Pool.Sites) == 0 || t.Pool.Sites[len(t.Pool.Sites)-1] != site) {
					t.Pool.Sites = append(t.Pool.Sites, site)
				}
			}
			s.Sites = append(s.Sites, site)
		}
	}
	// Facts that later checks need (memory, kernel socket queues, logs)
	// are gathered below; each lives in its own file of this package.
	gatherExtra(ctx, s, opts)

	switch {
	case !s.Live:
		s.Lack(FactProbe, "offline mode (--root): pools are not probed")
	case opts.NoProbe:
		why := opts.NoProbeWhy
		if why == "" {
			why = "--no-probe"
		}
		s.Lack(FactProbe, why+": pools were not asked over FastCGI")
	default:
		probeTargets(ctx, s, opts)
		gatherNetwork(ctx, s)
	}
	return s, nil
}

// statsAhead lists the paths linking and checks stat one by one: pool
// sockets and (when the master runs, to compare with its start) every
// config file read. Gather stats them as soon as the config is loaded
// (host.StatAll), a few at a time and while the other config may still
// be loading: a hosting host has thousands.
func (f *FPM) statsAhead() []string {
	var paths []string
	for _, p := range f.Pools {
		if p.ListenErr == nil && p.Listen.Network == "unix" {
			paths = append(paths, p.Listen.Path)
		}
	}
	if f.Master != nil && f.Config != nil {
		paths = append(paths, f.Config.Files...)
	}
	return paths
}

// statsAhead is FPM.statsAhead for nginx: the unix sockets it passes to
// and, when its master runs, every config file read.
func (n *Nginx) statsAhead() []string {
	var paths []string
	if n.Model != nil {
		for _, pass := range n.Model.FastCGIPasses {
			if pass.Target.Kind == nginxconf.TargetUnix {
				paths = append(paths, pass.Target.Path)
			}
		}
	}
	if n.Master != nil && n.Config != nil {
		for _, file := range n.Config.Files {
			paths = append(paths, file.Path)
		}
	}
	return paths
}

func loadNginx(ctx context.Context, s *Snapshot, d *discover.Nginx) *Nginx {
	n := &Nginx{Nginx: d}
	cfg, err := nginxconf.Load(ctx, d.Conf, nginxconf.Options{Root: s.Root, Mounts: s.mounts})
	if err != nil {
		n.LoadErr = fmt.Errorf("read nginx config: %w", err)
		return n
	}
	n.Config = cfg
	n.Model = cfg.Model()
	n.Cred, n.CredSource = workerCred(s, n)
	if s.Live && s.Root == "" && n.Binary != "" && len(cfg.Problems)+len(n.Model.Problems) > 0 {
		n.Test = nginxTest(ctx, s, d)
	}
	return n
}

// nginxTest runs the master's own binary on its own config with -t -q, as
// its reload would, to confirm a problem the parser found. It does not
// signal the running nginx. nginx -t writes once the whole configuration
// parsed: it creates the pid file (without truncating it), the temp
// directories and log files that are missing. The problems the parser
// reports (syntax, "is duplicate", arguments, includes) stop it while
// parsing, before that; and as root it runs as nobody, who can create
// nothing in root's directories (/run, /var/log/nginx, /var/lib/nginx),
// should it get that far.
func nginxTest(ctx context.Context, s *Snapshot, d *discover.Nginx) *ConfigTest {
	args := []string{"-t", "-q", "-c", d.Conf}
	if d.Prefix != "" {
		args = append(args, "-p", d.Prefix)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		if s.Users != nil {
			if u, ok := s.Users.Lookup("nobody"); ok {
				cred.Uid, cred.Gid = uint32(u.UID), uint32(u.GID)
			}
		}
	}
	return runConfigTestAs(ctx, cred, d.Binary, args...)
}

// workerCred finds the credentials nginx's workers use to connect: the
// running workers' own, else what the user directive (or nginx's default)
// gives through initgroups.
func workerCred(s *Snapshot, n *Nginx) (*host.Cred, string) {
	if len(n.Workers) > 0 {
		w := n.Workers[0]
		return &host.Cred{UID: w.UID, GID: w.GID, Groups: w.Groups}, "running worker pid " + strconv.Itoa(w.PID)
	}
	if s.Users == nil {
		return nil, ""
	}
	user, group, source := "nobody", "nogroup", "nginx's compiled default user (no user directive)"
	if d := n.Model.UserDirective; d != nil {
		user, group = n.Model.User, n.Model.Group
		source = "user directive"
		n.CredFile, n.CredLine = d.File, d.Line
	}
	u, ok := s.Users.Lookup(user)
	if !ok {
		return nil, ""
	}
	gid := u.GID
	if g, ok := s.Users.LookupGroup(group); ok {
		gid = g.GID
	}
	c := s.Users.CredFor(u, gid)
	return &c, source
}

func loadFPM(ctx context.Context, s *Snapshot, d *discover.FPM) *FPM {
	f := &FPM{FPM: d}
	opts := fpmconf.Options{Root: s.Root, Mounts: s.mounts, Prefix: d.Prefix}
	if d.Master != nil {
		env := masterEnv(d.Master.PID)
		opts.Env = func(k string) string { return env[k] }
	}
	cfg, err := fpmconf.Load(ctx, d.Conf, opts)
	if err != nil {
		f.LoadErr = fmt.Errorf("read php-fpm config: %w", err)
		return f
	}
	f.Config = cfg
	f.Problems = fpmconf.Validate(cfg) // includes the reading problems
	if s.Live && f.Binary != "" && fpmconf.HasFatal(f.Problems) {
		f.Test = runConfigTest(ctx, f.Binary, "-t", "-y", d.Conf)
	}
	for _, p := range cfg.Pools {
		pool := &Pool{FPM: f, Pool: p, Name: p.Name, Setting: p.Get("listen"), id: p.Name + " (" + d.Conf + ")"}
		pool.Listen, pool.ListenErr = p.Listen()
		f.Pools = append(f.Pools, pool)
	}
	return f
}

// runConfigTest runs a server's config test with a deadline. php-fpm -t
// only reads; it is run only to confirm a problem already found.
func runConfigTest(ctx context.Context, bin string, args ...string) *ConfigTest {
	return runConfigTestAs(ctx, nil, bin, args...)
}

// runConfigTestAs is runConfigTest as another user (nil: as fpmdoctor).
func runConfigTestAs(ctx context.Context, cred *syscall.Credential, bin string, args ...string) *ConfigTest {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	out, err := cmd.CombinedOutput()
	return &ConfigTest{Command: bin + " " + strings.Join(args, " "), Output: string(out), OK: err == nil}
}

// masterEnv reads a php-fpm master's environment for ${VAR} in its config.
func masterEnv(pid int) map[string]string {
	env := map[string]string{}
	list, _ := host.Environ(pid)
	for _, kv := range list {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// listenerIndex finds live listening sockets by path or address.
type listenerIndex struct {
	unix map[string]*host.Listener
	tcp  []*host.Listener
}

func newListenerIndex(s *Snapshot) *listenerIndex {
	idx := &listenerIndex{unix: map[string]*host.Listener{}}
	for i := range s.Listeners {
		l := &s.Listeners[i]
		if l.Network == "unix" {
			idx.unix[host.ResolveSocket(s.Host, l.Path)] = l
		} else {
			idx.tcp = append(idx.tcp, l)
		}
	}
	return idx
}

func (idx *listenerIndex) tcpAt(ip net.IP, port int) *host.Listener {
	var wildcard *host.Listener
	for _, l := range idx.tcp {
		if l.Port != port {
			continue
		}
		if l.IP.Equal(ip) {
			return l
		}
		// [::] listens dual-stack on Linux by default; 0.0.0.0 only v4.
		if l.IP.IsUnspecified() && (l.IP.To4() == nil || ip.To4() != nil) {
			wildcard = l
		}
	}
	return wildcard
}

// tcpListening is the live listener of a pool's TCP listen address.
func (idx *listenerIndex) tcpListening(a fpmconf.Address) *host.Listener {
	ip := a.IP
	if ip == nil {
		ip = net.IPv4zero
		if a.Wildcard {
			ip = net.IPv6unspecified
		}
	}
	var found *host.Listener
	for _, l := range idx.tcp {
		if l.Port == a.Port && (l.IP.Equal(ip) || (a.Wildcard && l.IP.IsUnspecified())) {
			found = l
		}
	}
	return found
}

func (s *Snapshot) target(t nginxconf.Target, d *nginxconf.Directive, hosts *resolver, idx *listenerIndex, pools *poolIndex) *Target {
	tg := &Target{Target: t, Directive: d}
	switch t.Kind {
	case nginxconf.TargetUnix:
		key := host.ResolveSocket(s.Host, t.Path)
		tg.Socket = s.Host.Stat(t.Path)
		if s.Live {
			tg.Listener = idx.unix[key]
		}
		tg.Pool = pools.unix[key]
	case nginxconf.TargetTCP:
		if ip := net.ParseIP(t.Host); ip != nil {
			tg.IPs, tg.ResolvedBy = []net.IP{ip}, "literal"
		} else {
			tg.IPs, tg.ResolvedBy, tg.ResolveErr = hosts.lookup(t.Host)
			tg.Unresolved = len(tg.IPs) == 0
		}
		for _, ip := range tg.IPs {
			if s.Live && tg.Listener == nil {
				tg.Listener = idx.tcpAt(ip, t.Port)
			}
			for _, p := range pools.tcp[t.Port] {
				if p.Listen.Covers(ip, t.Port) {
					tg.Pool = choosePool(tg.Pool, p)
				}
			}
		}
	}
	return tg
}

// poolIndex finds pools by socket path or port, so linking N sites to N
// pools costs N lookups, not N² comparisons (hosting companies have
// thousands of each).
type poolIndex struct {
	unix map[string]*Pool
	tcp  map[int][]*Pool
}

// linkPools indexes every pool by its socket and port and, on the live
// host, attaches the listener serving it; it stats each unix socket.
func linkPools(s *Snapshot, live *listenerIndex) *poolIndex {
	idx := &poolIndex{unix: map[string]*Pool{}, tcp: map[int][]*Pool{}}
	for _, f := range s.FPM {
		for _, p := range f.Pools {
			if p.ListenErr != nil {
				continue
			}
			switch p.Listen.Network {
			case "unix":
				key := host.ResolveSocket(s.Host, p.Listen.Path)
				idx.unix[key] = choosePool(idx.unix[key], p)
				p.Socket = s.Host.Stat(p.Listen.Path)
				if s.Live {
					p.Listener = live.unix[key]
				}
			case "tcp":
				idx.tcp[p.Listen.Port] = append(idx.tcp[p.Listen.Port], p)
				if s.Live {
					p.Listener = live.tcpListening(p.Listen)
				}
			}
		}
	}
	return idx
}

// choosePool prefers a pool whose php-fpm runs when two configs (say an
// old and a new PHP version) both claim one address.
func choosePool(have, cand *Pool) *Pool {
	if have == nil || (!have.FPM.Running() && cand.FPM.Running()) {
		return cand
	}
	return have
}

// readHosts parses the hosts file: nginx resolves upstream names when it
// loads its config, and for local names that means /etc/hosts.
func readHosts(h host.Host) map[string][]net.IP {
	out := map[string][]net.IP{}
	local, err := h.Path("/etc/hosts")
	var f *os.File
	if err == nil {
		f, err = os.Open(local)
	}
	if err != nil {
		out["localhost"] = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		ip := net.ParseIP(fields[0])
		if ip == nil {
			continue
		}
		for _, name := range fields[1:] {
			name = strings.ToLower(name)
			out[name] = append(out[name], ip)
		}
	}
	return out
}

func anyRunning(fs []*discover.FPM) bool {
	for _, f := range fs {
		if f.Master != nil {
			return true
		}
	}
	return false
}
