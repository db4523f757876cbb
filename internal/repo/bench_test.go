package repo

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// genDir, when set, makes TestGenerateRepo write the benchmark repository
// there: bench/check.sh times check and nginx -t on it.
var (
	genDir   = flag.String("gen.dir", "", "write the benchmark repository into this directory")
	genSites = flag.Int("gen.sites", 5000, "number of sites and pools for -gen.dir")
)

// writeRepo writes a repository of n sites (sites-available files linked
// from sites-enabled, each including fastcgi_params) and n pools, laid out
// unlike / and mapped by fpmdoctor.yaml, with a short mime.types and the
// usual fastcgi_params. nginx's pid and error log are relative to its
// prefix, so `nginx -t -p DIR/nginx/` tests the same files without root.
func writeRepo(tb testing.TB, dir string, n int) {
	tb.Helper()
	write := func(rel, s string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	write(ConfigName, "map:\n  nginx/: /etc/nginx\n  php/: /etc/php/8.2/fpm\n")
	write("nginx/nginx.conf", `user www-data;
worker_processes 1;
pid nginx.pid;
error_log error.log;
events { worker_connections 64; }
http {
    include mime.types;
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 65536;
    include sites-enabled/*;
}
`)
	write("nginx/mime.types", `types {
    text/html                 html htm shtml;
    text/css                  css;
    text/xml                  xml;
    image/gif                 gif;
    image/jpeg                jpeg jpg;
    image/png                 png;
    image/svg+xml             svg svgz;
    application/javascript    js;
    application/json          json;
    application/pdf           pdf;
    font/woff2                woff2;
}
`)
	var params strings.Builder
	for _, p := range [][2]string{
		{"QUERY_STRING", "$query_string"}, {"REQUEST_METHOD", "$request_method"},
		{"CONTENT_TYPE", "$content_type"}, {"CONTENT_LENGTH", "$content_length"},
		{"SCRIPT_NAME", "$fastcgi_script_name"}, {"REQUEST_URI", "$request_uri"},
		{"DOCUMENT_URI", "$document_uri"}, {"DOCUMENT_ROOT", "$document_root"},
		{"SERVER_PROTOCOL", "$server_protocol"}, {"REQUEST_SCHEME", "$scheme"},
		{"HTTPS", "$https if_not_empty"}, {"GATEWAY_INTERFACE", "CGI/1.1"},
		{"SERVER_SOFTWARE", "nginx/$nginx_version"}, {"REMOTE_ADDR", "$remote_addr"},
		{"REMOTE_PORT", "$remote_port"}, {"SERVER_ADDR", "$server_addr"},
		{"SERVER_PORT", "$server_port"}, {"SERVER_NAME", "$server_name"},
		{"REDIRECT_STATUS", "200"}, {"HTTP_HOST", "$host"},
	} {
		fmt.Fprintf(&params, "fastcgi_param  %-18s %s;\n", p[0], p[1])
	}
	write("nginx/fastcgi_params", params.String())
	write("php/php-fpm.conf", "[global]\npid = /run/php/php8.2-fpm.pid\nerror_log = /var/log/php8.2-fpm.log\ninclude = /etc/php/8.2/fpm/pool.d/*.conf\n")
	if err := os.MkdirAll(filepath.Join(dir, "nginx/sites-enabled"), 0o755); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("site%05d.example.com", i)
		write("nginx/sites-available/"+name, fmt.Sprintf(`server {
    listen 127.0.0.1:8080;
    server_name %[1]s www.%[1]s;
    root /var/www/%[1]s/public;
    index index.php index.html;
    access_log off;
    location / {
        try_files $uri $uri/ /index.php?$args;
    }
    location ~ \.php$ {
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_read_timeout 120s;
        fastcgi_pass unix:/run/php/php8.2-fpm-site%05[2]d.sock;
    }
}
`, name, i))
		if err := os.Symlink("../sites-available/"+name, filepath.Join(dir, "nginx/sites-enabled", name)); err != nil {
			tb.Fatal(err)
		}
		write(fmt.Sprintf("php/pool.d/site%05d.conf", i), fmt.Sprintf(`[site%05d]
user = www-data
group = www-data
listen = /run/php/php8.2-fpm-$pool.sock
listen.owner = www-data
listen.group = www-data
pm = ondemand
pm.max_children = 5
pm.process_idle_timeout = 10s
request_terminate_timeout = 300s
php_admin_value[memory_limit] = 128M
`, i))
	}
}

// TestGenerateRepo writes the benchmark repository into -gen.dir when
// given; otherwise it checks that a small one is checked cleanly.
func TestGenerateRepo(t *testing.T) {
	if *genDir != "" {
		dir, err := filepath.Abs(*genDir)
		if err != nil {
			t.Fatal(err)
		}
		writeRepo(t, dir, *genSites)
		return
	}
	dir := t.TempDir()
	writeRepo(t, dir, 20)
	res, err := Check(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Report.Sites) != 20 || len(res.Report.Findings) != 0 {
		t.Fatalf("%d sites, %d findings: %+v", len(res.Report.Sites), len(res.Report.Findings), res.Report.Findings)
	}
}

// BenchmarkCheck5000: fpmdoctor check on 5,000 mapped sites and pools.
func BenchmarkCheck5000(b *testing.B) {
	dir := b.TempDir()
	writeRepo(b, dir, 5000)
	b.ResetTimer()
	for b.Loop() {
		res, err := Check(context.Background(), Options{Dir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Report.Sites) != 5000 || len(res.Report.Findings) != 0 {
			b.Fatalf("%d sites, %d findings", len(res.Report.Sites), len(res.Report.Findings))
		}
	}
}
