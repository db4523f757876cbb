package checks_test

import (
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestStaleSocketRealServers: php-fpm is killed with SIGKILL (as the OOM
// killer does); its socket file stays and nginx gets connection refused.
func TestStaleSocketRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/ok.php", 200)
	l.KillFPM()
	l.MustStatus("/ok.php", 502)

	r := diagnose(t, l)
	first(t, r, "stale-socket")
	f := finding(t, r, "stale-socket", report.Error)
	evidenceAt(t, f, l.Path("etc/nginx/conf.d/site.conf"), lineOf(t, lab.DefaultSite, "fastcgi_pass"))
	evidenceText(t, f, report.KindFact, "no process listens on "+l.Path("run/php-fpm.sock"))
	evidenceText(t, f, report.KindFact, "no php-fpm master process runs")
}
