package main

import (
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/clitest"
)

// TestBinaryStaysLean pins what fpmdoctor-probe links. Go runs every linked
// package's initialisation at each start, used or not, and a container
// health check starts it every few seconds: each package below cost the
// probe page faults and tenths of a millisecond before its first system
// call (docs/probe.md, "Start-up"). A new import of one of them belongs in
// fpmdoctor, not here.
func TestBinaryStaysLean(t *testing.T) {
	deny := []string{
		// standard library packages with costly init or that drag in more
		"testing", "encoding/xml", "net/http", "crypto/tls", "crypto/x509", "crypto/rand",
		"html/template", "text/template", "regexp", "compress/", "log/slog", "os/exec",
		// third-party: command framework, config parsers, metrics, fixers
		"github.com/spf13/cobra", "github.com/prometheus/", "go.yaml.in/", "gopkg.in/",
		"github.com/google/nftables", "github.com/aymanbagabas/go-udiff", "github.com/coreos/go-systemd",
		"github.com/godbus/", "github.com/santhosh-tekuri/",
	}
	// Of fpmdoctor's own packages only these: the rest is for fpmdoctor.
	allowOwn := map[string]bool{"internal/probe": true, "internal/probe/probecli": true, "internal/fastcgi": true, "internal/ident": true, "internal/stackstart": true, "cmd/fpmdoctor-probe": true}
	const module = "github.com/fpmdoctor/fpmdoctor/"
	for _, pkg := range clitest.Deps(t) {
		if own, ok := strings.CutPrefix(pkg, module); ok {
			if !allowOwn[own] {
				t.Errorf("fpmdoctor-probe depends on %s", pkg)
			}
			continue
		}
		for _, d := range deny {
			if pkg == d || strings.HasSuffix(d, "/") && strings.HasPrefix(pkg, d) || strings.HasPrefix(pkg, d+"/") {
				t.Errorf("fpmdoctor-probe depends on %s", pkg)
			}
		}
	}
}

// TestStackGrowsFirst: internal/stackstart must initialise before the
// standard library's deep initialisation (internal/godebug) and before
// anything of ours, or its single early stack growth becomes one more.
func TestStackGrowsFirst(t *testing.T) {
	clitest.RequireInitFirst(t, clitest.InitOrder(t, "--help"), "github.com/fpmdoctor/fpmdoctor/internal/stackstart")
}
