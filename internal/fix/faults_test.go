package fix_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/fix"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// brokenSiteLab is a lab with two sites on one pool: lab.test points at a
// socket that does not exist (502), good.test is healthy (200). After a
// failed fix both must answer as before.
func brokenSiteLab(t *testing.T) (*lab.Lab, int) {
	t.Helper()
	l := lab.New(t)
	port2 := lab.FreePort(t)
	l.Write("etc/nginx/conf.d/good.conf", strings.NewReplacer("127.0.0.1:{{PORT}}", "127.0.0.1:"+itoa(port2), "lab.test", "good.test").Replace(lab.DefaultSite))
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/php-fmp.sock")
	l.Start()
	asBefore(t, l, port2)
	return l, port2
}

func asBefore(t *testing.T, l *lab.Lab, port2 int) {
	t.Helper()
	l.MustStatus("/ok.php", 502)
	if c := get(t, port2, "good.test", "/ok.php"); c != 200 {
		t.Fatalf("good.test answers %d, want 200", c)
	}
}

// rolledBack asserts a failed, fully restored run.
func rolledBack(t *testing.T, res *fix.Result, want string) {
	t.Helper()
	if res.Fixed || !res.RolledBack || !res.Restored {
		t.Fatalf("want a complete rollback, got %+v", res)
	}
	if !strings.Contains(res.Err.Error(), want) {
		t.Fatalf("error %q does not say %q", res.Err, want)
	}
}

func noJournal(t *testing.T, dir string) {
	t.Helper()
	if _, err := os.Stat(dir + "/fix-journal.json"); !os.IsNotExist(err) {
		t.Fatalf("journal left behind: %v", err)
	}
}

// TestFaultConfigTestFailsRealServers: something else breaks nginx's
// config between the write and the test (here an extra file); nginx -t
// fails, nothing is reloaded, every file is restored.
func TestFaultConfigTestFailsRealServers(t *testing.T) {
	t.Parallel()
	l, port2 := brokenSiteLab(t)
	before := l.ConfigSums()
	pid := l.NginxPid()
	opts := options(t)
	broken := l.Path("etc/nginx/conf.d/zz-broken.conf")
	opts.AfterWrite = func() error { return os.WriteFile(broken, []byte("this is not nginx\n"), 0o644) }

	_, res := fixLab(t, l, opts)
	rolledBack(t, res, "config test failed")
	os.Remove(broken)
	sameSums(t, before, l.ConfigSums())
	noJournal(t, opts.StateDir)
	if l.NginxPid() != pid {
		t.Fatal("nginx was restarted")
	}
	asBefore(t, l, port2)
}

// failingReload refuses the first reload, as a service manager might.
type failingReload struct {
	fix.Controller
	failed atomic.Bool
}

func (f *failingReload) Reload(ctx context.Context, s *fix.Service) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("injected: reload refused")
	}
	return f.Controller.Reload(ctx, s)
}

// TestFaultReloadFailsRealServers: the reload fails; files are restored
// and nginx is reloaded onto them.
func TestFaultReloadFailsRealServers(t *testing.T) {
	t.Parallel()
	l, port2 := brokenSiteLab(t)
	before := l.ConfigSums()
	opts := options(t)
	opts.Controller = &failingReload{Controller: fix.Signals{}}

	_, res := fixLab(t, l, opts)
	rolledBack(t, res, "injected: reload refused")
	sameSums(t, before, l.ConfigSums())
	noJournal(t, opts.StateDir)
	asBefore(t, l, port2)
}

// failingVerify fails every check once armed (after the baseline).
type failingVerify struct {
	fix.Verifier
	armed atomic.Bool
}

func (f *failingVerify) Verify(ctx context.Context, c fix.Check) fix.Verdict {
	if f.armed.Load() {
		return fix.Verdict{Detail: "injected: site still answers 502"}
	}
	return f.Verifier.Verify(ctx, c)
}

// TestFaultVerificationFailsRealServers: the site does not answer after
// the reload; files are restored and nginx reloaded back.
func TestFaultVerificationFailsRealServers(t *testing.T) {
	t.Parallel()
	l, port2 := brokenSiteLab(t)
	before := l.ConfigSums()
	opts := options(t)
	v := &failingVerify{Verifier: fix.Live{}}
	opts.Verifier = v
	opts.Settle = 300e6
	opts.AfterWrite = func() error { v.armed.Store(true); return nil }

	_, res := fixLab(t, l, opts)
	rolledBack(t, res, "verification failed")
	sameSums(t, before, l.ConfigSums())
	noJournal(t, opts.StateDir)
	asBefore(t, l, port2)
}

