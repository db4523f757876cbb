// Command fpmdoctor finds and fixes the causes of nginx 502/504 errors in
// sites served by PHP-FPM. This package only wires the CLI; the work is done
// in internal/.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/internal/probe"
)

// exitError carries an exit status through cobra without printing twice.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func main() {
	if probe.MaybeRunConnectHelper() { // the probe's --as-user child; exits itself
		return
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintln(os.Stderr, "fpmdoctor:", err)
		return 2
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "fpmdoctor",
		Short:         "Find and fix why nginx answers 502/504 for PHP-FPM sites",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// Bare `fpmdoctor` diagnoses, as an on-call engineer expects.
	diag := newDiagnoseCmd()
	root.RunE = diag.RunE
	root.Args = cobra.NoArgs
	root.Flags().AddFlagSet(diag.Flags())
	root.AddCommand(subcommands()...)
	root.AddCommand(diag)
	return root
}
