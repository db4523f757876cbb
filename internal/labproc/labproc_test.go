package labproc

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestReadPid(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"garbage": "x\n", "zero": "0", "negative": "-1", "dead": "999999999"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		if pid := ReadPid(p); pid != 0 {
			t.Errorf("%s: pid %d", name, pid)
		}
	}
	if pid := ReadPid(filepath.Join(dir, "missing")); pid != 0 {
		t.Errorf("missing: %d", pid)
	}
	p := filepath.Join(dir, "self")
	os.WriteFile(p, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
	if pid := ReadPid(p); pid != os.Getpid() {
		t.Errorf("self: %d", pid)
	}
}

// Stop ends a process that ignores the polite signal, and Children sees
// the child until then.
func TestStopAndChildren(t *testing.T) {
	cmd := exec.Command("sh", "-c", "trap '' QUIT; sleep 60")
	if err := cmd.Start(); err != nil {
		t.Skipf("skipping: cannot run sh: %v", err)
	}
	go cmd.Wait()
	if err := WaitFor(context.Background(), func() bool { return alive(cmd.Process.Pid) }, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range Children(os.Getpid()) {
		found = found || c == cmd.Process.Pid
	}
	if !found {
		t.Errorf("child %d not among %v", cmd.Process.Pid, Children(os.Getpid()))
	}
	Stop(cmd.Process.Pid, syscall.SIGQUIT, false) // ignored: killed after the grace period
	if alive(cmd.Process.Pid) && !zombie(cmd.Process.Pid) {
		t.Error("process survived Stop")
	}
}

func TestWaitForEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitFor(ctx, func() bool { return false }, time.Hour); err != context.Canceled {
		t.Errorf("WaitFor after cancel: %v", err)
	}
	if err := WaitFor(context.Background(), func() bool { return false }, 50*time.Millisecond); err == nil {
		t.Error("WaitFor of a false condition succeeded")
	}
	port, err := FreePort()
	if err != nil || port <= 0 {
		t.Errorf("FreePort: %d, %v", port, err)
	}
}
