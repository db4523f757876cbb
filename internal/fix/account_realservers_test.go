package fix_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/fix"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// missingUserLab: the pool runs as a user that does not exist (a name
// unique to the test); php-fpm refuses its config and does not start;
// nginx answers a real 502. The document root belongs to www-data.
func missingUserLab(t *testing.T) (*lab.Lab, string) {
	t.Helper()
	if _, err := exec.LookPath("useradd"); err != nil {
		lab.Unavailable(t, "useradd (package passwd) is missing")
	}
	l := lab.New(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "fpmdt" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if _, err := user.Lookup(name); err == nil {
			_ = exec.Command("userdel", name).Run()
		}
	})
	www, _ := user.Lookup("www-data")
	if www == nil {
		lab.Unavailable(t, "no www-data user")
	}
	if err := exec.Command("chown", "www-data:www-data", l.Path("www")).Run(); err != nil {
		t.Fatal(err)
	}
	l.Edit("etc/php/fpm/pool.d/www.conf", "user = www-data", "user = "+name)
	if err := l.StartFPM(); err == nil {
		t.Fatal("php-fpm started with a user that does not exist")
	}
	l.MustStartNginx()
	l.MustStatus("/ok.php", 502)
	return l, name
}

func planChoose(t *testing.T, l *lab.Lab, choose string) *fix.Plan {
	t.Helper()
	r, s, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fix.MakeWith(s, r, fix.MakeOptions{Choose: choose})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fix.WritePlan(&b, p)
	t.Logf("plan (--choose %q):\n%s", choose, b.String())
	return p
}

// TestFixMissingUserNoGuessRealServers: without --choose (as under --yes)
// nothing is guessed: the finding is manual and lists both choices, and
// the plan changes no file and creates no account.
func TestFixMissingUserNoGuessRealServers(t *testing.T) {
	t.Parallel()
	l, name := missingUserLab(t)
	p := planChoose(t, l, "")
	var m *fix.Manual
	for i := range p.Manual {
		if p.Manual[i].Finding.Cause == "fpm-config-invalid" {
			m = &p.Manual[i]
		}
	}
	if m == nil {
		t.Fatal("the missing user is not listed as manual")
	}
	for _, want := range []string{"does not guess", "1) set user = www-data in pool www: the owner of " + l.Path("www"), "2) create the system user " + name + ": useradd --system --no-create-home --shell /usr/sbin/nologin " + name, "user=NAME"} {
		if !strings.Contains(m.Reason, want) {
			t.Fatalf("manual reason lacks %q:\n%s", want, m.Reason)
		}
	}
	if len(p.Files) != 0 || len(p.Accounts) != 0 {
		t.Fatalf("plan changes files %d, accounts %+v", len(p.Files), p.Accounts)
	}
}

// TestFixMissingUserChooseOwnerRealServers: --choose 1 sets user = the
// document root's owner; php-fpm -t passes, php-fpm starts: 200, clean.
// When the pool's group does not exist either (a pool file from another
// host), choice 1 sets both user and group to the owner's (setting the
// user alone failed php-fpm -t on the group and rolled back).
func TestFixMissingUserChooseOwnerRealServers(t *testing.T) {
	for _, withGroup := range []bool{false, true} {
		t.Run(map[bool]string{false: "user", true: "user and group"}[withGroup], func(t *testing.T) {
			t.Parallel()
			newLab := missingUserLab
			if withGroup {
				newLab = missingUserAndGroupLab
			}
			l, name := newLab(t)
			p := planChoose(t, l, "1")
			res, err := fix.Apply(context.Background(), p, options(t))
			if err != nil || !res.Fixed {
				t.Fatalf("apply: %v %+v", err, res)
			}
			fileHas(t, l, "etc/php/fpm/pool.d/www.conf", "user = www-data\n")
			fileHas(t, l, "etc/php/fpm/pool.d/www.conf", "group = www-data\n")
			l.MustStatus("/ok.php", 200)
			healthy(t, l)
			if _, err := user.Lookup(name); err == nil {
				t.Fatalf("choice 1 created user %s", name)
			}
			if _, err := user.LookupGroup(name); err == nil {
				t.Fatalf("choice 1 created group %s", name)
			}
		})
	}
}

