package fix_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/fix"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// pastStory asserts diagnose tells cause's logged failures as one
// history finding (id, info, "earlier in the window"), with the lines as
// evidence, no error of the cause, and that fix does not list it.
func pastStory(t *testing.T, l *lab.Lab, cause, logText string) report.Finding {
	t.Helper()
	r, p := plan(t, l)
	var past []report.Finding
	for _, f := range r.Findings {
		t.Logf("after: [%s] %s %s: %s", f.ID, f.Severity, f.Title, f.Detail)
		if f.Cause != cause {
			continue
		}
		if f.Severity != report.Info || f.ID != cause+"-past" || !strings.Contains(f.Title, "earlier in the window") {
			t.Fatalf("after the repair [%s] %s: %s", f.ID, f.Severity, f.Title)
		}
		past = append(past, f)
	}
	if len(past) != 1 || past[0].Logs == nil || past[0].Logs.Count == 0 || past[0].Fix != nil {
		t.Fatalf("want one %s-past with its lines and no fix, got %+v", cause, past)
	}
	quoted := false
	for _, e := range past[0].Evidence {
		quoted = quoted || (e.Kind == report.KindLog && strings.Contains(e.Text, logText))
	}
	if !quoted {
		t.Fatalf("%s-past does not quote %q: %+v", cause, logText, past[0].Evidence)
	}
	for _, m := range p.Manual {
		if m.Finding.Cause == cause {
			t.Fatalf("fix lists the history under not fixed automatically: %s", m.Reason)
		}
	}
	return past[0]
}

// TestDiagnoseAfterRequestTimeoutFixRealServers: php-fpm kills a 2 s
// request after 1 s (502); fix raises request_terminate_timeout to 5s
// and reloads php-fpm. A following diagnose tells the kill as history
// (info, not fixed again): php-fpm (re)loaded its config after the last
// kill and now lets requests run 5 s, longer than the killed one ran.
// A new kill after the reload (a 6 s request) is current again.
func TestDiagnoseAfterRequestTimeoutFixRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes", "catch_workers_output = yes\nrequest_terminate_timeout = 1s")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 5s;\n        fastcgi_pass")
	l.Start()
	l.MustStatus("/sleep.php?s=2", 502)
	l.WaitForLog("log/php-fpm.log", "execution timed out", 1)
	mustFix(t, l, "request-timeout")
	l.MustStatus("/sleep.php?s=2", 200)

	f := pastStory(t, l, "request-timeout", "execution timed out")
	if !strings.Contains(f.Detail, "request_terminate_timeout") {
		t.Fatalf("detail does not say why it is over: %s", f.Detail)
	}

	// php-fpm kills at 5 s now, when nginx stops waiting too (which of
	// the two answers first is a race): a 6 s request is killed after
	// the reload, so the kills are current again.
	b, err := os.ReadFile(l.Path("log/php-fpm.log"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.GetTimeout("/sleep.php?s=6", 15*time.Second); err != nil {
		t.Fatal(err)
	}
	l.WaitForLog("log/php-fpm.log", "execution timed out", strings.Count(string(b), "execution timed out")+1)
	r, _ := plan(t, l)
	for _, f := range r.Findings {
		if f.Cause == "request-timeout" && strings.HasSuffix(f.ID, "-past") {
			t.Fatalf("a kill after the reload is told as history: %s", f.Title)
		}
	}
}

var _ = fix.Conclude
