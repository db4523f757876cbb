package nginxconf

import (
	"strings"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	long := "/" + strings.Repeat("s", 106) // 107 bytes + NUL = 108: fits
	tests := []struct {
		raw  string
		kind TargetKind
		addr string // Address() or Err
	}{
		{"unix:/run/php/php8.2-fpm.sock", TargetUnix, "unix:/run/php/php8.2-fpm.sock"},
		{"UNIX:/run/php.sock", TargetUnix, "unix:/run/php.sock"},
		{"unix:/run/php.sock:", TargetUnix, "unix:/run/php.sock:"},
		{"unix:relative.sock", TargetUnix, "unix:relative.sock"},
		{"unix:", TargetInvalid, `no path in the unix domain socket in upstream "unix:"`},
		{"unix:" + long, TargetUnix, "unix:" + long},
		{"unix:" + long + "x", TargetInvalid, `too long path in the unix domain socket in upstream "unix:` + long + `x"`},
		{"127.0.0.1:9000", TargetTCP, "127.0.0.1:9000"},
		{"localhost:9000", TargetTCP, "localhost:9000"},
		{"php:09000", TargetTCP, "php:9000"},
		{"[::1]:9000", TargetTCP, "[::1]:9000"},
		{"[::1]", TargetUpstream, "[::1]"},
		{"[::1]x", TargetInvalid, `invalid host in upstream "[::1]x"`},
		{"[::1", TargetInvalid, `invalid host in upstream "[::1"`},
		{"[zz]:9000", TargetInvalid, `invalid IPv6 address in upstream "[zz]:9000"`},
		{"127.0.0.1:99999", TargetInvalid, `invalid port in upstream "127.0.0.1:99999"`},
		{"127.0.0.1:0", TargetInvalid, `invalid port in upstream "127.0.0.1:0"`},
		{"127.0.0.1:", TargetInvalid, `invalid port in upstream "127.0.0.1:"`},
		{"http://127.0.0.1:9000", TargetInvalid, `invalid host in upstream "http://127.0.0.1:9000"`},
		{"php?x", TargetInvalid, `invalid host in upstream "php?x"`},
		{":9000", TargetInvalid, `no host in upstream ":9000"`},
		{"", TargetInvalid, `no host in upstream ""`},
		{"php_backend", TargetUpstream, "php_backend"},
		{"$backend", TargetVariable, "$backend"},
		{"unix:/run/php/php$v-fpm.sock", TargetVariable, "unix:/run/php/php$v-fpm.sock"},
	}
	for _, tt := range tests {
		got := ParseTarget(tt.raw)
		s := got.Address()
		if got.Kind == TargetInvalid {
			s = got.Err
		}
		if got.Kind != tt.kind || s != tt.addr {
			t.Errorf("ParseTarget(%q) = %v %q, want %v %q", tt.raw, got.Kind, s, tt.kind, tt.addr)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"60", 60 * time.Second, true}, {"60s", time.Minute, true}, {"1m30s", 90 * time.Second, true},
		{"1h 30m", 90 * time.Minute, true}, {"500ms", 500 * time.Millisecond, true},
		{"1h30m15s500ms", time.Hour + 30*time.Minute + 15*time.Second + 500*time.Millisecond, true},
		{"2w1d", 15 * 24 * time.Hour, true}, {"1 2", 3 * time.Second, true}, {"1m30", 90 * time.Second, true},
		{"500ms2", 2500 * time.Millisecond, true},
		{"30s 1m", 0, false}, {"1M", 0, false}, {"1y", 0, false}, {"", 0, false}, {"s", 0, false},
		{"1x", 0, false}, {"-1", 0, false}, {"99999999999999999999", 0, false}, {"1s1s", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestParseSeconds(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"10": 10 * time.Second, "30s": 30 * time.Second, "1y": 365 * 24 * time.Hour, "1M2d": 32 * 24 * time.Hour, "1m 1": 61 * time.Second,
	} {
		if got, err := parseSeconds(in); err != nil || got != want {
			t.Errorf("parseSeconds(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"500ms", "1s1m", "", "1d1y"} {
		if _, err := parseSeconds(in); err == nil {
			t.Errorf("parseSeconds(%q) accepted", in)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"4096", 4096, true}, {"8k", 8192, true}, {"8K", 8192, true}, {"1m", 1 << 20, true}, {"2M", 2 << 20, true},
		{"1g", 0, false}, {"", 0, false}, {"k", 0, false}, {"-1", 0, false}, {"1.5k", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

const hostingConf = `user nginx;
error_log /var/log/nginx/error.log warn;
pid /run/nginx.pid;
events {}
http {
    fastcgi_read_timeout 300;
    fastcgi_param HTTP_PROXY "";
    error_log /var/log/nginx/http.log;
    upstream PHP_Pool {
        server unix:/run/php/a.sock weight=5 max_fails=3 fail_timeout=30s;
        server 10.0.0.2:9000 backup;
        server php-host down;
    }
    server {
        listen 80 default_server;
        server_name a.example www.a.example;
        root /srv/a;
        fastcgi_buffers 16 16k;
        location / {
            try_files $uri /index.php;
        }
        location ~ \.php$ {
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param HTTPS on if_not_empty;
            fastcgi_pass php_pool;
            fastcgi_buffer_size 32k;
            location ~ ^/admin/ {
                fastcgi_read_timeout 1h;
                fastcgi_pass 127.0.0.1:9001;
            }
        }
        location @slow {
            if ($arg_x) {
                fastcgi_pass unix:/run/php/slow.sock;
            }
            fastcgi_next_upstream error timeout http_503;
        }
        location =/ping { fastcgi_pass 127.0.0.1; }
        location /dyn { fastcgi_pass $backend; }
        location /bad { fastcgi_pass php_pool:9000; }
    }
    server {
        server_name b.example;
        error_log /var/log/nginx/b.log debug;
        location / { fastcgi_pass [::1]:9000; }
    }
}
`

func TestModel(t *testing.T) {
	c := loadString(t, hostingConf)
	if len(c.Problems) != 0 {
		t.Fatal(c.Problems)
	}
	checkOffsets(t, c)
	m := c.Model()
	if m.User != "nginx" || m.Group != "nginx" {
		t.Fatalf("user %q:%q", m.User, m.Group)
	}
	if len(m.ErrorLogs) != 3 || m.ErrorLogs[0].Level != "warn" || m.ErrorLogs[1].Context.Name != "http" || m.ErrorLogs[2].Level != "debug" || m.ErrorLogs[2].Context.Name != "server" {
		t.Fatalf("error logs %+v", m.ErrorLogs)
	}

	u := m.Upstream("php_pool")
	if u == nil || u.Name != "PHP_Pool" || len(u.Servers) != 3 {
		t.Fatalf("upstream %+v", u)
	}
	s0 := u.Servers[0]
	if s0.Target.Kind != TargetUnix || s0.Weight != 5 || s0.MaxFails != 3 || s0.FailTimeout != 30*time.Second || s0.Backup {
		t.Fatalf("server 0 %+v", s0)
	}
	if !u.Servers[1].Backup || u.Servers[1].Target.Address() != "10.0.0.2:9000" || u.Servers[1].MaxFails != 1 || u.Servers[1].FailTimeout != 10*time.Second {
		t.Fatalf("server 1 %+v", u.Servers[1])
	}
	if !u.Servers[2].Down || u.Servers[2].Target.Address() != "php-host:80" {
		t.Fatalf("server 2 %+v", u.Servers[2])
	}

	if len(m.Servers) != 2 {
		t.Fatalf("%d servers", len(m.Servers))
	}
	a := m.Servers[0]
	if strings.Join(a.Names, ",") != "a.example,www.a.example" || !a.Listens[0].DefaultServer {
		t.Fatalf("server a %+v", a)
	}
	var locs []string
	for _, l := range a.Locations {
		parent := ""
		if l.Parent != nil {
			parent = l.Parent.Path + ">"
		}
		locs = append(locs, parent+l.Modifier+l.Path)
	}
	if got := strings.Join(locs, " "); got != `/ ~\.php$ \.php$>~^/admin/ @slow =/ping /dyn /bad` {
		t.Fatalf("locations %s", got)
	}

	want := []struct {
		kind TargetKind
		addr string
		loc  string
	}{
		{TargetUpstream, "php_pool", `\.php$`},
		{TargetTCP, "127.0.0.1:9001", "^/admin/"},
		{TargetUnix, "unix:/run/php/slow.sock", "slow"},
		{TargetInvalid, `no port in upstream "127.0.0.1"`, "/ping"},
		{TargetVariable, "$backend", "/dyn"},
		{TargetInvalid, `upstream "php_pool" may not have port 9000`, "/bad"},
	}
	if len(a.FastCGIPasses) != len(want) || len(m.FastCGIPasses) != len(want)+1 {
		t.Fatalf("%d passes in a, %d in all", len(a.FastCGIPasses), len(m.FastCGIPasses))
	}
	for i, w := range want {
		p := a.FastCGIPasses[i]
		got := p.Target.Address()
		if p.Target.Kind == TargetInvalid {
			got = p.Target.Err
		}
		if p.Target.Kind != w.kind || got != w.addr || p.Location == nil || p.Location.Path != w.loc || p.Server != a {
			t.Errorf("pass %d: %v %q in %v, want %v %q in %s", i, p.Target.Kind, got, p.Location, w.kind, w.addr, w.loc)
		}
	}
	if a.FastCGIPasses[0].Target.Upstream != u {
		t.Error("upstream not linked")
	}
	if a.FastCGIPasses[2].Directive.Parent.Name != "if" {
		t.Error("pass inside if lost its parent")
	}
	// Invalid targets are also model problems, with file:line.
	if len(m.Problems) != 2 || !strings.HasPrefix(m.Problems[0].Error(), `no port in upstream "127.0.0.1" in `) || m.Problems[0].Line != 38 {
		t.Fatalf("problems %v", m.Problems)
	}
	b := m.Servers[1].FastCGIPasses[0]
	if b.Target.Kind != TargetTCP || !b.Target.IPv6 || b.Target.Host != "::1" || b.Target.Port != 9000 {
		t.Fatalf("ipv6 target %+v", b.Target)
	}

	// Effective settings with inheritance.
	php := a.FastCGIPasses[0].Settings()
	if php.ReadTimeout != 300*time.Second || php.From["fastcgi_read_timeout"].Parent.Name != "http" {
		t.Errorf("php read timeout %v", php.ReadTimeout)
	}
	if php.ConnectTimeout != 60*time.Second || php.From["fastcgi_connect_timeout"] != nil {
		t.Errorf("connect timeout %v", php.ConnectTimeout)
	}
	if php.BufferSize != 32<<10 || php.BuffersNumber != 16 || php.BuffersSize != 16<<10 || php.Root != "/srv/a" {
		t.Errorf("buffers %d %d×%d root %q", php.BufferSize, php.BuffersNumber, php.BuffersSize, php.Root)
	}
	// fastcgi_param: the location defines some, so http's HTTP_PROXY is not inherited.
	if _, ok := php.Param("HTTP_PROXY"); ok || len(php.Params) != 2 {
		t.Errorf("params %+v", php.Params)
	}
	if p, _ := php.Param("HTTPS"); !p.IfNotEmpty {
		t.Errorf("HTTPS param %+v", p)
	}
	admin := a.FastCGIPasses[1].Settings()
	if admin.ReadTimeout != time.Hour || admin.BufferSize != 32<<10 || len(admin.Params) != 2 {
		t.Errorf("admin %+v", admin)
	}
	slow := a.FastCGIPasses[2].Settings()
	if strings.Join(slow.NextUpstream, " ") != "error timeout http_503" || slow.BufferSize != int64(m.pageSize) {
		t.Errorf("slow %+v", slow)
	}
	if p, ok := slow.Param("HTTP_PROXY"); !ok || p.Value != "" {
		t.Errorf("slow inherits http params: %+v", slow.Params)
	}
	bs := b.Settings()
	if bs.Root != "html" || bs.From["root"] != nil || bs.NextUpstream[1] != "timeout" {
		t.Errorf("defaults %+v", bs)
	}
}

func TestModelNoUserAndBadValues(t *testing.T) {
	c := loadString(t, `events {}
http {
    fastcgi_read_timeout 1y;
    fastcgi_buffer_size 1g;
    fastcgi_buffers 1;
    fastcgi_pass 127.0.0.1:9000;
    server { fastcgi_pass 127.0.0.1:9000; location / { fastcgi_pass a b; } }
}
`)
	m := c.Model()
	if m.UserDirective != nil || m.User != "" {
		t.Fatalf("user %q", m.User)
	}
	var msgs []string
	for _, p := range m.Problems {
		msgs = append(msgs, p.Message)
	}
	want := []string{
		`"fastcgi_read_timeout" directive invalid value`,
		`"fastcgi_buffer_size" directive invalid value`,
		`invalid number of arguments in "fastcgi_buffers" directive`,
		`"fastcgi_pass" directive is not allowed here`,
		`"fastcgi_pass" directive is not allowed here`,
		`invalid number of arguments in "fastcgi_pass" directive`,
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	s := m.Settings(nil)
	if s.ReadTimeout != time.Minute || s.BufferSize != m.pageSize {
		t.Fatalf("invalid values must leave defaults: %+v", s)
	}
	if len(m.Servers[0].FastCGIPasses) != 2 || m.Servers[0].FastCGIPasses[0].Location != nil {
		t.Fatal("server-level pass not kept")
	}
}
