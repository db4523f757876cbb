package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fpmdoctor/fpmdoctor/internal/clitest"
	"github.com/fpmdoctor/fpmdoctor/internal/watchcmd"
)

func TestMain(m *testing.M) {
	// Tests that need the CLI on a terminal of their own run this binary
	// as fpmdoctor (terminal_test.go).
	if os.Getenv("FPMDOCTOR_TEST_AS_CLI") == "1" {
		os.Exit(run(os.Args[1:]))
	}
	testscript.Main(m, map[string]func(){
		"fpmdoctor": func() { os.Exit(run(os.Args[1:])) },
		// `fpmdoctor watch` runs fpmdoctor-watch (watch.go), found in PATH.
		"fpmdoctor-watch": func() { os.Exit(watchcmd.Main(os.Args[1:])) },
	})
}

// TestCLI runs the scripts in testdata/script: the CLI as users call it.
func TestCLI(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("EXAMPLES", filepath.Join(repo, "examples"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// status N CMD ARGS...: run CMD and require exit status N (the
			// documented 0/1/2 contract, which `! exec` cannot tell apart).
			"status": clitest.Status,
		},
	})
}
