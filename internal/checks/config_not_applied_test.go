package checks_test

import (
	"os"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestConfigNotAppliedReloadKeepsSocketRealServers: the socket permission
// is fixed in the pool file but php-fpm is only reloaded; the inherited
// socket keeps root:root and nginx still gets 502.
func TestConfigNotAppliedReloadKeepsSocketRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen.owner = www-data\nlisten.group = www-data\n", "")
	l.Start()
	l.MustStatus("/ok.php", 502)
	l.Edit("etc/php/fpm/pool.d/www.conf", "pm = dynamic", "listen.owner = www-data\nlisten.group = www-data\npm = dynamic")
	l.ReloadFPM()
	l.MustStatus("/ok.php", 502)

	r := diagnose(t, l)
	first(t, r, "config-not-applied")
	f := finding(t, r, "config-not-applied", report.Error)
	evidenceText(t, f, report.KindFact, l.Path("run/php-fpm.sock")+" is 0660 root:root now")
	evidenceText(t, f, report.KindFact, "the pool's settings give 0660 www-data:www-data")
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), 5) // the re-inserted listen.owner
	for _, other := range r.Findings {
		if other.Cause == "socket-permission" {
			t.Fatalf("socket-permission reported: the cause is the missing restart\n%s", dump(r))
		}
	}
}

// TestConfigNotAppliedNewerFileRealServers: a pool file changed after
// php-fpm started and was never applied.
func TestConfigNotAppliedNewerFileRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/ok.php", 200)
	pool := l.Path("etc/php/fpm/pool.d/www.conf")
	later := time.Now().Add(10 * time.Second) // past the start-time rounding
	if err := os.Chtimes(pool, later, later); err != nil {
		t.Fatal(err)
	}
	r := diagnose(t, l)
	f := finding(t, r, "config-not-applied", report.Warning)
	evidenceAt(t, f, pool, 0)
	noErrors(t, r)
}

// TestConfigAppliedByReloadRealServers: files changed, then both servers
// were reloaded (same master pids: php-fpm runs as systemd runs it, not
// daemonized): nothing is left unapplied, so no config-not-applied warning,
// although the masters started before the edit.
func TestConfigAppliedByReloadRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.StartFPMForeground()
	l.MustStartNginx()
	fpm, nginx := l.FPMPid(), l.NginxPid()
	later := time.Now().Add(2 * time.Second)
	for _, f := range []string{"etc/php/fpm/pool.d/www.conf", "etc/nginx/conf.d/site.conf"} {
		if err := os.Chtimes(l.Path(f), later, later); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second) // past the edit, and past start-time rounding
	l.ReloadFPM()
	l.ReloadNginx()
	l.MustStatus("/ok.php", 200)
	if l.FPMPid() != fpm || l.NginxPid() != nginx {
		t.Fatalf("a reload replaced a master (php-fpm %d -> %d, nginx %d -> %d): the test is about reloads in place", fpm, l.FPMPid(), nginx, l.NginxPid())
	}
	r := diagnose(t, l)
	for _, f := range r.Findings {
		if f.Cause == "config-not-applied" {
			t.Fatalf("config-not-applied after a reload applied the files\n%s", dump(r))
		}
	}
}
