package logscan

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// scanAll scans a fixture with the given options and returns copies of the entries.
func scanAll(t *testing.T, path string, opt Options) ([]Entry, Stats) {
	t.Helper()
	var out []Entry
	st, err := Scan(context.Background(), path, opt, func(e *Entry) error {
		out = append(out, e.Clone())
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%s): %v", path, err)
	}
	return out, st
}

type nginxWant struct {
	kind       Kind
	status     int
	target     string
	targetKind string
	errno      int
}

// The expectations follow testdata/nginx_observed.log, which holds the
// reference's nginx lines verbatim, in its order.
var nginxObserved = []nginxWant{
	{KindConnectENOENT, 502, "/srv/lab/run/missing.sock", "unix", 2},
	{KindConnectENOENT, 502, "/run/php/php7.4-fpm.sock", "unix", 2},
	{KindConnectENOENT, 502, "/var/run/php-fpm/www.sock", "unix", 2},
	{KindConnectENOENT, 502, "/run/php/php8.2-fpm.sock", "unix", 2},
	{KindConnectEACCES, 502, "/srv/lab/run/perm.sock", "unix", 13},
	{KindConnectEACCES, 502, "/run/php/php8.2-fpm.sock", "unix", 13},
	{KindConnectEACCES, 502, "/var/run/php-fpm/www.sock", "unix", 13},
	{KindConnectEACCES, 502, "/home/site/php.sock", "unix", 13},
	{KindConnectRefused, 502, "/srv/lab/run/stale.sock", "unix", 111},
	{KindConnectRefused, 502, "/run/php/php8.2-fpm.sock", "unix", 111},
	{KindConnectRefused, 502, "/var/run/php-fpm.sock", "unix", 111},
	{KindConnectEAGAIN, 502, "/srv/lab/run/full.sock", "unix", 11},
	{KindConnectEAGAIN, 502, "/run/php/php8.2-fpm.sock", "unix", 11},
	{KindConnectEAGAIN, 502, "/run/php/php8.2-fpm.sock", "unix", 11},
	{KindConnectRefused, 502, "127.0.0.1:9999", "tcp", 111},
	{KindConnectRefused, 502, "[::1]:9001", "tcp", 111},
	{KindUpstreamDisabled, 0, "[::1]:9001", "tcp", 0},
	{KindConnectRefused, 502, "172.18.0.3:9000", "tcp", 111},
	{KindConnectRefused, 502, "127.0.0.1:9000", "tcp", 111},
	{KindPrematureClose, 502, "/srv/lab/run/fake.sock", "unix", 0},
	{KindPrematureClose, 502, "127.0.0.1:9015", "tcp", 0},
	{KindPrematureClose, 502, "/run/php/php8.2-fpm.sock", "unix", 0},
	{KindPrematureClose, 502, "172.18.0.3:9000", "tcp", 0},
	{KindRecvReset, 502, "/srv/lab/run/www.sock", "unix", 104},
	{KindRecvReset, 502, "/srv/lab/run/www.sock", "unix", 104},
	{KindRecvReset, 502, "127.0.0.1:9001", "tcp", 104},
	{KindRecvReset, 502, "127.0.0.1:9001", "tcp", 104},
	{KindRecvReset, 502, "/run/php/php8.2-fpm.sock", "unix", 104},
	{KindTooBigHeader, 502, "/srv/lab/run/www.sock", "unix", 0},
	{KindTooBigHeader, 502, "/run/php/php8.2-fpm.sock", "unix", 0},
	{KindTooBigHeader, 502, "172.18.0.3:9000", "tcp", 0},
	{KindUpstreamTimeout, 504, "/srv/lab/run/www.sock", "unix", 110},
	{KindUpstreamTimeout, 504, "127.0.0.1:9020", "tcp", 110},
	{KindUpstreamTimeout, 504, "127.0.0.1:9000", "tcp", 110},
	{KindUpstreamTimeout, 504, "172.18.0.3:9000", "tcp", 110},
	{KindUpstreamTimeout, 504, "/run/php/php8.2-fpm.sock", "unix", 110},
	{KindNoLiveUpstreams, 502, "php_pool", "group", 0},
	{KindNoLiveUpstreams, 502, "dualstack", "group", 0},
	{KindNoLiveUpstreams, 502, "php-fpm", "group", 0},
	{KindNoLiveUpstreams, 502, "localhost", "group", 0},
	{KindHostNotFound, 0, "php", "group", 0},
	{KindHostNotFound, 0, "php-fpm:9000", "tcp", 0},
	{KindHostNotFound, 0, "app", "group", 0},
	{KindResolveFailed, 502, "php-fpm.invalid", "group", 0},
	{KindResolveFailed, 502, "nosuch.invalid", "group", 110},
	{KindResolveFailed, 502, "php", "group", 3},
	{KindScriptUnknown, 0, "/srv/lab/run/www.sock", "unix", 0},
	{KindFastCGIStderr, 0, "/srv/lab/run/www.sock", "unix", 0},
	{KindFastCGIStderr, 0, "/srv/lab/run/www.sock", "unix", 0},
	{KindPHPFatal, 0, "/srv/lab/run/www.sock", "unix", 0},
}

