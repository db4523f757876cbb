package fix_test

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/fix"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// TestFixListenMismatchRealServers: after a PHP upgrade nginx points at the
// old socket. The site file is a sites-enabled symlink: its target is
// edited, the link stays, mode and owner are kept.
func TestFixListenMismatchRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "run/php-fpm.sock", "run/php8.2-fpm.sock")
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/php7.4-fpm.sock")
	avail := l.Path("etc/nginx/sites-available/site.conf")
	if err := os.MkdirAll(l.Path("etc/nginx/sites-available"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(l.Path("etc/nginx/conf.d/site.conf"), avail); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../sites-available/site.conf", l.Path("etc/nginx/conf.d/site.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(avail, 0o640); err != nil {
		t.Fatal(err)
	}
	l.Start()
	l.MustStatus("/ok.php", 502)
	r, _ := plan(t, l)
	automatic(t, r, "listen-mismatch")

	p := mustFix(t, l, "listen-mismatch")
	l.MustStatus("/ok.php", 200)
	healthy(t, l)

	if fi, err := os.Lstat(l.Path("etc/nginx/conf.d/site.conf")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the sites-enabled link was replaced: %v %v", fi.Mode(), err)
	}
	fi, err := os.Stat(avail)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode not kept: %v %v", fi.Mode(), err)
	}
	fileHas(t, l, "etc/nginx/sites-available/site.conf", "fastcgi_pass unix:"+l.Path("run/php8.2-fpm.sock")+";")
	fileHas(t, l, "etc/nginx/sites-available/site.conf", "    location ~ \\.php$ {")
	if len(p.Files) != 1 || p.Files[0].Real != avail || !strings.Contains(p.Files[0].Diff, "+        fastcgi_pass unix:") {
		t.Fatalf("plan files: %+v", p.Files)
	}
}

// TestFixListenMismatchPoolSideRealServers: two sites name the same wrong
// socket and the pool serves no site: the pool's listen moves (one edit,
// nothing else breaks) and php-fpm is restarted.
func TestFixListenMismatchPoolSideRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	port2 := lab.FreePort(t)
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/php-fpm-old.sock")
	l.Write("etc/nginx/conf.d/second.conf", strings.NewReplacer("127.0.0.1:{{PORT}}", "127.0.0.1:"+itoa(port2), "lab.test", "second.test", "run/php-fpm.sock", "run/php-fpm-old.sock").Replace(lab.DefaultSite))
	l.Start()
	l.MustStatus("/ok.php", 502)

	p := mustFix(t, l, "listen-mismatch")
	if len(p.Files) != 1 || !strings.HasSuffix(p.Files[0].Path, "pool.d/www.conf") {
		t.Fatalf("expected one edit of the pool: %+v", p.Files)
	}
	l.MustStatus("/ok.php", 200)
	if c := get(t, port2, "second.test", "/ok.php"); c != 200 {
		t.Fatalf("second site: %d", c)
	}
	healthy(t, l)
}

// TestFixSocketPermissionRealServers: the pool sets no listen.owner/group,
// the socket is root:root 0660; fix inserts them and restarts php-fpm.
func TestFixSocketPermissionRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen.owner = www-data\nlisten.group = www-data\n", "")
	l.Start()
	l.MustStatus("/ok.php", 502)
	old := l.FPMPid()

	p := mustFix(t, l, "socket-permission")
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
	if l.FPMPid() == old {
		t.Fatal("php-fpm was not restarted")
	}
	if !strings.Contains(p.Files[0].Diff, "+listen.owner = www-data") {
		t.Fatalf("diff:\n%s", p.Files[0].Diff)
	}
}

// TestFixAllowedClientsRealServers: a TCP pool allows only another host.
func TestFixAllowedClientsRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	port := itoa(lab.FreePort(t))
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = {{DIR}}/run/php-fpm.sock", "listen = 127.0.0.1:"+port+"\nlisten.allowed_clients = 10.20.30.40")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass 127.0.0.1:"+port+";")
	l.Start()
	l.MustStatus("/ok.php", 502)

	mustFix(t, l, "allowed-clients")
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
	fileHas(t, l, "etc/php/fpm/pool.d/www.conf", "listen.allowed_clients = 10.20.30.40,127.0.0.1\n")
}

// TestFixFPMDownRealServers: php-fpm is not running; fix starts it.
func TestFixFPMDownRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.MustStartNginx()
	l.MustStatus("/ok.php", 502)

	p := mustFix(t, l, "fpm-down")
	if len(p.Files) != 0 {
		t.Fatalf("fpm-down edits files: %+v", p.Files)
	}
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
}

