package rehearse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/fpmdoctor/fpmdoctor/internal/discover"
	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/labproc"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// Source names the configs to copy: a tree read as if it were / (Root ""
// is the host itself, read only), repository directories mounted over it
// where the server has them (internal/repo builds them from fpmdoctor.yaml
// and --map, as for check) and, optionally, the main config files as host
// paths.
type Source struct {
	Root      string
	Mounts    []rootfs.Mount
	NginxConf string
	FPMConfs  []string
}

// tree is the offline host the source names; its zero value reads this
// host's own files.
func (s Source) tree() (rootfs.Tree, error) {
	if len(s.Mounts) > 0 && s.Root == "" {
		// Mounting over the live host would mix its files with the
		// repository's: a repository is always read over a root.
		return rootfs.Tree{}, errors.New("mapped directories need a root to be read over (internal/repo gives the repository's)")
	}
	return rootfs.Tree{Root: s.Root, Mounts: s.Mounts}, nil
}

// live: the source is this host's own configs.
func (s Source) live() bool { return s.Root == "" && len(s.Mounts) == 0 }

// name says in errors where the configs were looked for.
func (s Source) name() string {
	switch {
	case s.live():
		return "/"
	case len(s.Mounts) == 0:
		return s.Root
	}
	hosts := make([]string, len(s.Mounts))
	for i, m := range s.Mounts {
		hosts[i] = m.Host + " (" + m.Dir + ")"
	}
	return s.Root + " with " + strings.Join(hosts, ", ") + " mapped"
}

// Mapping is one thing the lab moved: a path, a port, a user.
type Mapping struct {
	// Kind is config, include, path, socket, port, address, docroot,
	// user, group, allowed_client, open_basedir, setting or dropped.
	Kind string `json:"kind"`
	From string `json:"from"`
	To   string `json:"to"`
	// Where is the first config line that named it (host path:line).
	Where string `json:"where,omitempty"`
	Note  string `json:"note,omitempty"`
}

// fpmCopy is one php-fpm installation of the lab.
type fpmCopy struct {
	orig, conf, prefix, pid, bin string
}

// tree is the lab copy of the configs.
type tree struct {
	lab         *Lab
	src         rootfs.Tree // the source ("" Root, no Mounts: this host)
	mirror      string      // Dir/root
	nginxConf   string      // lab path of the main nginx config
	nginxOrig   string
	nginxBin    string // found by discovery on this host, or ""
	nginxPrefix string
	nginxPid    string
	// nginxPidAdded: the config sets no pid; it is given with -g.
	nginxPidAdded bool
	fpm           []*fpmCopy
	ports         map[int]int       // original TCP port → lab port
	sockets       map[string]string // original unix socket path → lab path
	mappings      []Mapping
	seen          map[string]bool
	docroots      map[string]bool // lab document roots to create
	sites         []*Site
	// passHosts are the hosts nginx reaches each original port by, so
	// php-fpm's listen.allowed_clients can be mapped alike.
	passHosts map[int]map[string]bool
	// rootDirs are the lab document roots of root/alias directives.
	rootDirs       map[*nginxconf.Syntax]string
	nginxErrorLogs []string
	serverListens  map[*nginxconf.Directive]map[string]bool
	edits          map[string][]edit // host path → edits of its lab copy
	files          map[string][]byte // host path → source bytes
	modes          map[string]os.FileMode
}

type edit struct {
	start, end int
	text       string
}

// mapPath is where the lab keeps host path p: the same path under root/.
// Mirroring keeps every reference consistent without a table: nginx's
// fastcgi_pass and the pool's listen map to the same lab path exactly when
// they named the same path, so a mismatch stays a mismatch.
func (t *tree) mapPath(p string) string {
	if p == "" {
		return p
	}
	if !filepath.IsAbs(p) {
		p = "/" + p
	}
	return filepath.Join(t.mirror, filepath.Clean(p))
}

func (t *tree) note(m Mapping) {
	key := m.Kind + "\x00" + m.From + "\x00" + m.To
	if t.seen[key] {
		return
	}
	t.seen[key] = true
	t.mappings = append(t.mappings, m)
}

// mapFile maps a path a server writes (log, pid, temp dir) and records it.
func (t *tree) mapFile(p, where string) string {
	to := t.mapPath(p)
	t.note(Mapping{Kind: "path", From: p, To: to, Where: where})
	return to
}

// unixSocketMax is sun_path's size on Linux, terminating NUL included.
const unixSocketMax = 108

