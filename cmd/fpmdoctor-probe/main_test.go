package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

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
			"status": func(ts *testscript.TestScript, neg bool, args []string) {
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
			},
		},
	})
}
