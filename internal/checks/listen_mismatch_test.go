package checks_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestListenMismatchOldPHPVersionRealServers: after a PHP upgrade nginx
// still points at the old version's socket.
func TestListenMismatchOldPHPVersionRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "run/php-fpm.sock", "run/php8.2-fpm.sock")
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/php7.4-fpm.sock")
	l.Start()
	l.MustStatus("/ok.php", 502)

	r := diagnose(t, l)
	first(t, r, "listen-mismatch")
	f := finding(t, r, "listen-mismatch", report.Error)
	if !strings.Contains(f.Title, "did you mean unix:"+l.Path("run/php8.2-fpm.sock")) {
		t.Fatalf("no did-you-mean for the live pool: %q", f.Title)
	}
	if !strings.Contains(f.Detail, "PHP 7.4") || !strings.Contains(f.Detail, "PHP 8.2") {
		t.Fatalf("detail does not name the versions: %q", f.Detail)
	}
	evidenceAt(t, f, l.Path("etc/nginx/conf.d/site.conf"), lineOf(t, lab.DefaultSite, "fastcgi_pass"))
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), lineOf(t, lab.DefaultPool, "listen ="))
}

// TestListenMismatchThroughUpstreamRealServers: the wrong address sits in
// an upstream block's server line; the evidence points there.
func TestListenMismatchThroughUpstreamRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	site := strings.Replace(lab.DefaultSite, "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass php_backend;", 1)
	site = "upstream php_backend {\n    server unix:{{DIR}}/run/php-fmp.sock;\n}\n" + site
	l.Write("etc/nginx/conf.d/site.conf", site)
	l.Start()
	l.MustStatus("/ok.php", 502)

	r := diagnose(t, l)
	f := finding(t, r, "listen-mismatch", report.Error)
	evidenceAt(t, f, l.Path("etc/nginx/conf.d/site.conf"), 2) // the upstream's server line
	if !strings.Contains(f.Title, "did you mean unix:"+l.Path("run/php-fpm.sock")) || !strings.Contains(f.Detail, "typo") {
		t.Fatalf("title %q detail %q", f.Title, f.Detail)
	}
}

// TestListenMismatchAddressFamilyRealServers: nginx connects to [::1],
// php-fpm listens on 127.0.0.1 only.
func TestListenMismatchAddressFamilyRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	port := lab.FreePort(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = {{DIR}}/run/php-fpm.sock", "listen = 127.0.0.1:"+itoa(port))
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass [::1]:"+itoa(port)+";")
	l.Start()
	l.MustStatus("/ok.php", 502)

	r := diagnose(t, l)
	f := finding(t, r, "listen-mismatch", report.Error)
	if !strings.Contains(f.Title, "did you mean 127.0.0.1:"+itoa(port)) || !strings.Contains(f.Detail, "Same port, different address") {
		t.Fatalf("title %q detail %q", f.Title, f.Detail)
	}
}

// TestLocalhostDualStackOffline: localhost resolves to ::1 and 127.0.0.1
// in the tree's hosts file while the pool listens on 127.0.0.1 only.
// (A fixture: the real test would have to edit the machine's /etc/hosts.)
func TestLocalhostDualStackOffline(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etc/hosts", "::1 localhost ip6-localhost\n127.0.0.1 localhost\n")
	write("etc/passwd", "root:x:0:0::/root:/bin/sh\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n")
	write("etc/group", "root:x:0:\nwww-data:x:33:\n")
	write("etc/nginx/nginx.conf", "user www-data;\nevents {}\nhttp {\n  server {\n    server_name shop.example;\n    location ~ \\.php$ {\n      fastcgi_pass localhost:9000;\n    }\n  }\n}\n")
	write("etc/php/8.2/fpm/php-fpm.conf", "[global]\ninclude=/etc/php/8.2/fpm/pool.d/*.conf\n")
	write("etc/php/8.2/fpm/pool.d/www.conf", "[www]\nuser = www-data\nlisten = 127.0.0.1:9000\npm = static\npm.max_children = 2\n")
	r, _, err := doctor.Diagnose(t.Context(), doctor.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	r = roundTrip(t, r)
	f := finding(t, r, "listen-mismatch", report.Warning)
	if !strings.Contains(f.Title, "::1") || !strings.Contains(f.Fix.Summary, "fastcgi_pass 127.0.0.1:9000") {
		t.Fatalf("title %q fix %+v", f.Title, f.Fix)
	}
	evidenceAt(t, f, "/etc/nginx/nginx.conf", 7)
	evidenceAt(t, f, "/etc/php/8.2/fpm/pool.d/www.conf", 3)
}
