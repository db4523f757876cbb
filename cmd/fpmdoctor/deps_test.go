package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The shipped binary carries no test code: internal/lab (testing.TB
// helpers) stays out of it, and `fpmdoctor lab` runs on internal/rehearse.
func TestBinaryDoesNotImportTesting(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("skipping: the go command is not on PATH")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "testing" || strings.HasSuffix(pkg, "/internal/lab") {
			t.Errorf("cmd/fpmdoctor depends on %s", pkg)
		}
		// Prometheus' client library costs every process ~6 ms of package
		// initialisation; only fpmdoctor-watch links it (watch.go).
		if strings.HasPrefix(pkg, "github.com/prometheus/client_golang") || strings.HasSuffix(pkg, "/internal/watchcmd") {
			t.Errorf("cmd/fpmdoctor depends on %s, which belongs in fpmdoctor-watch", pkg)
		}
		// procfs compiles about twenty regexps at init, ~1 ms of every
		// start; internal/host reads /proc itself (procread.go).
		if strings.HasPrefix(pkg, "github.com/prometheus/procfs") {
			t.Errorf("cmd/fpmdoctor depends on %s: read the /proc file in internal/host (procread.go) instead", pkg)
		}
	}
}
