package repo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// writeRepo writes a repository of n sites (sites-available files linked
// from sites-enabled) and n pools, laid out unlike / and mapped by
// fpmdoctor.yaml: what bench/check.sh compares with nginx -t.
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
	write("nginx/nginx.conf", "user www-data;\nevents {}\nhttp {\n    server_names_hash_bucket_size 128;\n    include sites-enabled/*;\n}\n")
	write("php/php-fpm.conf", "[global]\ninclude = /etc/php/8.2/fpm/pool.d/*.conf\n")
	if err := os.MkdirAll(filepath.Join(dir, "nginx/sites-enabled"), 0o755); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		name := fmt.Sprintf("site%05d.example.com", i)
		write("nginx/sites-available/"+name, fmt.Sprintf(`server {
    listen 127.0.0.1:8080;
    server_name %[1]s www.%[1]s;
    root /var/www/%[1]s/public;
    location ~ \.php$ {
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_read_timeout 120s;
        fastcgi_pass unix:/run/php/php8.2-fpm-site%05[2]d.sock;
    }
}
`, name, i))
		if err := os.Symlink("../sites-available/"+name, filepath.Join(dir, "nginx/sites-enabled", name)); err != nil {
			tb.Fatal(err)
		}
		write(fmt.Sprintf("php/pool.d/site%05d.conf", i), fmt.Sprintf("[site%05d]\nuser = www-data\ngroup = www-data\nlisten = /run/php/php8.2-fpm-$pool.sock\npm = ondemand\npm.max_children = 5\n", i))
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
