package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

func TestParseTarget(t *testing.T) {
	good := map[string]Target{
		"unix:/run/php/php8.2-fpm.sock":  {"unix", "/run/php/php8.2-fpm.sock"},
		"unix:/run/php/php8.2-fpm.sock:": {"unix", "/run/php/php8.2-fpm.sock"}, // as nginx logs it
		"/run/php-fpm/www.sock":          {"unix", "/run/php-fpm/www.sock"},
		"127.0.0.1:9000":                 {"tcp", "127.0.0.1:9000"},
		"php:9000":                       {"tcp", "php:9000"},
		"[::1]:9001":                     {"tcp", "[::1]:9001"},
		"9000":                           {"tcp", "127.0.0.1:9000"},
	}
	for in, want := range good {
		got, err := ParseTarget(in)
		if err != nil || got != want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "unix:relative.sock", "php_pool", "::1:9000", "host:0", "host:99999", ":9000", "[::1]"} {
		if got, err := ParseTarget(in); err == nil {
			t.Errorf("ParseTarget(%q) = %+v, want an error", in, got)
		}
	}
	if s := (Target{"unix", "/x.sock"}).String(); s != "unix:/x.sock" {
		t.Errorf("String() = %q", s)
	}
}

func TestParseStatusAllFormats(t *testing.T) {
	// Bodies captured from php-fpm 8.2 (pool www, pm static, 2 children).
	files, _ := filepath.Glob("testdata/status-*.txt")
	if len(files) < 7 {
		t.Fatalf("only %d status samples", len(files))
	}
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseStatus(body)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if s.Pool != "www" || s.ProcessManager != "static" || s.TotalProcesses != 2 || s.IdleProcesses+s.ActiveProcesses != 2 || s.AcceptedConn == 0 || s.MaxActiveProcesses < 1 {
			t.Errorf("%s: %+v", f, s)
		}
		if !strings.Contains(f, "openmetrics") && s.StartTime.IsZero() {
			t.Errorf("%s: no start time", f)
		}
	}
}

func TestParseStatusValues(t *testing.T) {
	text := "pool:                 api\nprocess manager:      dynamic\nstart time:           26/Nov/2026:19:54:17 +0100\n" +
		"start since:          42\naccepted conn:        7\nlisten queue:         3\nmax listen queue:     9\nlisten queue len:     128\n" +
		"idle processes:       0\nactive processes:     5\ntotal processes:      5\nmax active processes: 5\nmax children reached: 2\nslow requests:        1\n"
	want := Status{Pool: "api", ProcessManager: "dynamic", StartTime: time.Date(2026, 11, 26, 18, 54, 17, 0, time.UTC),
		StartSince: 42, AcceptedConn: 7, ListenQueue: 3, MaxListenQueue: 9, ListenQueueLen: 128, IdleProcesses: 0,
		ActiveProcesses: 5, TotalProcesses: 5, MaxActiveProcesses: 5, MaxChildrenReached: 2, SlowRequests: 1}
	s, err := ParseStatus([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if !s.StartTime.Equal(want.StartTime) {
		t.Fatalf("start time %v", s.StartTime)
	}
	s.StartTime = want.StartTime
	if *s != want {
		t.Fatalf("got %+v\nwant %+v", *s, want)
	}
	for _, bad := range []string{"", "File not found.", "{\"pool\":", "<status><pool>", "pool: x\naccepted conn: many\n"} {
		if _, err := ParseStatus([]byte(bad)); err == nil {
			t.Errorf("ParseStatus(%q) succeeded", bad)
		}
	}
}

func TestThresholds(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	s := &Status{ListenQueue: 3, IdleProcesses: 1, ActiveProcesses: 4}
	if p := (Thresholds{MaxListenQueue: n(3), MinIdle: n(1), MaxActive: n(4)}).check(s); len(p) != 0 {
		t.Fatalf("at the limits: %v", p)
	}
	p := (Thresholds{MaxListenQueue: n(2), MinIdle: n(2), MaxActive: n(3)}).check(s)
	if len(p) != 3 {
		t.Fatalf("over the limits: %v", p)
	}
	if err := (Options{Thresholds: Thresholds{MinIdle: n(1)}}).Validate(); err == nil {
		t.Fatal("thresholds without a status path accepted")
	}
	if err := (Options{PingPath: "ping"}).Validate(); err == nil {
		t.Fatal("relative ping path accepted")
	}
}

func TestExitCodes(t *testing.T) {
	want := map[Verdict]int{VerdictHealthy: 0, VerdictUnhealthy: 1, VerdictError: 2, VerdictUnreachable: 3, VerdictSaturated: 4, VerdictFailed: 5}
	for v, code := range want {
		if got := (Result{Verdict: v}).ExitCode(); got != code {
			t.Errorf("%s: exit %d, want %d", v, got, code)
		}
	}
}

// fakePool answers every request with a scripted FastCGI response after
// reading the request through its empty STDIN record; it records the params.
func fakePool(t *testing.T, answer []byte) (Target, <-chan map[string]string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "probe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	seen := make(chan map[string]string, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			params := map[string]string{}
			var raw []byte
			for {
				var h [8]byte
				if _, err := io.ReadFull(c, h[:]); err != nil {
					break
				}
				body := make([]byte, int(binary.BigEndian.Uint16(h[4:6]))+int(h[6]))
				io.ReadFull(c, body)
				content := body[:binary.BigEndian.Uint16(h[4:6])]
				if h[1] == 4 {
					raw = append(raw, content...)
				}
				if h[1] == 5 && len(content) == 0 {
					break
				}
			}
			for len(raw) > 1 { // short lengths only: enough for probe params
				nl, vl := int(raw[0]), int(raw[1])
				params[string(raw[2:2+nl])] = string(raw[2+nl : 2+nl+vl])
				raw = raw[2+nl+vl:]
			}
			seen <- params
			c.Write(answer)
			c.Close()
		}
	}()
	return Target{"unix", path}, seen
}