// mapSocket maps a unix socket path. Deep lab directories can push the
// mirrored path past the kernel's limit; then it gets a short name in run/.
func (t *tree) mapSocket(p, where string) string {
	if to, ok := t.sockets[p]; ok {
		return to
	}
	to := t.mapPath(p)
	note := ""
	if len(to) >= unixSocketMax {
		to = filepath.Join(t.lab.Dir, "run", strconv.Itoa(len(t.sockets))+".sock")
		note = "the mirrored path is too long for a unix socket"
	}
	t.sockets[p] = to
	t.note(Mapping{Kind: "socket", From: p, To: to, Where: where, Note: note})
	return to
}

// mapPort gives an original TCP port its lab port, the same one for every
// listen and every pass that names it.
func (t *tree) mapPort(port int, where string) (int, error) {
	if to, ok := t.ports[port]; ok {
		return to, nil
	}
	to, err := labproc.FreePort()
	if err != nil {
		return 0, err
	}
	t.ports[port] = to
	t.note(Mapping{Kind: "port", From: strconv.Itoa(port), To: "127.0.0.1:" + strconv.Itoa(to), Where: where})
	return to, nil
}

func (t *tree) addEdit(file string, start, end int, text string) {
	for _, e := range t.edits[file] {
		if e.start == start && e.end == end {
			return // a file spliced at several includes is edited once
		}
	}
	t.edits[file] = append(t.edits[file], edit{start, end, text})
}

// quote writes s as one nginx argument.
func quote(s string) string {
	if strings.ContainsAny(s, " \t\"';{}$#\\") {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return s
}

// Copy reads the source's configs and writes the lab copy, with every path
// and port rewritten. It starts nothing.
func (l *Lab) Copy(ctx context.Context, src Source) error {
	st, err := src.tree()
	if err != nil {
		return err
	}
	t := &tree{lab: l, src: st.WithCache(), mirror: filepath.Join(l.Dir, "root"),
		ports: map[int]int{}, sockets: map[string]string{}, seen: map[string]bool{},
		docroots: map[string]bool{}, rootDirs: map[*nginxconf.Syntax]string{}, passHosts: map[int]map[string]bool{},
		edits: map[string][]edit{}, files: map[string][]byte{}, modes: map[string]os.FileMode{}}
	l.tree = t
	h := host.NewTree(st)
	// Configs as installed, not the running masters': on a test or CI
	// machine those may be other labs. --nginx-conf/--fpm-conf pick others.
	found := discover.Find(ctx, h, nil, discover.Options{NginxConf: src.NginxConf, FPMConfs: src.FPMConfs})
	if len(found.Nginx) == 0 {
		return fmt.Errorf("no nginx config found under %s (use --nginx-conf)", src.name())
	}
	n := found.Nginx[0]
	if src.live() {
		t.nginxBin = n.Binary // the running master's, when one runs
	}
	cfg, err := nginxconf.Load(ctx, n.Conf, nginxconf.Options{Root: src.Root, Mounts: src.Mounts})
	if err != nil {
		return err
	}
	t.nginxOrig = cfg.Main
	prefix := n.Prefix
	if prefix == "" {
		prefix = "/usr/share/nginx" // Debian's compiled --prefix
	}
	t.nginxPrefix = t.mapPath(prefix)
	t.nginxConf = t.mapPath(cfg.Main)
	for _, f := range cfg.Files {
		t.files[f.Path] = f.Src
	}
	// php-fpm first: nginx's passes are mapped against the pools' ports.
	var fpms []*fpmconf.Config
	for _, f := range found.FPM {
		fc, err := fpmconf.Load(ctx, f.Conf, fpmconf.Options{Root: src.Root, Mounts: src.Mounts, Prefix: f.Prefix})
		if err != nil {
			return fmt.Errorf("read php-fpm config %s: %w", f.Conf, err)
		}
		fpms = append(fpms, fc)
		fprefix := f.Prefix
		if fprefix == "" {
			fprefix = fpmconf.DefaultPrefix
		}
		bin, err := l.fpmBin(f.Conf)
		if err != nil {
			return err
		}
		fcopy := &fpmCopy{orig: f.Conf, conf: t.mapPath(f.Conf), prefix: t.mapPath(fprefix), bin: bin,
			pid: filepath.Join(l.Dir, "run", fmt.Sprintf("php-fpm-%d.pid", len(t.fpm)))}
		t.fpm = append(t.fpm, fcopy)
		for _, file := range fc.Files {
			b, err := t.read(file)
			if err != nil {
				return fmt.Errorf("read %s: %w", file, err)
			}
			t.files[file] = b
		}
	}
	if err := t.rewriteNginx(cfg); err != nil {
		return err
	}
	for i, fc := range fpms {
		if err := t.rewriteFPM(fc, t.fpm[i]); err != nil {
			return err
		}
	}
	return t.write()
}

// read reads host path p of the source, following links inside the
// source only (through its mounts).
func (t *tree) read(p string) ([]byte, error) {
	rp, err := t.src.Resolve(p)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(rp)
}

// write writes every config file's lab copy with its edits, and creates
// the directories the servers expect.
func (t *tree) write() error {
	paths := make([]string, 0, len(t.files))
	for p := range t.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		src := t.files[p]
		es := t.edits[p]
		sort.Slice(es, func(i, j int) bool { return es[i].start > es[j].start })
		out := slices.Clone(src)
		for _, e := range es {
			if e.start < 0 || e.end > len(out) || e.start > e.end {
				return fmt.Errorf("internal error: edit %d-%d outside %s", e.start, e.end, p)
			}
			out = append(out[:e.start:e.start], append([]byte(e.text), out[e.end:]...)...)
		}
		dst := t.mapPath(p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("lab copy of %s: %w", p, err)
		}
		// Root's only: the masters read them as root, the workers never,
		// and pool files carry secrets (env[DB_PASSWORD]) that must not
		// become readable to every local user in /tmp.
		if err := os.WriteFile(dst, out, 0o600); err != nil {
			return fmt.Errorf("lab copy of %s: %w", p, err)
		}
		t.note(Mapping{Kind: "config", From: p, To: dst})
	}
	// Parents of every mapped path (logs, sockets, pid files, temp
	// dirs), so the servers fail only where the real host would.
	for _, m := range t.mappings {
		if m.Kind == "path" || m.Kind == "socket" {
			if err := os.MkdirAll(filepath.Dir(m.To), 0o755); err != nil {
				return fmt.Errorf("lab directory for %s: %w", m.From, err)
			}
		}
	}
	if err := os.MkdirAll(t.nginxPrefix, 0o755); err != nil {
		return fmt.Errorf("lab nginx prefix: %w", err)
	}
	for _, f := range t.fpm {
		if err := os.MkdirAll(filepath.Join(f.prefix, "log"), 0o755); err != nil {
			return fmt.Errorf("lab php-fpm prefix: %w", err)
		}
	}
	return t.placeProbes()
}

