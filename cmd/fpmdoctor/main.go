// Command fpmdoctor finds and fixes the causes of nginx 502/504 errors in
// sites served by PHP-FPM. This package only wires the CLI; the work is done
// in internal/.
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	_ "github.com/fpmdoctor/fpmdoctor/internal/stackstart" // one stack growth at start, not several
	"github.com/fpmdoctor/fpmdoctor/internal/version"
)

// exitError carries an exit status through cobra without printing twice.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// softMemoryLimit keeps fpmdoctor small on a host that may be out of
// memory already (the very outage it diagnoses): the garbage collector
// works harder only as the heap nears it, and Go caps that work rather than
// fail when a huge host needs more. GOMEMLIMIT overrides it.
const softMemoryLimit = 80 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRootCmd(args)
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

// leanCommand reports whether name is a command that must start fast: a
// health check runs `fpmdoctor probe` every few seconds and an on-call
// engineer waits for diagnose. For those only the command run is built
// (build is nil for diagnose, which the root always builds): building every
// other command's flags and help, and cobra's completion command whose help
// texts it formats on every run, cost each start about 30 page faults, a
// millisecond (docs/probe.md, "Start-up"). Neither command can reach the
// others, so its flags, help, output and errors stay the same.
func leanCommand(name string) (build func() *cobra.Command, ok bool) {
	switch name {
	case "probe":
		return newProbeCmd, true
	case "diagnose":
		return nil, true
	}
	return nil, false
}

// newRootCmd builds the command tree for args: all of it, or for a lean
// command only that command.
func newRootCmd(args []string) *cobra.Command {
	root := &cobra.Command{
		Use:           "fpmdoctor",
		Short:         "Find and fix why nginx answers 502/504 for PHP-FPM sites",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Get().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	// Bare `fpmdoctor` diagnoses, as an on-call engineer expects.
	diag := newDiagnoseCmd()
	root.RunE = diag.RunE
	root.Args = cobra.NoArgs
	root.Flags().AddFlagSet(diag.Flags())
	if len(args) > 0 {
		if build, ok := leanCommand(args[0]); ok {
			if build != nil {
				root.AddCommand(build())
			}
			root.AddCommand(diag)
			root.CompletionOptions.DisableDefaultCmd = true
			return root
		}
	}
	root.AddCommand(subcommands()...)
	root.AddCommand(diag)
	buildCommands(root)
	addCompletions(root)
	return root
}