// TestFixMissingUserChooseNewRealServers: --choose 2 creates the system
// user under the name the pool uses (no file changes): 200, clean; the
// user has no home and no login shell.
func TestFixMissingUserChooseNewRealServers(t *testing.T) {
	t.Parallel()
	l, name := missingUserLab(t)
	before := l.ConfigSums()
	p := planChoose(t, l, "2")
	res, err := fix.Apply(context.Background(), p, options(t))
	if err != nil || !res.Fixed {
		t.Fatalf("apply: %v %+v", err, res)
	}
	sameSums(t, before, l.ConfigSums())
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("%s not created: %v", name, err)
	}
	out, _ := exec.Command("getent", "passwd", name).Output()
	if !strings.HasSuffix(strings.TrimSpace(string(out)), ":/usr/sbin/nologin") {
		t.Fatalf("passwd entry: %s", out)
	}
	if _, err := os.Stat(u.HomeDir); err == nil && u.HomeDir != "/" && u.HomeDir != "/nonexistent" {
		t.Fatalf("a home directory was created: %s", u.HomeDir)
	}
}

// TestFixMissingUserRollbackRealServers: --choose 2, then the
// verification fails (injected): php-fpm the run started is stopped and
// the user it created is removed again.
func TestFixMissingUserRollbackRealServers(t *testing.T) {
	t.Parallel()
	l, name := missingUserLab(t)
	p := planChoose(t, l, "2")
	opts := applyFailingVerification(t, p)
	if _, err := user.Lookup(name); err == nil {
		t.Fatalf("%s still exists after the rollback", name)
	}
	noJournal(t, opts.StateDir)
	l.MustStatus("/ok.php", 502)
	for _, f := range mustDiagnose(t, l).Findings {
		if f.Cause == "fpm-config-invalid" && strings.Contains(f.Title, name) {
			return
		}
	}
	t.Fatal("after the rollback the pool's user is not missing again")
}

func mustDiagnose(t *testing.T, l *lab.Lab) *report.Report {
	t.Helper()
	r, _ := plan(t, l)
	return r
}

// missingUserAndGroupLab: the pool names a user and a group that both do
// not exist (a pool file copied from another host); php-fpm reports the
// user first.
func missingUserAndGroupLab(t *testing.T) (*lab.Lab, string) {
	t.Helper()
	l, name := missingUserLab(t)
	t.Cleanup(func() {
		if _, err := user.LookupGroup(name); err == nil {
			_ = exec.Command("groupdel", name).Run()
		}
	})
	l.Edit("etc/php/fpm/pool.d/www.conf", "group = www-data", "group = "+name)
	return l, name
}

// TestFixMissingUserAndGroupChooseNewRealServers: choice 2 creates the
// group, then the user in it; the rollback (injected failed
// verification) removes both, and the next run with a working
// verification leaves both: 200, clean.
func TestFixMissingUserAndGroupChooseNewRealServers(t *testing.T) {
	t.Parallel()
	l, name := missingUserAndGroupLab(t)
	p := planChoose(t, l, "2")
	if cmds := strings.Join(p.Commands(), "\n"); !strings.Contains(cmds, "groupadd --system "+name) || !strings.Contains(cmds, "--gid "+name+" "+name) {
		t.Fatalf("commands:\n%s", cmds)
	}
	noJournal(t, applyFailingVerification(t, p).StateDir)
	if _, err := user.Lookup(name); err == nil {
		t.Fatalf("user %s still exists after the rollback", name)
	}
	if _, err := user.LookupGroup(name); err == nil {
		t.Fatalf("group %s still exists after the rollback", name)
	}
	l.MustStatus("/ok.php", 502)

	p = planChoose(t, l, "2")
	res, err := fix.Apply(context.Background(), p, options(t))
	if err != nil || !res.Fixed {
		t.Fatalf("apply: %v %+v", err, res)
	}
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil || g.Name != name {
		t.Fatalf("user %s's group: %v %v", name, g, err)
	}
}

// applyFailingVerification applies p with a verification that fails
// once everything is applied, and checks that the run rolled back.
func applyFailingVerification(t *testing.T, p *fix.Plan) fix.Options {
	t.Helper()
	opts := options(t)
	v := &failingVerify{Verifier: fix.Live{}}
	opts.Verifier, opts.Settle = v, 300e6
	opts.AfterWrite = func() error { v.armed.Store(true); return nil }
	res, err := fix.Apply(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	rolledBack(t, res, "verification failed")
	return opts
}
