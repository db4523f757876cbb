// Package clitest holds what the CLI tests of fpmdoctor's binaries share.
package clitest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// Status is the testscript command `status N CMD ARGS...`: run CMD and
// require exit status N. The documented 0/1/2 (and probe's 3/4/5) exit
// codes are a contract that `! exec` cannot tell apart.
func Status(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status N command [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("status: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("status: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// goCommand finds the go command: these tests build and list the
// command they are about, which a laptop without Go cannot do.
func goCommand(t testing.TB) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		lab.Unavailable(t, "the go command is not on PATH")
	}
	return gobin
}

// Deps lists the packages the command in the current directory links
// (go list -deps): what runs its initialisation at every start.
func Deps(t testing.TB) []string {
	t.Helper()
	gobin := goCommand(t)
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	return strings.Fields(string(out))
}

// InitOrder builds the command in the current directory as it ships
// (static, stripped) and lists the packages whose initialisation it runs,
// in the order it runs them (GODEBUG=inittrace=1), when started with args.
func InitOrder(t testing.TB, args ...string) []string {
	t.Helper()
	gobin := goCommand(t)
	bin := filepath.Join(t.TempDir(), "cmd")
	build := exec.Command(gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := exec.Command(bin, args...)
	run.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, _ := run.CombinedOutput() // the exit status is not what this is for
	var pkgs []string
	for _, line := range strings.Split(string(out), "\n") {
		// init PKG @0.1 ms, 0.01 ms clock, 0 bytes, 0 allocs
		if f := strings.Fields(line); len(f) > 2 && f[0] == "init" && strings.HasPrefix(f[2], "@") {
			pkgs = append(pkgs, f[1])
		}
	}
	if len(pkgs) == 0 {
		t.Fatalf("%s %v printed no init trace:\n%s", bin, args, out)
	}
	return pkgs
}

// RequireInitFirst fails unless pkg's initialisation runs before that of
// internal/godebug and of every package outside the standard library and
// the runtime's own: what stackstart needs to grow the main goroutine's
// stack while it is still shallow.
func RequireInitFirst(t testing.TB, order []string, pkg string) {
	t.Helper()
	for _, p := range order {
		if p == pkg {
			return
		}
		if p == "internal/godebug" || strings.Contains(p, ".") {
			t.Fatalf("%s initialises before %s; init order: %v", p, pkg, order)
		}
	}
	t.Fatalf("%s does not initialise at all (not linked?); init order: %v", pkg, order)
}
