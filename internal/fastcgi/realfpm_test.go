package fastcgi

import (
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// startLab runs the lab's default www pool with ping and status enabled.
func startLab(t testing.TB, extraPool string) (*lab.Lab, *Client) {
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes\n",
		"catch_workers_output = yes\nping.path = /ping\npm.status_path = /status\n"+extraPool)
	l.MustStartFPM()
	return l, &Client{Network: "unix", Address: l.Path("run/php-fpm.sock"), Options: Options{Timeout: 5 * time.Second}}
}

func get(scriptName, scriptFile, query string) *Request {
	return &Request{Params: map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"REQUEST_METHOD":    "GET",
		"SCRIPT_NAME":       scriptName,
		"SCRIPT_FILENAME":   scriptFile,
		"QUERY_STRING":      query,
		"SERVER_PROTOCOL":   "HTTP/1.1",
	}}
}

func TestRealFPM(t *testing.T) {
	t.Parallel()
	l, c := startLab(t, "")
	ctx := context.Background()

	t.Run("ping", func(t *testing.T) {
		resp, err := c.Do(ctx, get("/ping", "/fpmdoctor-nonexistent.php", ""))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || string(resp.Body) != "pong" || len(resp.Stderr) != 0 {
			t.Fatalf("ping: %v body %q stderr %q", resp, resp.Body, resp.Stderr)
		}
	})
	t.Run("script", func(t *testing.T) {
		resp, err := c.Do(ctx, get("/ok.php", l.Path("www/ok.php"), ""))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 200 || string(resp.Body) != "ok\n" {
			t.Fatalf("ok.php: %v body %q", resp, resp.Body)
		}
	})
	t.Run("stderr kept apart", func(t *testing.T) {
		resp, err := c.Do(ctx, get("/stderr.php", l.Path("www/stderr.php"), ""))
		if err != nil {
			t.Fatal(err)
		}
		// error_log() goes to the FastCGI stderr stream; the body must not
		// contain it and stderr must not contain the body.
		if string(resp.Body) != "ok\n" || !strings.Contains(string(resp.Stderr), "lab error_log line") || strings.Contains(string(resp.Stderr), "ok\n") {
			t.Fatalf("body %q stderr %q", resp.Body, resp.Stderr)
		}
	})
	t.Run("missing script", func(t *testing.T) {
		resp, err := c.Do(ctx, get("/nope.php", "/fpmdoctor-nonexistent.php", ""))
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != 404 || string(resp.Stderr) != "Primary script unknown" || strings.Contains(string(resp.Body), "Primary") {
			t.Fatalf("missing: %v body %q stderr %q", resp, resp.Body, resp.Stderr)
		}
	})
	t.Run("status formats", func(t *testing.T) {
		for q, want := range map[string]string{
			"":            "accepted conn:",
			"json":        `"accepted conn":`,
			"full":        "************************",
			"json&full":   `"processes":[`,
			"xml":         "<accepted-conn>",
			"openmetrics": "phpfpm_accepted_connections ",
		} {
			resp, err := c.Do(ctx, get("/status", "/fpmdoctor-nonexistent.php", q))
			if err != nil {
				t.Fatalf("?%s: %v", q, err)
			}
			if resp.Status != 200 || !strings.Contains(string(resp.Body), want) {
				t.Fatalf("?%s: %v body %q", q, resp, resp.Body)
			}
		}
	})
	t.Run("worker killed mid-request", func(t *testing.T) {
		resp, err := c.Do(ctx, get("/crash.php", l.Path("www/crash.php"), "sig=9"))
		var ce *ClosedError
		if !errors.As(err, &ce) {
			t.Fatalf("got %v, %v; want *ClosedError, never success", resp, err)
		}
		if ce.Phase != PhaseFirstByte || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)) {
			t.Errorf("closed in %s: %v; want first-byte phase, EOF or reset", ce.Phase, ce.Err)
		}
	})
}

// TestRealFPMStoppedAndStale checks the connect errors nginx logs as
// "(2: No such file or directory)" and "(111: Connection refused)".
func TestRealFPMStoppedAndStale(t *testing.T) {
	t.Parallel()
	l, c := startLab(t, "")
	l.KillFPM() // SIGKILL leaves the socket file behind
	// KillFPM waits for the master only; until the workers are reaped too,
	// the shared listening socket still accepts (and then resets).
	var err error
	_ = lab.WaitFor(func() bool {
		_, err = c.Do(context.Background(), get("/ping", "/x.php", ""))
		var closed *ClosedError
		return !errors.As(err, &closed)
	}, 3*time.Second)
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Errno != syscall.ECONNREFUSED {
		t.Fatalf("stale socket: %v", err)
	}
	l.MustStartFPM()
	l.StopFPM() // a clean stop removes the socket
	_, err = c.Do(context.Background(), get("/ping", "/x.php", ""))
	if !errors.As(err, &ce) || ce.Errno != syscall.ENOENT {
		t.Fatalf("stopped pool: %v", err)
	}
}

// BenchmarkRoundTrip measures one ping exchange (connect, write, read,
// close) against a real php-fpm, in-process.
func BenchmarkRoundTrip(b *testing.B) {
	_, c := startLab(b, "pm = static\npm.max_children = 2\n")
	req := get("/ping", "/fpmdoctor-nonexistent.php", "")
	ctx := context.Background()
	for b.Loop() {
		resp, err := c.Do(ctx, req)
		if err != nil || string(resp.Body) != "pong" {
			b.Fatalf("%v %v", resp, err)
		}
	}
}
