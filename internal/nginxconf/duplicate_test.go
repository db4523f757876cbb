package nginxconf

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// dupSamples holds a valid use of every directive onePerContext lists,
// with the context it is written in.
var dupSamples = []struct{ ctx, d string }{
	{"main", "worker_processes 1"}, {"main", "worker_rlimit_nofile 100"}, {"main", "daemon off"},
	{"main", "master_process off"}, {"main", "user www-data"}, {"main", "pcre_jit on"}, {"main", "timer_resolution 1s"},
	{"main", "worker_shutdown_timeout 1s"}, {"events", "worker_connections 100"}, {"events", "use epoll"},
	{"events", "multi_accept on"}, {"events", "accept_mutex on"},
	{"http", "server_names_hash_bucket_size 64"}, {"http", "server_names_hash_max_size 512"},
	{"http", "variables_hash_max_size 512"}, {"http", "map_hash_bucket_size 64"},
	{"server", "underscores_in_headers on"}, {"server", "ignore_invalid_headers off"},
	{"server", "large_client_header_buffers 4 8k"}, {"server", "client_header_buffer_size 1k"},
	{"server", "client_header_timeout 3s"}, {"server", "merge_slashes off"},
	{"location", "try_files $uri =404"}, {"location", "root /tmp"}, {"location", "alias /tmp/"},
	{"location", "fastcgi_pass 127.0.0.1:9000"}, {"location", "proxy_pass http://127.0.0.1:9"},
	{"location", "fastcgi_index index.php"}, {"location", "fastcgi_read_timeout 30s"},
	{"location", "fastcgi_connect_timeout 3s"}, {"location", "fastcgi_send_timeout 3s"},
	{"location", "fastcgi_buffer_size 16k"}, {"location", "fastcgi_buffers 8 16k"},
	{"location", "fastcgi_busy_buffers_size 32k"}, {"location", "fastcgi_intercept_errors on"},
	{"location", "fastcgi_keep_conn on"}, {"location", "fastcgi_buffering on"},
	{"location", "fastcgi_request_buffering on"}, {"location", "fastcgi_max_temp_file_size 1m"},
	{"location", "fastcgi_temp_file_write_size 32k"}, {"location", "fastcgi_cache off"},
	{"location", "fastcgi_cache_key $uri"}, {"location", "fastcgi_temp_path /tmp/y"},
	{"location", "fastcgi_pass_request_body on"}, {"location", "fastcgi_store off"},
	{"location", "fastcgi_cache_lock on"}, {"location", "fastcgi_socket_keepalive on"},
	{"location", "fastcgi_bind 127.0.0.1"}, {"location", "fastcgi_limit_rate 1k"},
	{"location", "fastcgi_force_ranges on"}, {"location", "proxy_read_timeout 3s"},
	{"location", "proxy_connect_timeout 3s"}, {"location", "proxy_send_timeout 3s"},
	{"location", "proxy_buffer_size 16k"}, {"location", "proxy_buffers 8 16k"}, {"location", "proxy_buffering on"},
	{"location", "proxy_http_version 1.1"}, {"location", "proxy_redirect off"},
	{"location", "client_max_body_size 1m"}, {"location", "client_body_buffer_size 16k"},
	{"location", "client_body_timeout 3s"}, {"location", "client_body_temp_path /tmp/x"},
	{"location", "send_timeout 3s"}, {"location", "keepalive_timeout 3s"}, {"location", "sendfile on"},
	{"location", "tcp_nopush on"}, {"location", "tcp_nodelay on"}, {"location", "autoindex on"}, {"location", "gzip on"},
	{"location", "server_tokens off"}, {"location", "log_not_found off"}, {"location", "default_type text/plain"},
	{"location", "charset utf-8"}, {"location", "expires 1h"}, {"location", "internal"}, {"location", "auth_basic off"},
	{"location", "auth_basic_user_file /tmp/x"}, {"location", "limit_rate 1k"}, {"location", "absolute_redirect off"},
	{"location", "port_in_redirect off"}, {"location", "server_name_in_redirect off"},
	{"location", "open_file_cache off"}, {"location", "etag off"}, {"location", "if_modified_since off"},
	{"location", "types_hash_max_size 2048"}, {"location", "log_subrequest on"}, {"location", "satisfy any"},
	{"location", "directio off"}, {"location", "output_buffers 2 32k"}, {"location", "postpone_output 1460"},
	{"location", "resolver 127.0.0.1"}, {"location", "resolver_timeout 3s"}, {"location", "msie_padding on"},
	{"location", "recursive_error_pages on"}, {"location", "chunked_transfer_encoding on"}, {"location", "ssi on"},
	{"location", "uninitialized_variable_warn off"}, {"location", "lingering_close off"},
	{"location", "reset_timedout_connection on"},
	// Allowed to repeat: nginx collects them.
	{"location", "index index.php"}, {"location", "fastcgi_param A b"}, {"location", `fastcgi_split_path_info ^(.+\.php)(/.+)$`},
	{"location", "add_header A b"}, {"location", "error_page 404 /x"}, {"location", "access_log off"},
	{"location", "set $a b"}, {"location", "fastcgi_hide_header X"}, {"location", "allow all"},
	{"server", "server_name x"}, {"server", "index x"},
}