// TestFaultVerificationFailsAfterRestartRealServers: a php-fpm restart is
// rolled back by restarting php-fpm on the restored files, with the
// command it ran with: it runs again, and the socket is as it was.
func TestFaultVerificationFailsAfterRestartRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen.owner = www-data\nlisten.group = www-data\n", "")
	l.Start()
	l.MustStatus("/ok.php", 502)
	before := l.ConfigSums()
	opts := options(t)
	v := &failingVerify{Verifier: fix.Live{}}
	opts.Verifier = v
	opts.Settle = 300e6
	opts.AfterWrite = func() error { v.armed.Store(true); return nil }

	_, res := fixLab(t, l, opts)
	rolledBack(t, res, "verification failed")
	sameSums(t, before, l.ConfigSums())
	if l.FPMPid() == 0 {
		t.Fatal("php-fpm does not run after the rollback")
	}
	l.MustStatus("/ok.php", 502) // root:root socket again, as before
	noJournal(t, opts.StateDir)
}

// TestFaultKilledBetweenWriteAndReloadRealServers: the run dies after
// writing; the journal stays. diagnose warns, a new fix refuses to plan
// over it, and recovery restores every file.
func TestFaultKilledBetweenWriteAndReloadRealServers(t *testing.T) {
	t.Parallel()
	l, port2 := brokenSiteLab(t)
	before := l.ConfigSums()
	opts := options(t)
	opts.AfterWrite = func() error { return fix.ErrInterrupted }

	_, p := plan(t, l)
	if _, err := fix.Apply(context.Background(), p, opts); !errors.Is(err, fix.ErrInterrupted) {
		t.Fatalf("want the simulated kill, got %v", err)
	}
	changed := l.ConfigSums()
	if changed[l.Path("etc/nginx/conf.d/site.conf")] == before[l.Path("etc/nginx/conf.d/site.conf")] {
		t.Fatal("the file was not written before the kill")
	}
	if _, err := os.Stat(opts.StateDir + "/fix-journal.json"); err != nil {
		t.Fatalf("no journal after the kill: %v", err)
	}

	// The next run: a plan cannot be applied over the journal.
	opts.AfterWrite = nil
	_, p2 := plan(t, l)
	if _, err := fix.Apply(context.Background(), p2, opts); !errors.Is(err, fix.ErrLeftover) {
		t.Fatalf("want ErrLeftover, got %v", err)
	}
	j, err := fix.Recover(context.Background(), opts)
	if err != nil || j == nil {
		t.Fatalf("recover: %v %v", j, err)
	}
	sameSums(t, before, l.ConfigSums())
	noJournal(t, opts.StateDir)
	asBefore(t, l, port2)
}

// TestFaultFileChangedSincePlanRealServers: someone edits the file after
// the plan was made; apply refuses and writes nothing.
func TestFaultFileChangedSincePlanRealServers(t *testing.T) {
	t.Parallel()
	l, _ := brokenSiteLab(t)
	_, p := plan(t, l)
	l.Edit("etc/nginx/conf.d/site.conf", "index index.php;", "index index.php index.html;")
	before := l.ConfigSums()
	opts := options(t)
	if _, err := fix.Apply(context.Background(), p, opts); !errors.Is(err, fix.ErrChanged) {
		t.Fatalf("want ErrChanged, got %v", err)
	}
	sameSums(t, before, l.ConfigSums())
	noJournal(t, opts.StateDir)
}

// TestDryRunChangesNothingRealServers: planning and showing the plan
// (what --dry-run does) leaves every config file as it was.
func TestDryRunChangesNothingRealServers(t *testing.T) {
	t.Parallel()
	l, port2 := brokenSiteLab(t)
	before := l.ConfigSums()
	_, p := plan(t, l)
	var b strings.Builder
	fix.WritePlan(&b, p)
	if !strings.Contains(b.String(), "+        fastcgi_pass unix:"+l.Path("run/php-fpm.sock")) {
		t.Fatalf("plan:\n%s", b.String())
	}
	sameSums(t, before, l.ConfigSums())
	asBefore(t, l, port2)
}

// TestDiagnoseWarnsAboutInterruptedFixRealServers: a journal left by a
// killed run shows in diagnose as a warning with the backups, and fix
// --rollback's Recover clears it. (Not parallel: it sets the state
// directory through the environment, as a user would.)
func TestDiagnoseWarnsAboutInterruptedFixRealServers(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FPMDOCTOR_STATE_DIR", dir)
	l, _ := brokenSiteLab(t)
	before := l.ConfigSums()
	opts := options(t)
	opts.StateDir = dir
	opts.AfterWrite = func() error { return fix.ErrInterrupted }
	_, p := plan(t, l)
	if _, err := fix.Apply(context.Background(), p, opts); !errors.Is(err, fix.ErrInterrupted) {
		t.Fatalf("want the simulated kill, got %v", err)
	}
	r, _ := plan(t, l)
	found := false
	for _, f := range r.Findings {
		if f.ID == "fix-interrupted" && f.Severity == "warning" && f.Fix != nil && f.Fix.Automatic {
			found = true
		}
	}
	if !found {
		t.Fatalf("no fix-interrupted warning: %+v", r.Findings)
	}
	if _, err := fix.Recover(context.Background(), fix.Options{}); err != nil {
		t.Fatal(err)
	}
	sameSums(t, before, l.ConfigSums())
}
