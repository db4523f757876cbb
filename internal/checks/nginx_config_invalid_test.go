package checks_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestNginxConfigInvalidRealServers: a running site's config is edited
// into one nginx refuses. Real nginx -t is the ground truth: fpmdoctor
// must name the same file and line. The running nginx keeps its old config
// (the site still answers) until a restart would take it down.
func TestNginxConfigInvalidRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/ok.php", 200)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock\n        fastcgi_read_timeout 30s;")
	out, err := exec.Command(lab.NginxBin, "-t", "-c", l.NginxConf(), "-p", l.Dir+"/").CombinedOutput()
	if err == nil {
		t.Fatalf("nginx -t accepted the broken config:\n%s", out)
	}
	l.MustStatus("/ok.php", 200) // the old config still runs

	r := diagnose(t, l)
	first(t, r, "nginx-config-invalid")
	f := finding(t, r, "nginx-config-invalid", report.Error)
	e := evidenceAt(t, f, l.Path("etc/nginx/conf.d/site.conf"), 0)
	where := " in " + e.File + ":" + itoa(e.Line)
	if !strings.Contains(string(out), where) {
		t.Fatalf("fpmdoctor says %q, nginx -t says:\n%s", e.Text, out)
	}
	if !strings.Contains(f.Detail, "keeps its old config") {
		t.Fatalf("detail does not say the running nginx keeps its old config: %q", f.Detail)
	}
}
