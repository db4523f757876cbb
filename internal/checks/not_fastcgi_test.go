package checks_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestNotFastCGIOwnHTTPListenerRealServers: fastcgi_pass aims at nginx's
// own second HTTP listener. Every PHP request gets 502 and nginx logs
// "upstream sent unsupported FastCGI protocol version: 72"; diagnose
// names nginx's master as the owner of the port, with its listen line,
// and the pool that was meant.
func TestNotFastCGIOwnHTTPListenerRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	httpPort, fpmPort := l.WritePassToOwnHTTPListener()
	l.Start()
	l.MustStatus("/ok.php", 502)
	l.WaitForLog("log/nginx-error.log", "upstream sent unsupported FastCGI protocol version: 72", 1)

	r := diagnose(t, l)
	first(t, r, "not-fastcgi")
	f := finding(t, r, "not-fastcgi", report.Error)
	if !strings.Contains(f.Title, "nginx's own HTTP listener") || !strings.Contains(f.Title, fmt.Sprintf("did you mean 127.0.0.1:%d", fpmPort)) {
		t.Fatalf("title %q", f.Title)
	}
	conf := l.Path("etc/nginx/conf.d/site.conf")
	written, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	evidenceAt(t, f, conf, lineOf(t, string(written), "fastcgi_pass"))
	listen := evidenceAt(t, f, conf, lineOf(t, string(written), fmt.Sprintf("listen 127.0.0.1:%d;", httpPort))) // the status server's listen line
	if want := fmt.Sprintf("nginx master %d listens on 127.0.0.1:%d", l.NginxPid(), httpPort); !strings.Contains(listen.Text, want) {
		t.Fatalf("owner evidence %q, want %q", listen.Text, want)
	}
	evidenceText(t, f, report.KindFact, `answered "HTTP/1.1"`)
	evidenceText(t, f, report.KindLog, "unsupported FastCGI protocol version: 72")
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), lineOf(t, lab.DefaultPool, "listen ="))
	for _, o := range r.Findings {
		if o.Cause == "listen-mismatch" {
			t.Fatalf("listen-mismatch reported beside not-fastcgi: %+v", o)
		}
	}
}