// userExists: a worker user or group that exists on this host, where the
// lab's workers run.
func userExists(name string, group bool) bool {
	if name == "" {
		return true
	}
	if group {
		_, err := user.LookupGroup(name)
		return err == nil
	}
	_, err := user.Lookup(name)
	return err == nil
}

// fallbackUser runs the workers of users this host lacks: Debian's
// www-data, else nobody (RHEL and Alpine hosts have no www-data).
func fallbackUser(group bool) string {
	if userExists("www-data", group) {
		return "www-data"
	}
	if group {
		return "nogroup"
	}
	return "nobody"
}

func (t *tree) mapUser(name string, group bool, where string) string {
	if userExists(name, group) {
		return name
	}
	kind := "user"
	if group {
		kind = "group"
	}
	to := fallbackUser(group)
	if group && !userExists(to, true) {
		to = "nobody" // RHEL's group of that name
	}
	t.note(Mapping{Kind: kind, From: name, To: to, Where: where, Note: "no such " + kind + " on this host"})
	return to
}

// runCmd runs a server's start command and returns its output.
func runCmd(ctx context.Context, bin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return tail(out.String(), 4000), err
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

var fpmInclude = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^[ \t]*include[ \t]*=[ \t]*(.*?)[ \t]*$`)
})

// rewriteFPM maps one php-fpm installation's paths, ports and users.
func (t *tree) rewriteFPM(c *fpmconf.Config, fc *fpmCopy) error {
	set := func(s *fpmconf.Setting, v string) {
		t.addEdit(s.File, s.ValueStart, s.ValueEnd, v)
	}
	for _, s := range c.Global.Settings {
		switch strings.ToLower(s.Name) {
		case "pid":
			// The lab's pid file, whatever the config says: --pid wins
			// over it, and Close finds the master by it.
			set(s, fc.pid)
			t.note(Mapping{Kind: "path", From: c.Global.Path("pid"), To: fc.pid, Where: s.Location()})
		case "error_log":
			p := c.Global.Path("error_log")
			if strings.EqualFold(p, "syslog") {
				p = "/var/log/php-fpm.log" // diagnose reads files, not syslog
			}
			set(s, t.mapFile(p, s.Location()))
		}
	}
	for _, p := range c.Pools {
		if err := t.rewritePool(p, set); err != nil {
			return err
		}
	}
	// include= is not a setting; rewrite it line by line. A relative
	// pattern is made absolute against the prefix: php-fpm would resolve
	// it in the lab's (mirrored) --prefix too, but diagnose cannot learn
	// a running master's --prefix (php-fpm overwrites its command line).
	for _, file := range c.Files {
		src := t.files[file]
		for _, m := range fpmInclude().FindAllSubmatchIndex(src, -1) {
			v := strings.Trim(string(src[m[2]:m[3]]), `"'`)
			if v == "" {
				continue
			}
			to := filepath.Join(fc.prefix, v)
			if strings.HasPrefix(v, "/") {
				to = t.mapPath(v)
			}
			t.addEdit(file, m[2], m[3], to)
			line := 1 + bytes.Count(src[:m[2]], []byte("\n"))
			t.note(Mapping{Kind: "include", From: v, To: to, Where: file + ":" + strconv.Itoa(line)})
		}
	}
	return nil
}