func fcgiAnswer(stdout, stderr string) []byte {
	var b bytes.Buffer
	rec := func(typ byte, s string) {
		b.Write([]byte{1, typ, 0, 1, byte(len(s) >> 8), byte(len(s)), 0, 0})
		b.WriteString(s)
	}
	rec(6, stdout)
	if stderr != "" {
		rec(7, stderr)
	}
	rec(6, "")
	rec(3, "\x00\x00\x00\x00\x00\x00\x00\x00")
	return b.Bytes()
}

func TestProbeAgainstFakePool(t *testing.T) {
	ctx := context.Background()
	opts := Options{Timeout: time.Second}
	notFound := fcgiAnswer("Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nFile not found.\n", "Primary script unknown")
	cases := []struct {
		name    string
		answer  []byte
		opts    func(*Options)
		method  Method
		verdict Verdict
		reason  string
	}{
		{"unknown script", notFound, func(*Options) {}, MethodUnknownScript, VerdictHealthy, "ok"},
		{"ping", fcgiAnswer("Content-type: text/plain\r\n\r\npong", ""), func(o *Options) { o.PingPath = "/ping" }, MethodPing, VerdictHealthy, "ok"},
		{"ping wrong answer", fcgiAnswer("Content-type: text/plain\r\n\r\npong", ""), func(o *Options) { o.PingPath, o.PingResponse = "/ping", "alive" }, MethodPing, VerdictUnhealthy, "unexpected-response"},
		{"ping not configured", notFound, func(o *Options) { o.PingPath = "/ping" }, MethodPing, VerdictUnhealthy, "ping-not-configured"},
		{"ping preferred over status", fcgiAnswer("\r\npong", ""), func(o *Options) { o.PingPath, o.StatusPath = "/ping", "/status" }, MethodPing, VerdictHealthy, "ok"},
		{"status not configured", notFound, func(o *Options) { o.StatusPath = "/status" }, MethodStatus, VerdictUnhealthy, "status-not-configured"},
		{"error status", fcgiAnswer("Status: 500 Internal Server Error\r\n\r\n", ""), func(*Options) {}, MethodUnknownScript, VerdictUnhealthy, "error-status"},
		{"script ran", fcgiAnswer("Content-type: text/html\r\n\r\nhello", ""), func(*Options) {}, MethodUnknownScript, VerdictUnhealthy, "unexpected-response"},
		{"overloaded", []byte{1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0}, func(*Options) {}, MethodUnknownScript, VerdictUnhealthy, "request-refused"},
		{"early close", []byte{1, 6, 0, 1, 0, 4, 0, 0, 'S', 't', 'a'}, func(*Options) {}, MethodUnknownScript, VerdictFailed, "early-close"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target, seen := fakePool(t, c.answer)
			o := opts
			c.opts(&o)
			r := Probe(ctx, target, o)
			if r.Method != c.method || r.Verdict != c.verdict || r.Reason != c.reason {
				t.Fatalf("got %s/%s/%s (%s), want %s/%s/%s", r.Method, r.Verdict, r.Reason, r.Detail, c.method, c.verdict, c.reason)
			}
			params := <-seen
			if f := params["SCRIPT_FILENAME"]; !strings.HasPrefix(f, "/fpmdoctor-probe-") || !strings.HasSuffix(f, ".php") {
				t.Fatalf("SCRIPT_FILENAME %q could name a real script", f)
			}
		})
	}
}

