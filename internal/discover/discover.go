// Package discover finds the nginx and php-fpm instances to diagnose: the
// masters running on the host (whatever started them: systemd, a
// supervisor, a shell) and, when nothing runs, the configs installed in the
// usual places of Debian/Ubuntu, the RHEL family and the official Docker
// image. Explicit config paths override discovery.
package discover

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
)

// Nginx is one nginx installation: its config and, when it runs, its master
// and workers.
type Nginx struct {
	Conf    string
	Prefix  string // -p, or "" for the compiled default
	Binary  string
	Master  *host.Process
	Workers []host.Process
	Source  string // how it was found, for the report
}

// FPM is one php-fpm installation.
type FPM struct {
	Conf string
	// Prefix is php-fpm's prefix, against which relative paths (include=)
	// resolve: the build's, guessed from where it is installed, "" for the
	// distribution default (/usr).
	Prefix  string
	Binary  string
	Master  *host.Process
	Workers []host.Process
	Source  string
}

// Options override discovery.
type Options struct {
	NginxConf string
	FPMConfs  []string
}

// Result is what was found.
type Result struct {
	Nginx []*Nginx
	FPM   []*FPM
}

// Well-known install locations, most common first.
var (
	nginxConfs = []string{"/etc/nginx/nginx.conf", "/usr/local/nginx/conf/nginx.conf", "/usr/local/etc/nginx/nginx.conf", "/opt/nginx/conf/nginx.conf"}
	fpmGlobs   = []string{"/etc/php/*/fpm/php-fpm.conf", "/etc/php-fpm.conf", "/usr/local/etc/php-fpm.conf", "/etc/opt/remi/php*/php-fpm.conf", "/opt/remi/php*/root/etc/php-fpm.conf", "/usr/local/php*/etc/php-fpm.conf"}
)

// Find discovers nginx and php-fpm on h. procs are the host's server
// processes (nil when offline).
func Find(ctx context.Context, h host.Host, procs []host.Process, opts Options) *Result {
	res := &Result{}
	// A worker just forked by its master still carries the master's title
	// until it renames itself: a "master" whose parent is a master of the
	// same kind is such a child, not a second installation.
	byPID := map[int]host.Process{}
	for _, p := range procs {
		byPID[p.PID] = p
	}
	isMaster := func(p host.Process, role host.Role) bool {
		if p.Role() != role {
			return false
		}
		parent, ok := byPID[p.PPID]
		return !ok || parent.Role() != role
	}
	// Workers are children that took their worker title: before that a
	// fresh child may not have dropped root yet, and its credentials
	// would lie about what nginx's workers can reach.
	workersOf := func(master int) []host.Process {
		var ws []host.Process
		for _, p := range procs {
			if p.PPID == master && (p.Role() == host.RoleNginxWorker || p.Role() == host.RoleFPMWorker) {
				ws = append(ws, p)
			}
		}
		return ws
	}

	// Running nginx masters.
	var runningNginx []*Nginx
	for _, p := range procs {
		if !isMaster(p, host.RoleNginxMaster) {
			continue
		}
		conf, prefix := p.NginxArgs()
		if conf == "" {
			conf = compiledNginxConf(ctx, p.Exe)
		} else if !filepath.IsAbs(conf) {
			// A relative -c is relative to the prefix (-p or compiled).
			base := prefix
			if base == "" {
				base = "/usr/share/nginx"
			}
			conf = filepath.Join(base, conf)
		}
		runningNginx = append(runningNginx, &Nginx{Conf: conf, Prefix: prefix, Binary: p.Exe, Master: &p, Workers: workersOf(p.PID), Source: "running master pid " + strconv.Itoa(p.PID)})
	}
	// Running php-fpm masters.
	var runningFPM []*FPM
	for _, p := range procs {
		if !isMaster(p, host.RoleFPMMaster) {
			continue
		}
		runningFPM = append(runningFPM, &FPM{Conf: p.FPMConfig(), Binary: p.Exe, Master: &p, Workers: workersOf(p.PID), Source: "running master pid " + strconv.Itoa(p.PID)})
	}

	if opts.NginxConf != "" {
		n := &Nginx{Conf: opts.NginxConf, Source: "--nginx-conf"}
		for _, r := range runningNginx {
			if samePath(h, r.Conf, n.Conf) {
				n.Master, n.Workers, n.Prefix, n.Binary = r.Master, r.Workers, r.Prefix, r.Binary
			}
		}
		res.Nginx = []*Nginx{n}
	} else if len(runningNginx) > 0 {
		res.Nginx = runningNginx
	} else {
		for _, c := range nginxConfs {
			if host.Exists(h, c) {
				res.Nginx = append(res.Nginx, &Nginx{Conf: c, Source: "installed (not running)"})
				break
			}
		}
	}

	if len(opts.FPMConfs) > 0 {
		for _, c := range opts.FPMConfs {
			f := &FPM{Conf: c, Source: "--fpm-conf"}
			for _, r := range runningFPM {
				if samePath(h, r.Conf, c) {
					f.Master, f.Workers, f.Binary = r.Master, r.Workers, r.Binary
				}
			}
			res.FPM = append(res.FPM, f)
		}
	} else {
		res.FPM = runningFPM
		// Installed configs with no running master matter too: a stopped
		// php-fpm is the commonest 502 of all.
		for _, g := range fpmGlobs {
			for _, c := range host.Glob(h, g) {
				known := slices.ContainsFunc(res.FPM, func(f *FPM) bool { return samePath(h, f.Conf, c) })
				if !known {
					res.FPM = append(res.FPM, &FPM{Conf: c, Source: "installed (not running)"})
				}
			}
		}
	}
	for _, f := range res.FPM {
		if f.Binary == "" {
			f.Binary = FPMBinaryFor(h, f.Conf)
		}
		f.Prefix = fpmPrefix(f)
	}
	for _, n := range res.Nginx {
		if n.Binary == "" && host.Exists(h, "/usr/sbin/nginx") {
			n.Binary = "/usr/sbin/nginx"
		}
	}
	sort.SliceStable(res.FPM, func(i, j int) bool { return res.FPM[i].Conf < res.FPM[j].Conf })
	return res
}

