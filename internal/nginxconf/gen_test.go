package nginxconf

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// genDir, when set, makes TestGenerateHosting write a generated hosting
// configuration there (used by bench/nginx-parse.sh).
var (
	genDir     = flag.String("gen.dir", "", "write a generated hosting config into this directory")
	genServers = flag.Int("gen.servers", 5000, "number of server blocks for -gen.dir")
)

// writeHosting writes a configuration like a hosting company's: one file
// per site in sites-enabled/, each a server with a PHP location including
// Debian's fastcgi snippet, some sites on shared upstreams. It returns the
// main file. Paths written into the config (pid, logs) stay under dir so
// that `nginx -t -p dir` can run anywhere.
func writeHosting(t testing.TB, dir string, n int) string {
	t.Helper()
	debian := "testdata/debian/etc/nginx"
	copyFile := func(from, to string) {
		b, err := os.ReadFile(filepath.Join(debian, from))
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, filepath.Join(dir, to), string(b))
	}
	copyFile("mime.types", "mime.types")
	copyFile("fastcgi.conf", "fastcgi.conf")
	copyFile("fastcgi_params", "fastcgi_params")
	copyFile("snippets/fastcgi-php.conf", "snippets/fastcgi-php.conf")

	mustWrite(t, filepath.Join(dir, "nginx.conf"), fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 64; }
http {
    include mime.types;
    default_type application/octet-stream;
    access_log off;
    server_names_hash_max_size 262144;
    server_names_hash_bucket_size 128;
    fastcgi_read_timeout 120s;
    include conf.d/*.conf;
    include sites-enabled/*;
}
`, dir))
	var up strings.Builder
	for k := 0; k < 10; k++ {
		fmt.Fprintf(&up, "upstream pool_%d {\n    server unix:/run/php/pool%d.sock max_fails=3 fail_timeout=5s;\n    server 127.0.0.1:%d backup;\n}\n", k, k, 9000+k)
	}
	mustWrite(t, filepath.Join(dir, "conf.d/upstreams.conf"), up.String())
	for i := 0; i < n; i++ {
		pass := fmt.Sprintf("unix:/run/php/site%d.sock", i)
		if i%3 == 0 {
			pass = fmt.Sprintf("pool_%d", i%10)
		}
		mustWrite(t, filepath.Join(dir, fmt.Sprintf("sites-enabled/site%05d.conf", i)), fmt.Sprintf(`# site %[1]d
server {
    listen 8080;
    listen [::]:8080;
    server_name site%[1]d.example www.site%[1]d.example;
    root /srv/www/site%[1]d/public;
    index index.php index.html;

    location / {
        try_files $uri $uri/ /index.php?$query_string;
    }

    location ~ \.php$ {
        include snippets/fastcgi-php.conf;
        fastcgi_pass %[2]s;
        fastcgi_buffer_size 16k;
        fastcgi_buffers 16 16k;
        if ($request_method = "PURGE") { return 405; }
    }

    location ~ /\.(?!well-known) {
        deny all;
    }
}
`, i, pass))
	}
	return filepath.Join(dir, "nginx.conf")
}

func mustWrite(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGenerateHosting writes the benchmark configuration when -gen.dir is
// given; otherwise it checks that a small one loads cleanly.
func TestGenerateHosting(t *testing.T) {
	if *genDir != "" {
		dir, err := filepath.Abs(*genDir)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(writeHosting(t, dir, *genServers))
		return
	}
	main := writeHosting(t, t.TempDir(), 30)
	c := mustLoad(t, main, Options{})
	m := c.Model()
	if len(c.Problems)+len(m.Problems) != 0 || len(m.Servers) != 30 || len(m.FastCGIPasses) != 30 {
		t.Fatalf("problems %v %v; %d servers, %d passes", c.Problems, m.Problems, len(m.Servers), len(m.FastCGIPasses))
	}
	if p := m.FastCGIPasses[0]; p.Target.Upstream == nil || len(p.Target.Upstream.Servers) != 2 {
		t.Fatalf("pass 0 %+v", p.Target)
	}
	checkOffsets(t, c)
}