func (t *tree) rewritePool(p *fpmconf.Pool, set func(*fpmconf.Setting, string)) error {
	for _, s := range p.Settings {
		where := s.Location()
		name := strings.ToLower(s.Name)
		switch {
		case name == "listen":
			a, err := p.Listen()
			if err != nil {
				continue // php-fpm will refuse it with its own message
			}
			if a.Network == "unix" {
				set(s, t.mapSocket(a.Path, where))
				continue
			}
			port, err := t.mapPort(a.Port, where)
			if err != nil {
				return err
			}
			set(s, "127.0.0.1:"+strconv.Itoa(port))
		case name == "listen.allowed_clients":
			// The lab's nginx always connects from 127.0.0.1: an address
			// nginx reached this pool by is allowed as 127.0.0.1, so the
			// lab allows what production allows and refuses the rest.
			a, err := p.Listen()
			if err != nil || a.Network != "tcp" {
				continue
			}
			var out []string
			for _, c := range strings.Split(s.Value, ",") {
				c = strings.TrimSpace(c)
				if t.passHosts[a.Port][c] && c != "127.0.0.1" {
					t.note(Mapping{Kind: "allowed_client", From: c, To: "127.0.0.1", Where: where, Note: "nginx reaches the pool by this address"})
					c = "127.0.0.1"
				}
				out = append(out, c)
			}
			set(s, strings.Join(out, ","))
		case name == "user" || name == "listen.owner":
			set(s, t.mapUser(s.Value, false, where))
		case name == "group" || name == "listen.group":
			set(s, t.mapUser(s.Value, true, where))
		case name == "slowlog" || name == "access.log" || name == "prefix" || name == "chdir":
			set(s, t.mapFile(p.Path(s.Key), where))
		case name == "chroot":
			// A chroot would hide the lab's mirror from the workers.
			set(s, "")
			t.note(Mapping{Kind: "dropped", From: "chroot = " + s.Value, Where: where, Note: "the lab runs the pool without its chroot"})
		case (name == "php_admin_value" || name == "php_value") && isPathINI(s.ArrayKey):
			if filepath.IsAbs(s.Value) {
				set(s, t.mapFile(s.Value, where))
			}
		case (name == "php_admin_value" || name == "php_value") && strings.EqualFold(s.ArrayKey, "open_basedir"):
			var out []string
			for _, d := range strings.Split(s.Value, ":") {
				if filepath.IsAbs(d) {
					d = t.mapPath(d)
				}
				out = append(out, d)
			}
			set(s, strings.Join(out, ":"))
			t.note(Mapping{Kind: "open_basedir", From: s.Value, To: strings.Join(out, ":"), Where: where})
		}
	}
	return nil
}

// isPathINI: php.ini settings that name one file or directory PHP writes.
func isPathINI(key string) bool {
	switch strings.ToLower(key) {
	case "error_log", "session.save_path", "upload_tmp_dir", "sys_temp_dir", "opcache.error_log", "opcache.file_cache":
		return true
	}
	return false
}

// copyFile copies a file the config names (a certificate) into the lab,
// when the tree has it.
func (t *tree) copyFile(p string) (string, bool) {
	rp, err := t.src.Resolve(p)
	if err != nil {
		return "", false
	}
	in, err := os.Open(rp)
	if err != nil {
		return "", false
	}
	defer in.Close()
	dst := t.mapPath(p)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", false
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return "", false
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		return "", false
	}
	return dst, true
}
