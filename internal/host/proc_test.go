package host

import (
	"os/exec"
	"slices"
	"testing"
	"time"
)

// Environ reads a process's starting environment: a child started with a
// marker variable shows it.
func TestEnviron(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	cmd.Env = []string{"FPMDOCTOR_MARK=pool-42", "PATH=/usr/bin:/bin"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	// Until the child has exec'd, /proc/PID/environ is the forked copy
	// (empty on a loaded machine): wait for the exec, bounded.
	var env []string
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		env, err = Environ(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if len(env) > 0 || time.Now().After(deadline) {
			break
		}
	}
	if !slices.Contains(env, "FPMDOCTOR_MARK=pool-42") {
		t.Fatalf("environ %q lacks the marker", env)
	}
	if _, err := Environ(1 << 30); err == nil {
		t.Fatal("no error for a pid that does not exist")
	}
}