func TestNginxObservedLines(t *testing.T) {
	got, st := scanAll(t, "testdata/nginx_observed.log", Options{Location: time.UTC})
	if len(got) != len(nginxObserved) {
		for _, e := range got {
			t.Logf("%s %s", e.Kind, e.Raw[:min(len(e.Raw), 120)])
		}
		t.Fatalf("got %d entries, want %d", len(got), len(nginxObserved))
	}
	for i, w := range nginxObserved {
		e := got[i]
		if e.Kind != w.kind || e.Status != w.status || e.Target != w.target || e.TargetKind != w.targetKind || e.Errno != w.errno {
			t.Errorf("entry %d (line %d): got kind=%q status=%d target=%q/%s errno=%d, want %q %d %q/%s %d\n%s",
				i, e.Line, e.Kind, e.Status, e.Target, e.TargetKind, e.Errno, w.kind, w.status, w.target, w.targetKind, w.errno, e.Raw)
		}
		if e.Source != SourceNginx || e.Time.IsZero() || e.Time.Year() != 2026 {
			t.Errorf("entry %d: source %q time %v", i, e.Source, e.Time)
		}
	}
	if st.Entries != int64(len(nginxObserved)) || st.Lines != 53 {
		t.Errorf("stats %+v", st)
	}
}

func TestNginxFields(t *testing.T) {
	got, _ := scanAll(t, "testdata/nginx_observed.log", Options{Location: time.UTC})
	e := got[0]
	want := Entry{Level: "crit", PID: 24843, Conn: 3, Action: "connecting to upstream", Client: "127.0.0.1",
		Server: "example.com", Request: "GET /unixmissing/ok.php HTTP/1.1",
		Upstream: "fastcgi://unix:/srv/lab/run/missing.sock:", Host: "example.com",
		Message: "connect() to unix:/srv/lab/run/missing.sock failed", ErrText: "No such file or directory"}
	if e.Level != want.Level || e.PID != want.PID || e.Conn != want.Conn || e.Action != want.Action ||
		e.Client != want.Client || e.Server != want.Server || e.Request != want.Request || e.Upstream != want.Upstream ||
		e.Host != want.Host || e.Message != want.Message || e.ErrText != want.ErrText {
		t.Errorf("fields:\n got %+v\nwant %+v", e, want)
	}
	if !e.Time.Equal(time.Date(2026, 11, 26, 19, 13, 50, 0, time.UTC)) || e.Line != 1 || e.Offset != 0 {
		t.Errorf("time/position: %v line %d off %d", e.Time, e.Line, e.Offset)
	}
	if e.Method() != "GET" || e.URI() != "/unixmissing/ok.php" || e.Path() != "/unixmissing/ok.php" {
		t.Errorf("method/uri: %q %q", e.Method(), e.URI())
	}
	if r := got[2].Referrer; r != "https://blog.example.org/wp-admin/" {
		t.Errorf("referrer %q", r)
	}
	if s := got[3].Server; s != "_" {
		t.Errorf("server %q", s)
	}
	if a := got[32].Action; a != "connecting to upstream" {
		t.Errorf("timeout phase %q", a)
	}
	if a := got[35].Action; a != "sending request to upstream" {
		t.Errorf("timeout phase %q", a)
	}
	if x := got[34].ErrText; x != "Operation timed out" { // musl wording, same errno
		t.Errorf("errtext %q", x)
	}
	if c := got[40]; c.ConfFile != "/srv/lab/conf/hn1.conf" || c.ConfLine != 4 || c.Message != `host not found in upstream "php"` {
		t.Errorf("conf location %q:%d %q", c.ConfFile, c.ConfLine, c.Message)
	}
	if u := got[27].URI(); u != "/v1/import" {
		t.Errorf("uri %q", u)
	}
	if u := got[23].URI(); u != "/busy.php?s=8" || got[23].Path() != "/busy.php" {
		t.Errorf("uri %q", u)
	}
	ml := got[49]
	if strings.Count(ml.Raw, "\n") != 3 || ml.Request != "GET /segv.php HTTP/1.1" || ml.Line != 50 ||
		!strings.Contains(ml.Message, "Stack trace:") || ml.Action != "reading response header from upstream" {
		t.Errorf("multi-line entry: %+v", ml)
	}
}