// TestFixStaleSocketRealServers: php-fpm killed with SIGKILL leaves its
// socket file; nginx gets "Connection refused": a real 502. fix starts
// php-fpm (one start, whether the finding is stale-socket or fpm-down),
// which binds the same path again: 200, and diagnose is clean.
func TestFixStaleSocketRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.KillFPM()
	if _, err := os.Stat(l.Path("run/php-fpm.sock")); err != nil {
		t.Fatalf("SIGKILL left no socket file: %v", err)
	}
	l.MustStatus("/ok.php", 502)
	r, _ := plan(t, l)
	automatic(t, r, "stale-socket")

	p := mustFix(t, l, "stale-socket")
	if len(p.Files) != 0 || len(p.Ops) != 1 || p.Ops[0].Kind != fix.FPMStart {
		t.Fatalf("plan: files %d ops %+v", len(p.Files), p.Ops)
	}
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
}

// TestFixStaleSocketVerificationFailsRealServers: the site does not answer
// after the start (injected): the php-fpm the run started is stopped
// again, and the site answers 502 as before.
func TestFixStaleSocketVerificationFailsRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.KillFPM()
	l.MustStatus("/ok.php", 502)
	opts := options(t)
	v := &failingVerify{Verifier: fix.Live{}}
	opts.Verifier, opts.Settle = v, 300e6
	opts.AfterWrite = func() error { v.armed.Store(true); return nil }
	_, res := fixLab(t, l, opts)
	rolledBack(t, res, "verification failed")
	if err := lab.WaitFor(func() bool { return l.FPMPid() == 0 || !processAlive(l.FPMPid()) }, 10e9); err != nil {
		t.Fatalf("the php-fpm the fix started still runs (pid %d)", l.FPMPid())
	}
	l.MustStatus("/ok.php", 502)
	noJournal(t, opts.StateDir)
}

func processAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// TestFixConfigNotAppliedRealServers: listen.owner was fixed on disk but
// php-fpm only reloaded; the inherited socket still denies nginx. fix
// restarts php-fpm.
func TestFixConfigNotAppliedRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen.owner = www-data\nlisten.group = www-data\n", "")
	l.Start()
	l.Edit("etc/php/fpm/pool.d/www.conf", "pm = dynamic", "listen.owner = www-data\nlisten.group = www-data\npm = dynamic")
	l.ReloadFPM()
	l.MustStatus("/ok.php", 502)
	before := l.ConfigSums()

	p := mustFix(t, l, "config-not-applied")
	if len(p.Files) != 0 {
		t.Fatalf("config-not-applied edits files: %+v", p.Files)
	}
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
	sameSums(t, before, l.ConfigSums())
}

// TestFixFPMConfigInvalidRealServers: pm.max_children = 0, php-fpm cannot
// start. fix sets the smallest valid value and starts php-fpm.
func TestFixFPMConfigInvalidRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "pm.max_children = 5", "pm.max_children = 0 ; tuned")
	if err := l.StartFPM(); err == nil {
		t.Fatal("php-fpm started with pm.max_children = 0")
	}
	l.MustStartNginx()
	l.MustStatus("/ok.php", 502)

	mustFix(t, l, "fpm-config-invalid")
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
	fileHas(t, l, "etc/php/fpm/pool.d/www.conf", "pm.max_children = 5 ; tuned\n")
}

// TestFixFPMConfigInvalidStartServersRealServers: pm.start_servers out of
// range while php-fpm runs: clamped, php-fpm reloaded.
func TestFixFPMConfigInvalidStartServersRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.Edit("etc/php/fpm/pool.d/www.conf", "pm.start_servers = 2", "pm.start_servers = 9")
	l.MustStatus("/ok.php", 200)

	mustFix(t, l, "fpm-config-invalid")
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
	fileHas(t, l, "etc/php/fpm/pool.d/www.conf", "pm.start_servers = 3\n")
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestFixDeadUpstreamServerRealServers: an upstream of a dead TCP server
// and the lab's pool; every request gets 200. Pointing the dead server at
// pool www would list the pool twice: the finding stays manual (remove
// the line by hand) and the plan changes no file.
func TestFixDeadUpstreamServerRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.WriteFailoverUpstream()
	l.Start()
	l.MustStatus("/ok.php", 200)
	_, p := plan(t, l)
	if len(p.Files) != 0 || len(p.Actions) != 0 {
		t.Fatalf("plan changes %d files: %+v", len(p.Files), p.Actions)
	}
	for _, m := range p.Manual {
		if m.Finding.Cause == "listen-mismatch" && strings.Contains(m.Reason, "pool www is already a server of upstream php") {
			return
		}
	}
	t.Fatalf("the dead server is not left to a person: %+v", p.Manual)
}