// inContext writes body twice in ctx, after lines that set up a server.
func inContext(ctx, body string) string {
	switch ctx {
	case "main":
		return body + "\n" + body + "\nevents {}\nhttp {}\n"
	case "events":
		return "events {\n" + body + "\n" + body + "\n}\nhttp {}\n"
	case "http":
		return "events {}\nhttp {\n" + body + "\n" + body + "\n}\n"
	case "server":
		return "events {}\nhttp {\nserver {\nlisten 127.0.0.1:18080;\n" + body + "\n" + body + "\n}\n}\n"
	}
	return "events {}\nhttp {\nserver {\nlisten 127.0.0.1:18080;\nlocation / {\n" + body + "\n" + body + "\n}\n}\n}\n"
}

// firstModelProblem is the first problem of loading and modelling src.
func firstModelProblem(t *testing.T, src string) *Problem {
	t.Helper()
	c := loadString(t, src)
	if len(c.Problems) > 0 {
		return &c.Problems[0]
	}
	if m := c.Model(); len(m.Problems) > 0 {
		return &m.Problems[0]
	}
	return nil
}

func TestDuplicate(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"try_files", inContext("location", "try_files $uri =404;"), `"try_files" directive is duplicate at line 7`},
		{"root then alias", "events {}\nhttp { server { location / { root /a; alias /b/; } } }\n",
			`"alias" directive is duplicate, "root" directive was specified earlier at line 2`},
		{"alias then root", "events {}\nhttp { server { location / {\nalias /b/;\nroot /a; } } }\n",
			`"root" directive is duplicate, "alias" directive was specified earlier at line 4`},
		{"if is its own context", "events {}\nhttp { server { location / {\nfastcgi_pass 127.0.0.1:9;\nif ($uri) { fastcgi_pass 127.0.0.1:8; } } } }\n", ""},
		{"nested location is its own context", "events {}\nhttp { server { root /a; location / { root /b; location /c { root /c; } } } }\n", ""},
		{"server and location are two contexts", "events {}\nhttp { server { try_files $uri =404; location / { try_files $uri =404; } } }\n", ""},
		{"index repeats", inContext("location", "index index.php;"), ""},
		{"map data is no directive", "events {}\nhttp { map $a $b { root 1; root 2; } }\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if p := firstModelProblem(t, tc.src); p != nil {
				got = fmt.Sprintf("%s at line %d", p.Message, p.Line)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDuplicateIncluded: the case found in a published Matomo site: a
// location with its own try_files includes Debian's
// snippets/fastcgi-php.conf, which has one too; nginx names the snippet.
func TestDuplicateIncluded(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"nginx.conf": "events {}\nhttp {\nserver {\nlocation ~ \\.php$ {\ntry_files $uri =404;\ninclude snippets/fastcgi-php.conf;\nfastcgi_pass unix:/run/php/php8.2-fpm.sock;\n}\n}\n}\n",
		"snippets/fastcgi-php.conf": "# regex to split $uri to $fastcgi_script_name and $fastcgi_path\n" +
			"fastcgi_split_path_info ^(.+?\\.php)(/.*)$;\n\n# Check that the PHP script exists before passing it\ntry_files $fastcgi_script_name =404;\n",
	})
	c := mustLoad(t, filepath.Join(dir, "nginx.conf"), Options{})
	ps := c.Model().Problems
	if len(ps) != 1 {
		t.Fatalf("problems %v", ps)
	}
	if want := `"try_files" directive is duplicate in ` + filepath.Join(dir, "snippets/fastcgi-php.conf") + ":5"; ps[0].Error() != want {
		t.Errorf("got %q, want %q", ps[0].Error(), want)
	}
}

// TestDuplicateAgainstNginx holds every directive of onePerContext, and a
// few that may repeat, against nginx -t: same message, same line.
func TestDuplicateAgainstNginx(t *testing.T) {
	needNginx(t)
	for _, s := range dupSamples {
		name, _, _ := strings.Cut(s.d, " ")
		src := inContext(s.ctx, s.d+";")
		msg, line := nginxFirstError(t, src)
		ours, ourLine := "", ""
		if p := firstModelProblem(t, src); p != nil {
			// The same two lines of prologue nginxFirstError adds.
			ours, ourLine = p.Message, fmt.Sprint(p.Line+2)
		}
		if msg != ours || ours != "" && line != ourLine {
			t.Errorf("%s in %s twice: nginx says %q at line %s, we %q at line %s", s.d, s.ctx, msg, line, ours, ourLine)
		}
		if repeats := msg == ""; repeats == onePerContext(name) {
			t.Errorf("%s: onePerContext says %v, nginx -t says %q", name, onePerContext(name), msg)
		}
	}
	for _, src := range []string{
		"events {}\nhttp { server { location / { root /a;\nalias /b/; } } }\n",
		"events {}\nhttp { server { location / { alias /b/;\nroot /a; } } }\n",
	} {
		msg, line := nginxFirstError(t, src)
		p := firstModelProblem(t, src)
		if p == nil || p.Message != msg || fmt.Sprint(p.Line+2) != line {
			t.Errorf("%q: nginx says %q at line %s, we %v", src, msg, line, p)
		}
	}
}
