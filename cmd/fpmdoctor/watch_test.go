package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// lockedBuffer is the child's stderr, read while it writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestWatchProcessRealServers runs `fpmdoctor watch` as its own process
// (this test binary under the name fpmdoctor, as testscript does) against
// a lab: the endpoints answer, SIGHUP re-discovers, SIGTERM ends it with
// status 0 and a final log line, in JSON as asked.
func TestWatchProcessRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	bin := filepath.Join(t.TempDir(), "fpmdoctor")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	// fpmdoctor watch runs fpmdoctor-watch from beside itself.
	if err := os.Symlink(self, filepath.Join(filepath.Dir(bin), "fpmdoctor-watch")); err != nil {
		t.Fatal(err)
	}
	port := lab.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "watch", "--listen", addr, "--nginx-conf", l.NginxConf(), "--fpm-conf", l.FPMConf(),
		"--interval", "500ms", "--pool-interval", "300ms", "--log.format", "json", "--log.level", "debug")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("watch's stderr:\n%s", stderr.String())
		}
	})
	get := func(path string) (int, string) {
		c := &http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if err := lab.WaitFor(func() bool { code, _ := get("/api/findings"); return code == 200 }, time.Minute); err != nil {
		t.Fatalf("/api/findings never answered: %v", err)
	}
	for path, want := range map[string]string{
		"/-/healthy":    "Healthy",
		"/api/findings": `"schema": 1`,
		"/":             "<svg",
		"/metrics":      "fpmdoctor_last_check_timestamp_seconds",
	} {
		code, body := get(path)
		if code != 200 || !strings.Contains(body, want) {
			if path == "/" && strings.Contains(body, "Nothing in the log window") {
				continue // a quiet lab has no timeline to draw yet
			}
			t.Errorf("GET %s: %d, no %q in\n%s", path, code, want, body)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := lab.WaitFor(func() bool { return strings.Contains(stderr.String(), `"msg":"SIGHUP`) }, time.Minute); err != nil {
		t.Fatal("no log line for SIGHUP")
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("watch ended with %v after SIGTERM", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("watch did not end after SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Fatalf("no final log line")
	}
	if code, _ := get("/-/healthy"); code != 0 {
		t.Fatal("still serving after exit")
	}
}
