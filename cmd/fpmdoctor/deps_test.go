package main

import (
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/clitest"
)

// The shipped binary carries no test code: internal/lab (testing.TB
// helpers) stays out of it, and `fpmdoctor lab` runs on internal/rehearse.
func TestBinaryDoesNotImportTesting(t *testing.T) {
	for _, pkg := range clitest.Deps(t) {
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

// TestStackGrowsFirst: internal/stackstart must initialise before the
// standard library's deep initialisation (internal/godebug) and before
// anything of ours, or its single early stack growth becomes one more.
func TestStackGrowsFirst(t *testing.T) {
	clitest.RequireInitFirst(t, clitest.InitOrder(t, "probe", "--help"), "github.com/fpmdoctor/fpmdoctor/internal/stackstart")
}
