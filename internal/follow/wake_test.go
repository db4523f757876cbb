//go:build linux

package follow

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// wait receives from ch; the limit only keeps a broken Wake from hanging
// the test (no speed is asserted).
func wait(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("no wake-up after %s", what)
	}
}

func TestWake(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "error.log")
	w := newWriter(t, path)
	f := New(path, Options{})
	ch := f.Wake()
	if ch == nil {
		t.Fatal("Wake: no inotify")
	}
	if f.Wake() != ch {
		t.Error("a second Wake returned another channel")
	}
	for i := 0; watchers() == 0 && i < 1000; i++ {
		runtime.Gosched() // let it start
	}
	if n := watchers(); n != 1 {
		t.Errorf("%d watcher goroutines", n)
	}
	var c collector

	// Another file in the directory (TestWakeIgnoresOtherFiles checks the filter).
	os.WriteFile(filepath.Join(dir, "access.log"), []byte("x\n"), 0o644)
	w.write(3)
	wait(t, ch, "a write")
	c.poll(t, f)
	select {
	case <-ch:
		// The write's events may arrive in two reads: drain one more.
	default:
	}

	os.Rename(path, path+".1")
	wait(t, ch, "a rename")
	w.write(1)
	w.reopen()
	w.write(2)
	wait(t, ch, "a create")
	c.poll(t, f)
	c.check(t, 0, 6)

	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// Close waited for the watcher to return; let it finish exiting.
	for i := 0; watchers() > 0 && i < 1000; i++ {
		runtime.Gosched()
	}
	if n := watchers(); n > 0 {
		t.Errorf("%d watcher goroutines left after Close", n)
	}
}

// watchers counts the goroutines running Follower.watch.
func watchers() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "follow.(*Follower).watch(")
}

func TestWakeIgnoresOtherFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "error.log")
	f := New(path, Options{})
	defer f.Close()
	ev := func(name string, mask uint32) []byte {
		b := make([]byte, 16+16)
		b[4] = byte(mask)
		b[12] = 16
		copy(b[16:], name)
		return b
	}
	for name, want := range map[string]bool{"error.log": true, "error.log.1": true, "error.log-20261204": true,
		"access.log": false, "error.log.2.gz": false, "other": false} {
		if got := f.relevant(ev(name, 2)); got != want {
			t.Errorf("%s: relevant %v", name, got)
		}
	}
	if !f.relevant(append(ev("access.log", 2), ev("error.log", 2)...)) {
		t.Error("second event of a batch ignored")
	}
}