func TestProbeStatusThresholdsFake(t *testing.T) {
	body, err := os.ReadFile("testdata/status-json.txt")
	if err != nil {
		t.Fatal(err)
	}
	target, seen := fakePool(t, fcgiAnswer("Content-Type: application/json\r\n\r\n"+string(body), ""))
	one := int64(1)
	r := Probe(context.Background(), target, Options{Timeout: time.Second, PingPath: "/ping", StatusPath: "/status", Thresholds: Thresholds{MinIdle: &one}})
	if r.Method != MethodStatus || !r.OK() || r.Status == nil || r.Status.Pool != "www" {
		t.Fatalf("%+v", r)
	}
	if p := <-seen; p["SCRIPT_NAME"] != "/status" || p["QUERY_STRING"] != "json" {
		t.Fatalf("params %v", p)
	}
	two := int64(2)
	r = Probe(context.Background(), target, Options{Timeout: time.Second, StatusPath: "/status", Thresholds: Thresholds{MinIdle: &two}})
	if r.Verdict != VerdictUnhealthy || r.Reason != "threshold" || r.ExitCode() != 1 {
		t.Fatalf("%+v", r)
	}
	js, err := json.Marshal(r)
	if err != nil || !bytes.Contains(js, []byte(`"exit_code":1`)) || !bytes.Contains(js, []byte(`"idle_processes":1`)) {
		t.Fatalf("json %s %v", js, err)
	}
}

func TestProbeNeverWaitsPastDeadline(t *testing.T) {
	dir, _ := os.MkdirTemp("", "probe")
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "s.sock")) // accepts in the kernel, never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	start := time.Now()
	r := Probe(context.Background(), Target{"unix", filepath.Join(dir, "s.sock")}, Options{Timeout: 200 * time.Millisecond})
	if r.Verdict != VerdictSaturated || r.ExitCode() != 4 {
		t.Fatalf("%+v", r)
	}
	if d := time.Since(start); d > 200*time.Millisecond+slack {
		t.Fatalf("took %s with a 200ms timeout", d)
	}
}

// TestBacklogFull: a unix listener whose queue is full refuses a
// non-blocking connect with EAGAIN, which nginx logs as
// "(11: Resource temporarily unavailable)". Both the direct connect and the
// connect as the worker user must report it, at once.
func TestBacklogFull(t *testing.T) {
	dir, err := os.MkdirTemp("", "probe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	path := filepath.Join(dir, "full.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o777)
	if err := unix.Listen(fd, 0); err != nil { // never accepts
		t.Fatal(err)
	}
	// Fill the queue (backlog 0 still admits one connection).
	for range 3 {
		if c, err := net.Dial("unix", path); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	target := Target{"unix", path}
	r := Probe(context.Background(), target, Options{Timeout: 2 * time.Second})
	if r.Verdict != VerdictUnreachable || r.Reason != "backlog-full" || r.Latency > time.Second {
		t.Fatalf("%s/%s after %s: %s", r.Verdict, r.Reason, r.Latency, r.Detail)
	}
	if os.Geteuid() == 0 {
		nobody, err := LookupUser("nobody")
		if err != nil {
			lab.Unavailable(t, "no user nobody")
		}
		r = Probe(context.Background(), target, Options{Timeout: 2 * time.Second, As: nobody})
		if r.Verdict != VerdictUnreachable || r.Reason != "backlog-full" || r.AsUser != "nobody" {
			t.Fatalf("as nobody: %s/%s: %s", r.Verdict, r.Reason, r.Detail)
		}
	}
}

// An HTTP server on the port (nginx's own listener, a Node app) answers a
// FastCGI request with "HTTP/1.1 400": the probe names the protocol.
func TestProbeHTTPServerIsNotFastCGI(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	r := Probe(context.Background(), Target{Network: "tcp", Address: ln.Addr().String()}, Options{Timeout: 2 * time.Second})
	if r.Reason != "not-fastcgi" || r.Verdict != VerdictFailed || !strings.Contains(r.Detail, `"HTTP/1.1"`) || !strings.Contains(r.Detail, "version byte 72") {
		t.Fatalf("probe of an HTTP server: %s %s: %s", r.Verdict, r.Reason, r.Detail)
	}
}
