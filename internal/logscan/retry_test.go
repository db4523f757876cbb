package logscan

import (
	"fmt"
	"testing"
	"time"
)

// TestAttempts: only the last try of a request decides its status. The
// lines are nginx's own wording (a dead TCP server, a missing socket, a
// read timeout), laid out as nginx logs the tries of one request: same
// worker, connection, request and client, one line per server tried.
func TestAttempts(t *testing.T) {
	line := func(conn int, req, up, what string) string {
		return fmt.Sprintf(`2026/11/26 19:13:50 [error] 24843#24843: *%d %s, client: 127.0.0.1, server: example.com, request: "%s", upstream: "fastcgi://%s", host: "example.com"`, conn, what, req, up)
	}
	const (
		refused = "connect() failed (111: Connection refused) while connecting to upstream"
		enoent  = "connect() to unix:/run/a.sock failed (2: No such file or directory) while connecting to upstream"
		timeout = "upstream timed out (110: Connection timed out) while reading response header from upstream"
		get     = "GET /ok.php HTTP/1.1"
		post    = "POST /form.php HTTP/1.1"
	)
	noLive := `2026/11/26 19:13:51 [error] 24843#24843: *9 no live upstreams while connecting to upstream, client: 127.0.0.1, server: example.com, request: "GET /ok.php HTTP/1.1", upstream: "fastcgi://php_pool", host: "example.com"`
	steps := []struct {
		what  string
		raw   string
		tries int
		want  int // status left on the entry; 0 with retried
	}{
		{"a dead server before a live one: tried again elsewhere", line(1, get, "127.0.0.1:9001", refused), 2, 0},
		{"the next request, on another connection: the same", line(2, get, "127.0.0.1:9001", refused), 2, 0},
		{"both dead: the first try", line(3, get, "127.0.0.1:9001", refused), 2, 0},
		{"both dead: the second try ends the request", line(3, get, "127.0.0.1:9002", refused), 2, 502},
		{"a keepalive connection's next request tries the dead server again", line(1, get, "127.0.0.1:9001", refused), 2, 0},
		{"a unix socket missing, three servers: first try", line(4, get, "unix:/run/a.sock:", enoent), 3, 0},
		{"interleaved with another request", line(5, get, "unix:/run/a.sock:", enoent), 3, 0},
		{"second try of *4", line(4, get, "127.0.0.1:9001", refused), 3, 0},
		{"third try of *4: no server left", line(4, get, "127.0.0.1:9002", refused), 3, 502},
		{"no upstream to fail over to", line(6, get, "127.0.0.1:9000", refused), 1, 502},
		{"a POST whose request was sent is not repeated", line(7, post, "127.0.0.1:9001", timeout), 2, 504},
		{"a POST whose connect failed is", line(8, post, "127.0.0.1:9001", refused), 2, 0},
		{"a GET timed out reading the header is", line(10, get, "127.0.0.1:9001", timeout), 2, 0},
		{"no live upstreams ends the request", noLive, 2, 502},
	}
	var a Attempts
	for _, s := range steps {
		e, ok := ParseNginx(s.raw, time.UTC)
		if !ok || !e.IsFailure() {
			t.Fatalf("%s: not a failure: %+v", s.what, e)
		}
		a.Mark(&e, s.tries)
		if e.Status != s.want || e.Retried != (s.want == 0) || e.IsFailure() != (s.want != 0) {
			t.Errorf("%s: status %d retried %v, want %d", s.what, e.Status, e.Retried, s.want)
		}
	}
}

// TestAggregatorRetried: failed tries count in their own series, not as
// 502s, and in their group's Retried.
func TestAggregatorRetried(t *testing.T) {
	raw := `2026/11/26 19:13:50 [error] 24843#24843: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: example.com, request: "GET /ok.php HTTP/1.1", upstream: "fastcgi://127.0.0.1:9001", host: "example.com"`
	agg := NewAggregator(5)
	var a Attempts
	for i, tries := range []int{2, 1} {
		e, _ := ParseNginx(raw, time.UTC)
		e.Conn = int64(i + 1)
		a.Mark(&e, tries)
		agg.Add(&e)
	}
	tl := agg.Timeline()
	if len(tl) != 1 || tl[0].Retried != 1 || tl[0].Nginx502 != 1 {
		t.Fatalf("timeline %+v, want one retried try and one 502", tl)
	}
	gs := agg.Groups()
	if len(gs) != 1 || gs[0].Count != 2 || gs[0].Retried != 1 {
		t.Fatalf("groups %+v", gs)
	}
}

// TestAttemptsBounded: requests whose retry succeeded leave nothing to
// end them; the kept ones stay bounded.
func TestAttemptsBounded(t *testing.T) {
	raw := `2026/11/26 19:13:50 [error] 24843#24843: *1 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: example.com, request: "GET /ok.php HTTP/1.1", upstream: "fastcgi://127.0.0.1:9001", host: "example.com"`
	var a Attempts
	e0, _ := ParseNginx(raw, time.UTC)
	for i := range 3 * maxPendingRequests {
		e := e0
		e.Conn = int64(i + 1)
		a.Mark(&e, 2)
		if !e.Retried {
			t.Fatalf("request %d: not retried", i)
		}
	}
	if n := len(a.cur) + len(a.prev); n > maxPendingRequests {
		t.Fatalf("%d requests kept, bound %d", n, maxPendingRequests)
	}
}
