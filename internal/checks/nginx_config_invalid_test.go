package checks_test

import (
	"maps"
	"os"
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

// TestNginxDuplicateRealServers: the published Matomo site's mistake. A
// PHP location has its own try_files and includes Debian's
// snippets/fastcgi-php.conf (the installed one), which has another: nginx
// -t refuses with "is duplicate" at the snippet's line. fpmdoctor reports
// it there and quotes the real nginx -t, run on the master's config
// without changing a file or the running nginx.
func TestNginxDuplicateRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	for _, f := range []string{"fastcgi.conf", "snippets/fastcgi-php.conf"} {
		b, err := os.ReadFile("/etc/nginx/" + f)
		if err != nil {
			lab.Unavailable(t, "Debian's nginx snippets are not installed: "+err.Error())
		}
		l.Write("etc/nginx/"+f, string(b))
	}
	l.Edit("etc/nginx/conf.d/site.conf", "include /etc/nginx/fastcgi.conf;", "include snippets/fastcgi-php.conf;")
	l.Start()
	l.MustStatus("/ok.php", 200)
	for _, f := range diagnose(t, l).Findings {
		if f.Cause == "nginx-config-invalid" {
			t.Fatalf("Debian's snippet alone is reported: %+v", f)
		}
	}

	l.Edit("etc/nginx/conf.d/site.conf", "include snippets/fastcgi-php.conf;", "try_files $uri =404;\n        include snippets/fastcgi-php.conf;")
	out, err := exec.Command(lab.NginxBin, "-t", "-c", l.NginxConf(), "-p", l.Dir+"/").CombinedOutput()
	snippet := l.Path("etc/nginx/snippets/fastcgi-php.conf")
	nginxSays := `"try_files" directive is duplicate in ` + snippet + ":5"
	if err == nil || !strings.Contains(string(out), nginxSays) {
		t.Fatalf("nginx -t does not say %q:\n%s", nginxSays, out)
	}
	l.MustStatus("/ok.php", 200) // the old config still runs

	pid, before := l.NginxPid(), l.ConfigSums()
	r := diagnose(t, l)
	first(t, r, "nginx-config-invalid")
	f := finding(t, r, "nginx-config-invalid", report.Error)
	if e := evidenceAt(t, f, snippet, 5); e.Text != nginxSays {
		t.Errorf("evidence %q, nginx -t says %q", e.Text, nginxSays)
	}
	evidenceText(t, f, report.KindFact, lab.NginxBin+" -t -q -c "+l.NginxConf()+" -p "+l.Dir+"/ confirms: nginx: [emerg] "+nginxSays)
	// The first try_files, the user's own, is shown too, and the fix
	// does not send the user to edit the packaged snippet alone.
	site := l.Path("etc/nginx/conf.d/site.conf")
	if e := evidenceAt(t, f, site, 8); e.Text != "try_files $uri =404;" {
		t.Errorf("first try_files: %q", e.Text)
	}
	if !strings.Contains(f.Fix.Summary, "remove the line at "+snippet+":5 or the one at "+site+":8") {
		t.Errorf("fix %q", f.Fix.Summary)
	}
	if after := l.ConfigSums(); !maps.Equal(before, after) || l.NginxPid() != pid {
		t.Fatalf("nginx -t changed the lab: pid %d → %d, files changed: %v", pid, l.NginxPid(), !maps.Equal(before, after))
	}
	l.MustStatus("/ok.php", 200)
}
