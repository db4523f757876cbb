package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// TestRetryRules: how many servers nginx may try per request, read from
// the config as ngx_http_upstream_tries counts them, and the conditions
// it goes on under. Config files alone: nothing runs.
func TestRetryRules(t *testing.T) {
	dir := t.TempDir()
	nginx := filepath.Join(dir, "nginx.conf")
	conf := `events {}
http {
    upstream three { server 127.0.0.1:9201; server 127.0.0.1:9202; server unix:/run/three.sock; }
    upstream down { server 127.0.0.1:9211; server 127.0.0.1:9212 down; server 127.0.0.1:9213 backup; }
    upstream capped { server 127.0.0.1:9221; server 127.0.0.1:9222; server 127.0.0.1:9223; }
    upstream off { server 127.0.0.1:9231; server 127.0.0.1:9232; }
    upstream slow { server 127.0.0.1:9241; server 127.0.0.1:9242; }
    upstream shared { server 127.0.0.1:9251; server 127.0.0.1:9252; }
    server { server_name a.test; location ~ \.php$ { fastcgi_pass three; } }
    server { server_name b.test; location ~ \.php$ { fastcgi_pass down; } }
    server { server_name c.test; location ~ \.php$ { fastcgi_pass capped; fastcgi_next_upstream_tries 2; } }
    server { server_name d.test; location ~ \.php$ { fastcgi_pass off; fastcgi_next_upstream off; } }
    server { server_name e.test; location ~ \.php$ { fastcgi_pass slow; fastcgi_next_upstream_timeout 5s; } }
    server { server_name f.test; location ~ \.php$ { fastcgi_pass shared; } }
    server { server_name g.test; location ~ \.php$ { fastcgi_pass 127.0.0.1:9251; } }
    server { server_name h.test; location ~ \.php$ { fastcgi_pass 127.0.0.1:9261; } }
}
`
	if err := os.WriteFile(nginx, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Gather(context.Background(), Options{NginxConf: nginx, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	rr := retryRules(s)
	line := func(up, what, req string) *logscan.Entry {
		e, ok := logscan.ParseNginx(fmt.Sprintf(`2026/11/26 19:13:50 [error] 1#1: *1 %s, client: 127.0.0.1, server: x, request: "%s", upstream: "fastcgi://%s", host: "x"`, what, req, up), time.UTC)
		if !ok || !e.IsFailure() {
			t.Fatalf("not a failure: %+v", e)
		}
		return &e
	}
	const (
		refused = "connect() failed (111: Connection refused) while connecting to upstream"
		enoent  = "connect() to unix:/run/three.sock failed (2: No such file or directory) while connecting to upstream"
		timeout = "upstream timed out (110: Connection timed out) while reading response header from upstream"
		get     = "GET / HTTP/1.1"
	)
	for _, c := range []struct {
		what string
		e    *logscan.Entry
		want int
	}{
		{"three servers", line("127.0.0.1:9202", refused, get), 3},
		{"three servers, the unix one", line("unix:/run/three.sock:", enoent, get), 3},
		{"a read timeout, default conditions", line("127.0.0.1:9201", timeout, get), 3},
		{"a down server is never tried, a backup is", line("127.0.0.1:9211", refused, get), 2},
		{"fastcgi_next_upstream_tries", line("127.0.0.1:9221", refused, get), 2},
		{"fastcgi_next_upstream off", line("127.0.0.1:9231", refused, get), 1},
		{"fastcgi_next_upstream_timeout: a refused connect", line("127.0.0.1:9241", refused, get), 2},
		{"fastcgi_next_upstream_timeout: a read timeout", line("127.0.0.1:9241", timeout, get), 1},
		{"an address also passed to alone", line("127.0.0.1:9251", refused, get), 1},
		{"a plain fastcgi_pass", line("127.0.0.1:9261", refused, get), 1},
		{"an address no site names", line("127.0.0.1:9999", refused, get), 1},
	} {
		if got := rr.Tries(c.e); got != c.want {
			t.Errorf("%s: %d tries, want %d", c.what, got, c.want)
		}
	}
}
