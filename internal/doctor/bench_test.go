package doctor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// writeHostingHost writes a hosting company's host: n vhosts in
// sites/*.conf, each passing PHP to its own pool in pools/*.conf.
func writeHostingHost(tb testing.TB, dir string, n int) (nginxConf, fpmConf string) {
	tb.Helper()
	for _, d := range []string{"sites", "pools", "run", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	nginxConf = filepath.Join(dir, "nginx.conf")
	write(nginxConf, fmt.Sprintf("user www-data;\npid %[1]s/run/nginx.pid;\nerror_log %[1]s/log/error.log;\nevents { worker_connections 64; }\nhttp {\n    server_names_hash_bucket_size 128;\n    include %[1]s/sites/*.conf;\n}\n", dir))
	fpmConf = filepath.Join(dir, "php-fpm.conf")
	write(fpmConf, fmt.Sprintf("[global]\npid = %[1]s/run/fpm.pid\nerror_log = %[1]s/log/fpm.log\ninclude = %[1]s/pools/*.conf\n", dir))
	for i := 0; i < n; i++ {
		write(filepath.Join(dir, "sites", fmt.Sprintf("site%05d.conf", i)), fmt.Sprintf(`server {
    listen 127.0.0.1:8080;
    server_name site%[1]d.example.com www.site%[1]d.example.com;
    root /var/www/site%[1]d/public;
    index index.php index.html;
    location / {
        try_files $uri $uri/ /index.php?$args;
    }
    location ~ \.php$ {
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_read_timeout 120s;
        fastcgi_pass unix:%[2]s/run/site%[1]d.sock;
    }
}
`, i, dir))
		write(filepath.Join(dir, "pools", fmt.Sprintf("site%05d.conf", i)), fmt.Sprintf(`[site%d]
user = www-data
group = www-data
listen = %s/run/$pool.sock
listen.owner = www-data
listen.group = www-data
pm = ondemand
pm.max_children = 5
pm.process_idle_timeout = 10s
php_admin_value[memory_limit] = 128M
`, i, dir))
	}
	return nginxConf, fpmConf
}

// BenchmarkDiagnose5000 is the hosting-company host: 5,000 server
// blocks and 5,000 pools (none running, so 5,000 findings). Compare with
// `nginx -t` on the same files with bench/diagnose.sh.
func BenchmarkDiagnose5000(b *testing.B) {
	nginxConf, fpmConf := writeHostingHost(b, b.TempDir(), 5000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, _, err := Diagnose(context.Background(), Options{NginxConf: nginxConf, FPMConfs: []string{fpmConf}})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Sites) != 5000 {
			b.Fatalf("%d sites", len(r.Sites))
		}
	}
}
