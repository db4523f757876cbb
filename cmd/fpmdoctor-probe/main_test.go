package main

import (
	"context"
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fpmdoctor/fpmdoctor/internal/clitest"

	"github.com/fpmdoctor/fpmdoctor/internal/probe/probecli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"fpmdoctor-probe": func() {
			os.Exit(probecli.Main(context.Background(), "fpmdoctor-probe", os.Args[1:], os.Stdout, os.Stderr))
		},
	})
}

// TestCLI runs testdata/script: fpmdoctor-probe as a container calls it.
// The exit statuses against a real php-fpm are checked side by side with
// `fpmdoctor probe` in cmd/fpmdoctor (TestProbeBinariesAgreeRealFPM).
func TestCLI(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// status N CMD ARGS...: run CMD and require exit status N.
			"status": clitest.Status,
		},
	})
}
