package checks_test

import (
	"os"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestScriptNotFoundChrootRealServers: the pool runs chrooted, nginx sends
// the script's path on its own filesystem; php-fpm answers 404 "File not
// found." and nginx logs "Primary script unknown". diagnose names both
// roots: nginx's root line and the pool's chroot line.
func TestScriptNotFoundChrootRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	if err := os.MkdirAll(l.Path("chroot"), 0o755); err != nil {
		t.Fatal(err)
	}
	pool := lab.DefaultPool + "chroot = {{DIR}}/chroot\n"
	l.Write("etc/php/fpm/pool.d/www.conf", pool)
	l.Start()
	if body := l.MustStatus("/ok.php", 404); !strings.Contains(body, "File not found.") {
		t.Fatalf("body %q, want php-fpm's File not found.", body)
	}
	l.WaitForLog("log/nginx-error.log", `FastCGI sent in stderr: "Primary script unknown"`, 1)

	r := diagnose(t, l)
	f := finding(t, r, "script-not-found", report.Error)
	if !strings.Contains(f.Title, "chrooted in "+l.Path("chroot")) || !strings.Contains(f.Title, l.Path("www")) {
		t.Fatalf("title %q", f.Title)
	}
	site := l.Path("etc/nginx/conf.d/site.conf")
	evidenceAt(t, f, site, lineOf(t, lab.DefaultSite, "root "))
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), lineOf(t, pool, "chroot ="))
	evidenceText(t, f, report.KindFact, l.Path("chroot")+l.Path("www")+" does not exist")
	evidenceText(t, f, report.KindLog, "Primary script unknown")
	if f.Logs == nil || f.Logs.Count < 1 {
		t.Fatalf("no log summary: %+v", f.Logs)
	}

	// The scripts made visible inside the chroot: the same request works
	// and the finding is gone. The logged lines stay in the window, but a
	// script php-fpm now sees no longer counts against it.
	if err := os.MkdirAll(l.Path("chroot")+l.Path("www"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(l.Path("www/ok.php"))
	if err := os.WriteFile(l.Path("chroot")+l.Path("www/ok.php"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	l.MustStatus("/ok.php", 200)
	r = diagnose(t, l)
	for _, f := range r.Findings {
		if f.Cause == "script-not-found" {
			t.Fatalf("script-not-found after the repair: %+v", f)
		}
	}
}

// TestScriptNotFoundIgnoresMissingScriptsRealServers: a request for a
// script that exists nowhere gets the same "Primary script unknown"; it is
// a bad URL, not a setup problem, and reports nothing.
func TestScriptNotFoundIgnoresMissingScriptsRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/no-such-script.php", 404)
	l.WaitForLog("log/nginx-error.log", `"Primary script unknown"`, 1)
	r := diagnose(t, l)
	for _, f := range r.Findings {
		if f.Cause == "script-not-found" {
			t.Fatalf("a missing script was reported: %+v", f)
		}
	}
	noErrors(t, r)
}