// fpmPrefix guesses php-fpm's compiled prefix: a running master's binary
// sits in PREFIX/sbin; an installed config at PREFIX/etc/php-fpm.conf
// (the official Docker image: /usr/local). Distribution packages use /usr,
// which fpmconf assumes when this is "".
func fpmPrefix(f *FPM) string {
	if f.Master != nil && f.Binary != "" {
		if p := filepath.Dir(filepath.Dir(f.Binary)); p != "/usr" && p != "/" {
			return p
		}
		return ""
	}
	if p, ok := strings.CutSuffix(f.Conf, "/etc/php-fpm.conf"); ok && p != "" && p != "/usr" {
		return p
	}
	return ""
}

// DebianPHPVersion is the PHP version of a Debian/Ubuntu php-fpm config
// path (/etc/php/8.2/fpm/… → "8.2"), which names its binary
// (php-fpm8.2) and its unit (php8.2-fpm); "" for other layouts.
func DebianPHPVersion(conf string) string {
	rest, ok := strings.CutPrefix(conf, "/etc/php/")
	if !ok {
		return ""
	}
	v, rest, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(rest, "fpm/") {
		return ""
	}
	major, minor, ok := strings.Cut(v, ".")
	if !ok || !allDigits(major) || !allDigits(minor) {
		return ""
	}
	return v
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// FPMBinaryFor guesses the php-fpm binary that reads conf when no master
// runs: Debian's versioned binaries, else the one php-fpm on the host.
func FPMBinaryFor(h host.Host, conf string) string {
	if v := DebianPHPVersion(conf); v != "" {
		if b := "/usr/sbin/php-fpm" + v; host.Exists(h, b) {
			return b
		}
	}
	for _, b := range []string{"/usr/sbin/php-fpm", "/usr/local/sbin/php-fpm"} {
		if host.Exists(h, b) {
			return b
		}
	}
	if ms := host.Glob(h, "/usr/sbin/php-fpm*"); len(ms) > 0 {
		sort.Strings(ms)
		return ms[len(ms)-1]
	}
	return ""
}

// compiledNginxConf asks an nginx binary for its compiled --conf-path, the
// config a master started without -c reads.
func compiledNginxConf(ctx context.Context, exe string) string {
	const fallback = "/etc/nginx/nginx.conf"
	if exe == "" {
		return fallback
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exe, "-V").CombinedOutput()
	if err != nil {
		return fallback
	}
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "--conf-path="); ok {
			return v
		}
	}
	return fallback
}

func samePath(h host.Host, a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	if !h.Live() {
		return false
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}