func TestNginxConsoleAndCRLF(t *testing.T) {
	e, ok := ParseNginx(`nginx: [emerg] host not found in upstream "php" in /etc/nginx/conf.d/default.conf:14`, time.UTC)
	if !ok || e.Kind != KindHostNotFound || e.ConfFile != "/etc/nginx/conf.d/default.conf" || e.ConfLine != 14 || e.Target != "php" || !e.Time.IsZero() {
		t.Errorf("console copy: ok=%v %+v", ok, e)
	}
	got, _ := scanAll(t, "testdata/nginx_crlf.log", Options{Location: time.UTC})
	if len(got) != 1 || got[0].Host != "example.com" || got[0].Kind != KindConnectRefused {
		t.Errorf("CRLF: %+v", got)
	}
}

func TestNginxMoreForms(t *testing.T) {
	cases := []struct {
		line   string
		kind   Kind
		status int
		target string
	}{
		{`2026/11/26 19:20:00 [error] 10#10: *5 readv() failed (104: Connection reset by peer) while reading upstream, client: 127.0.0.1, server: a, request: "GET /big HTTP/1.1", upstream: "fastcgi://unix:/run/php.sock:", host: "a"`, KindRecvReset, 0, "/run/php.sock"},
		{`2026/11/26 19:20:00 [error] 10#10: *6 writev() failed (32: Broken pipe) while sending request to upstream, client: 127.0.0.1, server: a, request: "POST /up HTTP/1.1", upstream: "fastcgi://127.0.0.1:9000", host: "a"`, KindSendFailed, 502, "127.0.0.1:9000"},
		{`2026/11/26 19:20:00 [error] 10#10: *7 upstream sent unsupported FastCGI protocol version: 72 while reading response header from upstream, client: 127.0.0.1, server: a, request: "GET / HTTP/1.1", upstream: "fastcgi://10.255.255.1:9000", host: "a"`, KindInvalidResponse, 502, "10.255.255.1:9000"},
		{`2026/11/26 19:20:00 [error] 10#10: *8 upstream prematurely closed FastCGI stdout while reading response header from upstream, client: 127.0.0.1, server: a, request: "GET / HTTP/1.1", upstream: "fastcgi://[2001:db8::5]:9000", host: "a"`, KindPrematureClose, 502, "[2001:db8::5]:9000"},
		{`2026/11/26 19:20:00 [error] 10#10: *9 upstream timed out (110: Connection timed out) while reading upstream, client: 127.0.0.1, server: a, request: "GET / HTTP/1.1", upstream: "fastcgi://unix:/run/x.sock", host: "a"`, KindUpstreamTimeout, 0, "/run/x.sock"},
		{`2026/11/26 19:20:00 [error] 10#10: *10 connect() to 10.0.0.5:9000 failed (101: Network unreachable) while connecting to upstream, client: 127.0.0.1, server: a, request: "GET / HTTP/1.1", upstream: "fastcgi://10.0.0.5:9000", host: "a"`, KindConnectFailed, 502, "10.0.0.5:9000"},
		{`2026/11/26 19:20:00 [error] 10#10: *11 FastCGI sent in stderr: "PHP message: PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes) in /var/www/a.php on line 3" while reading response header from upstream, client: 127.0.0.1, server: a, request: "GET /a.php HTTP/1.1", upstream: "fastcgi://unix:/run/php.sock:", host: "a"`, KindMemoryExhausted, 0, "/run/php.sock"},
		{`2026/11/26 19:20:00 [emerg] 10#10: bind() to 0.0.0.0:80 failed (98: Address already in use)`, KindEmerg, 0, ""},
		{`2026/11/26 19:20:00 [emerg] 10#10: invalid port in upstream "127.0.0.1:99999" in /etc/nginx/conf.d/a.conf:7`, KindConfigError, 0, "127.0.0.1:99999"},
		{`2026/11/26 19:20:00 [error] 10#10: *12 no port in upstream "php", client: 127.0.0.1, server: a, request: "GET / HTTP/1.1", host: "a"`, KindConfigError, 500, "php"},
		{`2026/11/26 19:20:00 [info] 10#10: *13 recv() failed (104: Connection reset by peer) while reading client request line, client: 127.0.0.1, server: 0.0.0.0:80`, KindOther, 0, ""},
		{`2026/11/26 19:20:00 [error] 10#10: *14 open() "/var/www/favicon.ico" failed (2: No such file or directory), client: 127.0.0.1, server: a, request: "GET /favicon.ico HTTP/1.1", host: "a"`, KindOther, 0, ""},
		// A request line containing ", " and quotes is split from the right.
		{`2026/11/26 19:20:00 [error] 10#10: *15 upstream prematurely closed connection while reading response header from upstream, client: 127.0.0.1, server: a, request: "GET /q?a=1, host: "x" HTTP/1.1", upstream: "fastcgi://unix:/run/php.sock:", host: "a"`, KindPrematureClose, 502, "/run/php.sock"},
	}
	for _, c := range cases {
		e, ok := ParseNginx(c.line, time.UTC)
		if !ok || e.Kind != c.kind || e.Status != c.status || e.Target != c.target {
			t.Errorf("%s\n got ok=%v kind=%q status=%d target=%q", c.line, ok, e.Kind, e.Status, e.Target)
		}
	}
	e, _ := ParseNginx(cases[6].line, time.UTC)
	if e.Limit != 134217728 {
		t.Errorf("memory limit %d", e.Limit)
	}
	e, _ = ParseNginx(cases[len(cases)-1].line, time.UTC)
	if e.Request != `GET /q?a=1, host: "x" HTTP/1.1` || e.Host != "a" {
		t.Errorf("request with separators: %q host %q", e.Request, e.Host)
	}
}

