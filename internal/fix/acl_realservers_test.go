package fix_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/fix"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// privateSocketLab puts the pool's socket in run/private, a root-owned
// 0700 directory nginx's worker (www-data) cannot search: connect() gets
// EACCES, nginx a real 502.
func privateSocketLab(t *testing.T) *lab.Lab {
	t.Helper()
	l := lab.New(t)
	if err := os.Mkdir(l.Path("run/private"), 0o700); err != nil {
		t.Fatal(err)
	}
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = {{DIR}}/run/php-fpm.sock", "listen = {{DIR}}/run/private/php-fpm.sock")
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/private/php-fpm.sock")
	return l
}

func getfacl(t *testing.T, path string) string {
	t.Helper()
	out, err := exec.Command("getfacl", "-n", "-p", path).CombinedOutput()
	if err != nil {
		lab.Unavailable(t, "getfacl (package acl): "+err.Error())
	}
	return string(out)
}

// TestFixSocketDirACLRealServers: fix grants www-data search on that one
// directory with a named ACL entry (no mode bit for anyone else), without
// reloading anything: 200, diagnose clean, getfacl shows user:33:--x.
func TestFixSocketDirACLRealServers(t *testing.T) {
	t.Parallel()
	l := privateSocketLab(t)
	l.Start()
	l.MustStatus("/ok.php", 502)
	r, _ := plan(t, l)
	automatic(t, r, "socket-permission")

	p := mustFix(t, l, "socket-permission")
	if len(p.Grants) != 1 || p.Grants[0].Dir != l.Path("run/private") || len(p.Ops) != 0 || len(p.Files) != 0 {
		t.Fatalf("plan: grants %+v ops %+v files %d", p.Grants, p.Ops, len(p.Files))
	}
	if cmds := strings.Join(p.Commands(), "\n"); !strings.Contains(cmds, "setfacl -m u:www-data:x "+l.Path("run/private")) {
		t.Fatalf("commands:\n%s", cmds)
	}
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
	acl := getfacl(t, l.Path("run/private"))
	if !strings.Contains(acl, "user:33:--x") || !strings.Contains(acl, "other::---") {
		t.Fatalf("ACL:\n%s", acl)
	}
	// The past story counts the user's one 502, not the one fix's own
	// check request got before the grant (its line is in nginx's log).
	l.WaitForLog("log/nginx-error.log", "/fpmdoctor-check-", 1)
	r, _ = plan(t, l)
	past := 0
	for _, f := range r.Findings {
		if f.Cause != "socket-permission" {
			continue
		}
		past++
		if f.Logs == nil || f.Logs.Count != 1 || len(f.Logs.TopURLs) != 1 || f.Logs.TopURLs[0].URL != "/ok.php" {
			t.Fatalf("after the fix [%s] counts %+v, want the one 502 of /ok.php", f.ID, f.Logs)
		}
	}
	if past != 1 {
		t.Fatalf("%d socket-permission findings after the fix, want the one past story", past)
	}
}

// TestFixSocketDirACLRollbackRealServers: the directory already has an
// ACL (u:nobody:rx); the verification fails (injected after the grant):
// the rollback puts back the exact ACL and mode (getfacl and stat as
// before) and the site answers 502 as before.
func TestFixSocketDirACLRollbackRealServers(t *testing.T) {
	t.Parallel()
	l := privateSocketLab(t)
	if out, err := exec.Command("setfacl", "-m", "u:65534:rx", l.Path("run/private")).CombinedOutput(); err != nil {
		lab.Unavailable(t, "setfacl (package acl): "+err.Error()+" "+string(out))
	}
	l.Start()
	l.MustStatus("/ok.php", 502)
	beforeACL := getfacl(t, l.Path("run/private"))
	st, _ := os.Stat(l.Path("run/private"))
	opts := options(t)
	v := &failingVerify{Verifier: fix.Live{}}
	opts.Verifier, opts.Settle = v, 300e6
	opts.AfterWrite = func() error {
		if a := getfacl(t, l.Path("run/private")); !strings.Contains(a, "user:33:--x") {
			t.Errorf("the grant is not in place before verification:\n%s", a)
		}
		v.armed.Store(true)
		return nil
	}
	_, res := fixLab(t, l, opts)
	rolledBack(t, res, "verification failed")
	noJournal(t, opts.StateDir)
	if after := getfacl(t, l.Path("run/private")); after != beforeACL {
		t.Fatalf("ACL after the rollback:\n%s\nbefore:\n%s", after, beforeACL)
	}
	if st2, _ := os.Stat(l.Path("run/private")); st2.Mode() != st.Mode() {
		t.Fatalf("mode after the rollback %v, before %v", st2.Mode(), st.Mode())
	}
	l.MustStatus("/ok.php", 502)
}

// TestFixSocketDirACLKilledRealServers: a run killed after the grant
// leaves its journal; Recover removes the grant (the directory had no
// ACL: none again, mode 0700).
func TestFixSocketDirACLKilledRealServers(t *testing.T) {
	t.Parallel()
	l := privateSocketLab(t)
	l.Start()
	l.MustStatus("/ok.php", 502)
	opts := options(t)
	opts.AfterWrite = func() error { return fix.ErrInterrupted }
	_, p := plan(t, l)
	if _, err := fix.Apply(context.Background(), p, opts); err != fix.ErrInterrupted {
		t.Fatalf("apply: %v", err)
	}
	if a := getfacl(t, l.Path("run/private")); !strings.Contains(a, "user:33:--x") {
		t.Fatalf("no grant before recovery:\n%s", a)
	}
	if _, err := fix.Recover(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	a := getfacl(t, l.Path("run/private"))
	st, _ := os.Stat(l.Path("run/private"))
	if strings.Contains(a, "user:33") || strings.Contains(a, "mask::") || st.Mode().Perm() != 0o700 {
		t.Fatalf("after recovery: mode %v\n%s", st.Mode(), a)
	}
	l.MustStatus("/ok.php", 502)
}

// TestFixSocketDirACLNestedRealServers: two directories on the way deny
// search (run/private and run/private/inner, both 0700 root): both get
// the entry in one run, and the site answers.
func TestFixSocketDirACLNestedRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	for _, d := range []string{"run/private", "run/private/inner"} {
		if err := os.Mkdir(l.Path(d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = {{DIR}}/run/php-fpm.sock", "listen = {{DIR}}/run/private/inner/php-fpm.sock")
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/private/inner/php-fpm.sock")
	l.Start()
	l.MustStatus("/ok.php", 502)

	p := mustFix(t, l, "socket-permission")
	if len(p.Grants) != 2 || p.Grants[0].Dir != l.Path("run/private") || p.Grants[1].Dir != l.Path("run/private/inner") {
		t.Fatalf("grants: %+v", p.Grants)
	}
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
}
