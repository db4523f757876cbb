package checks_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestSocketPermissionSocketModeRealServers: listen.owner/group left to the
// master (root): the socket is root:root 0660 and www-data cannot write it.
func TestSocketPermissionSocketModeRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen.owner = www-data\nlisten.group = www-data\n", "")
	l.Start()
	l.MustStatus("/ok.php", 502)

	r := diagnose(t, l)
	first(t, r, "socket-permission")
	f := finding(t, r, "socket-permission", report.Error)
	evidenceText(t, f, report.KindFact, l.Path("run/php-fpm.sock")+" is 0660 root:root; www-data (uid 33")
	evidenceText(t, f, report.KindFact, "cannot write it")
	evidenceText(t, f, report.KindFact, "running worker pid")
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), 1) // the pool sets no listen.owner
	if !strings.Contains(f.Fix.Summary, "listen.owner = www-data") {
		t.Fatalf("fix: %+v", f.Fix)
	}
	absorbsLogs(t, r, f, "(13: Permission denied)")
}

// TestSocketPermissionDirectoryRealServers: the socket is fine but sits in
// a 0700 root directory nginx's workers cannot search; the directory is
// named as the blocker.
func TestSocketPermissionDirectoryRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	priv := l.Path("run/php-private")
	if err := os.Mkdir(priv, 0o700); err != nil {
		t.Fatal(err)
	}
	l.Edit("etc/php/fpm/pool.d/www.conf", "run/php-fpm.sock", "run/php-private/php-fpm.sock")
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/php-private/php-fpm.sock")
	l.Start()
	l.MustStatus("/ok.php", 502)

	r := diagnose(t, l)
	f := finding(t, r, "socket-permission", report.Error)
	evidenceText(t, f, report.KindFact, priv+" is 0700 root:root; www-data (uid 33, groups www-data) cannot search it")
	absorbsLogs(t, r, f, "(13: Permission denied)")
}

// absorbsLogs asserts the live finding f carries nginx's logged failures
// (quoted, counted) and no "earlier in the window" finding of the same
// cause tells them a second time: one story per incident.
func absorbsLogs(t *testing.T, r *report.Report, f report.Finding, text string) {
	t.Helper()
	if f.Logs == nil || f.Logs.Count == 0 {
		t.Fatalf("%s carries no logged failures\n%s", f.ID, dump(r))
	}
	evidenceText(t, f, report.KindLog, text)
	for _, o := range r.Findings {
		if o.Cause == f.Cause && o.ID != f.ID {
			t.Fatalf("%s and %s tell one incident twice\n%s", f.ID, o.ID, dump(r))
		}
	}
}

// TestSocketPermissionSharedSocketRealServers: two sites pass to one
// socket in a 0700 root directory. socket-permission reports the socket
// once, naming the first site; the (13) lines come only from the second
// site's requests and are still that finding's, not a past story.
func TestSocketPermissionSharedSocketRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	if err := os.Mkdir(l.Path("run/php-private"), 0o700); err != nil {
		t.Fatal(err)
	}
	l.Edit("etc/php/fpm/pool.d/www.conf", "run/php-fpm.sock", "run/php-private/php-fpm.sock")
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/php-private/php-fpm.sock")
	port := lab.FreePort(t)
	l.Write("etc/nginx/conf.d/zz-other.conf", "server {\n    listen 127.0.0.1:"+itoa(port)+";\n    server_name other.test;\n    root {{DIR}}/www;\n"+
		"    location ~ \\.php$ {\n        include /etc/nginx/fastcgi.conf;\n        fastcgi_pass unix:{{DIR}}/run/php-private/php-fpm.sock;\n    }\n}\n")
	l.Start()
	resp, err := http.Get("http://127.0.0.1:" + itoa(port) + "/ok.php")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("other.test: status %d, want 502", resp.StatusCode)
	}
	l.WaitForLog("log/nginx-error.log", "(13: Permission denied)", 1)

	r := diagnose(t, l)
	f := finding(t, r, "socket-permission", report.Error)
	absorbsLogs(t, r, f, "server: other.test")
}

// TestOldIncidentNotEvidenceOfInvalidConfigRealServers: a socket
// directory nginx could not search (a real 502, "(13: Permission
// denied)") was opened by hand; later the pool file gets an unclosed
// quote while php-fpm keeps running on its old config. The invalid config
// is an error of its own that failed no request yet: the old EACCES line
// stays the socket-permission story of the past, never its evidence.
func TestOldIncidentNotEvidenceOfInvalidConfigRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	if err := os.Mkdir(l.Path("run/private"), 0o700); err != nil {
		t.Fatal(err)
	}
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = {{DIR}}/run/php-fpm.sock", "listen = {{DIR}}/run/private/php-fpm.sock")
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/private/php-fpm.sock")
	l.Start()
	l.MustStatus("/ok.php", 502)
	l.WaitForLog("log/nginx-error.log", "(13: Permission denied)", 1)
	if err := os.Chmod(l.Path("run/private"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.MustStatus("/ok.php", 200)
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes", "catch_workers_output = yes\nphp_value[date.timezone] = 'Europe/London")

	r := diagnose(t, l)
	f := finding(t, r, "fpm-config-invalid", report.Error)
	for _, e := range f.Evidence {
		if e.Kind == report.KindLog {
			t.Fatalf("the running php-fpm's invalid config takes an old incident's line: %q\n%s", e.Text, dump(r))
		}
	}
	if f.Logs != nil {
		t.Fatalf("the invalid config counts failures it did not cause: %+v", f.Logs)
	}
	past := finding(t, r, "socket-permission", report.Info)
	if past.Logs == nil || past.Logs.Count != 1 {
		t.Fatalf("the past story: %+v\n%s", past.Logs, dump(r))
	}
	evidenceText(t, past, report.KindLog, "(13: Permission denied)")
}