// nginx cuts entries at 2048 bytes: the tail fields may be missing or cut.
func TestNginxTruncated(t *testing.T) {
	long := strings.Repeat("x", 3000)
	full := `2026/11/26 19:20:00 [error] 10#10: *16 upstream sent too big header while reading response header from upstream, client: 127.0.0.1, server: example.com, request: "GET /` + long + ` HTTP/1.1", upstream: "fastcgi://unix:/run/php.sock:", host: "a"`
	cut := full[:nginxMaxLine-1]
	e, ok := ParseNginx(cut, time.UTC)
	if !ok || e.Kind != KindTooBigHeader || !e.Truncated || e.Client != "127.0.0.1" || e.Server != "example.com" ||
		!strings.HasPrefix(e.Request, "GET /xxx") || e.Status != 502 {
		t.Errorf("cut line: ok=%v kind=%q trunc=%v client=%q server=%q req=%.20q", ok, e.Kind, e.Truncated, e.Client, e.Server, e.Request)
	}
	stderr := `2026/11/26 19:20:00 [error] 10#10: *17 FastCGI sent in stderr: "PHP message: PHP Fatal error:  Allowed memory size of 8388608 bytes exhausted (tried to allocate 4096 bytes) in /a.php on line 1; PHP message: ` + long
	e, ok = ParseNginx(stderr[:nginxMaxLine-1], time.UTC)
	if !ok || e.Kind != KindMemoryExhausted || !e.Truncated || e.Limit != 8388608 || e.Upstream != "" {
		t.Errorf("cut stderr: ok=%v %q trunc=%v limit=%d", ok, e.Kind, e.Truncated, e.Limit)
	}
	// Through the scanner as well, in a file.
	path := t.TempDir() + "/error.log"
	if err := os.WriteFile(path, []byte(cut+"\n"+stderr[:nginxMaxLine-1]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, _ := scanAll(t, path, Options{Location: time.UTC})
	if len(got) != 2 || !got[0].Truncated || !got[1].Truncated {
		t.Errorf("scanner on cut lines: %d entries", len(got))
	}
}

func TestNormalizeUpstream(t *testing.T) {
	cases := []struct {
		in, target, kind string
		noSep            bool
	}{
		{"fastcgi://unix:/run/php/php8.2-fpm.sock:", "/run/php/php8.2-fpm.sock", "unix", false},
		{"fastcgi://unix:/run/php/php8.2-fpm.sock", "/run/php/php8.2-fpm.sock", "unix", true},
		{"fastcgi://unix:/run/odd.sock:", "/run/odd.sock:", "unix", true},
		{"fastcgi://127.0.0.1:9000", "127.0.0.1:9000", "tcp", false},
		{"fastcgi://[::1]:9000", "[::1]:9000", "tcp", false},
		{"fastcgi://php_pool", "php_pool", "group", false},
		{"UNIX:/x.sock", "/x.sock", "unix", false},
		{"http://10.0.0.1:8080/api", "10.0.0.1:8080", "tcp", false},
	}
	for _, c := range cases {
		tg, k := NormalizeUpstream(c.in, c.noSep)
		if tg != c.target || k != c.kind {
			t.Errorf("NormalizeUpstream(%q) = %q %q, want %q %q", c.in, tg, k, c.target, c.kind)
		}
	}
	for in, want := range map[string]string{"127.0.0.1:9001": "127.0.0.1:9001", "9001": ":9001", "[::1]:9000": "[::1]:9000",
		"::1:9000": "[::1]:9000", "/run/php.sock": "/run/php.sock", "[127.0.0.1]:9000": "127.0.0.1:9000"} {
		if got, _ := NormalizeListen(in); got != want {
			t.Errorf("NormalizeListen(%q) = %q, want %q", in, got, want)
		}
	}
}
