package fix_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestFixNotFastCGIRealServers: fastcgi_pass names nginx's own HTTP
// listener; the pool listens on another port. fix points fastcgi_pass at
// the pool, reloads nginx, and the site answers 200; the HTTP listener is
// left as it was.
func TestFixNotFastCGIRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	httpPort, fpmPort := l.WritePassToOwnHTTPListener()
	l.Start()
	l.MustStatus("/ok.php", 502)
	r, _ := plan(t, l)
	automatic(t, r, "not-fastcgi")

	mustFix(t, l, "not-fastcgi")
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
	fileHas(t, l, "etc/nginx/conf.d/site.conf", fmt.Sprintf("fastcgi_pass 127.0.0.1:%d;", fpmPort))
	fileHas(t, l, "etc/nginx/conf.d/site.conf", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort))

	// The 502 stays in the window: it is told as the past (info), not
	// left unexplained under "No problems found", and fix lists nothing.
	r, p := plan(t, l)
	var past *report.Finding
	for i := range r.Findings {
		if r.Findings[i].Cause == "not-fastcgi" {
			past = &r.Findings[i]
		}
	}
	if past == nil || past.ID != "not-fastcgi-past" || past.Severity != report.Info || past.Logs == nil || past.Logs.Count != 1 || !strings.Contains(past.Title, "earlier in the window: 1 failure") {
		t.Fatalf("after the fix: %+v", past)
	}
	if len(p.Actions) != 0 || len(p.Manual) != 0 {
		t.Fatalf("fix plans for the past: %+v %+v", p.Actions, p.Manual)
	}
}
