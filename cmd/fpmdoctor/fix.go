package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/fix"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

type fixFlags struct {
	site     siteFlags
	yes      bool
	dryRun   bool
	rollback bool
	noReplay bool
	choose   string
}

func newFixCmd() *cobra.Command {
	var flags fixFlags
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Repair what diagnose found: show the plan, apply it safely, verify, roll back on failure",
		Long: `fix diagnoses like diagnose, then shows its plan: for each finding with a
safe automatic remedy the unified diff of every file it changes, the config
tests and service operations it runs, and what it checks afterwards. It asks
once; --yes skips the question, --dry-run only shows.

Files are backed up under $FPMDOCTOR_STATE_DIR (default /var/lib/fpmdoctor)
and replaced atomically; nginx -t / php-fpm -t run before anything is
reloaded; the sites are requested through nginx afterwards. On any failure
every file is restored byte for byte and the services are brought back.
A run that was killed leaves a journal; the next fix restores it first
(--rollback does only that).

Where the cause is request-specific (header-too-big, request-timeout) the
logged failing GET/HEAD is replayed through nginx (same Host and URI) to
prove the fix; --no-replay skips that, and such a change ends "applied but
not verified". A finding that needs a choice (a pool whose user does not
exist) lists its choices; --choose N applies one, --yes never guesses.
The run ends with one verdict: fixed and verified, applied but not
verified, partly fixed, or failed and rolled back.

Exit status: 0 fixed (verified or not) or nothing to do, 1 findings remain or the fix failed
and was rolled back, 2 fpmdoctor could not do its job.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			code, err := runFix(cmd.Context(), &flags, os.Stdin, os.Stdout)
			if err != nil {
				return err
			}
			if code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	flags.site.register(cmd)
	cmd.Flags().BoolVarP(&flags.yes, "yes", "y", false, "apply without asking")
	cmd.Flags().BoolVar(&flags.dryRun, "dry-run", false, "show the plan, change nothing")
	cmd.Flags().BoolVar(&flags.rollback, "rollback", false, "only restore what an interrupted fix left behind")
	cmd.Flags().StringVar(&flags.choose, "choose", "", "apply choice N of a finding that offers choices (a pool whose user or group does not exist), or user=NAME / group=NAME; without it such findings stay manual, even with --yes")
	cmd.Flags().BoolVar(&flags.noReplay, "no-replay", false, "never send a logged failing request again (header-too-big and request-timeout fixes then end \"not verified\")")
	return cmd
}

// fixJSON is the --format json output.
type fixJSON struct {
	Actions   []actionJSON     `json:"actions"`
	Files     []fileJSON       `json:"files"`
	Commands  []string         `json:"commands"`
	Checks    []string         `json:"checks"`
	Manual    []manualJSON     `json:"manual"`
	Applied   bool             `json:"applied"`
	Result    *resultJSON      `json:"result,omitempty"`
	Remaining []report.Finding `json:"remaining,omitempty"`
}

type actionJSON struct {
	Cause   string `json:"cause"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
	Why     string `json:"why,omitempty"`
}

type fileJSON struct {
	Path string `json:"path"`
	Real string `json:"real"`
	Diff string `json:"diff"`
}

type manualJSON struct {
	Cause    string `json:"cause"`
	Title    string `json:"title"`
	Reason   string `json:"reason"`
	NextStep string `json:"next_step"`
}

type resultJSON struct {
	// Verdict is the one verdict (fix.Outcome); Fixed is true only for
	// "fixed and verified".
	Verdict     string   `json:"verdict"`
	NotVerified []string `json:"not_verified,omitempty"`
	// Earlier are logged failures of a repaired cause, all from before
	// the change took effect.
	Earlier    []report.Finding  `json:"earlier,omitempty"`
	Fixed      bool              `json:"fixed"`
	RolledBack bool              `json:"rolled_back"`
	Restored   bool              `json:"restored"`
	Error      string            `json:"error,omitempty"`
	Backups    map[string]string `json:"backups"`
}

func runFix(ctx context.Context, flags *fixFlags, in io.Reader, stdout io.Writer) (int, error) {
	jsonOut := false
	switch flags.site.format {
	case "text", "":
	case "json":
		jsonOut = true
	default:
		return 2, fmt.Errorf("unknown format %q for fix (text or json)", flags.site.format)
	}
	// Progress goes to stdout for text, stderr for JSON (stdout stays one object).
	progress := stdout
	if jsonOut {
		progress = os.Stderr
	}
	opts := fix.Options{Out: progress}
	live := flags.site.root == ""

	if live && !flags.dryRun {
		j, err := fix.Recover(ctx, opts)
		if err != nil {
			return 2, fmt.Errorf("restore the interrupted fix: %w", err)
		}
		if j != nil {
			fmt.Fprintf(progress, "restored %d file(s) from the interrupted fix of %s\n", len(j.Files), j.Started.Format("2006-01-02 15:04:05"))
		} else if flags.rollback {
			fmt.Fprintln(progress, "nothing to roll back")
		}
		if flags.rollback {
			return 0, nil
		}
	} else if flags.rollback {
		return 2, errors.New("--rollback works on the live host only (not with --root or --dry-run)")
	}

	r, s, err := doctor.Diagnose(ctx, flags.site.options())
	if err != nil {
		return 2, err
	}
	plan, err := fix.MakeWith(s, r, fix.MakeOptions{NoReplay: flags.noReplay, Choose: flags.choose})
	if err != nil {
		return 2, err
	}
	out := planJSON(plan)
	if !jsonOut {
		width := 0 // a pipe: every line whole
		if f, ok := stdout.(*os.File); ok {
			width = textOptions(f).Width
		}
		fix.WritePlanWidth(stdout, plan, width)
	}
	remaining := func() int {
		if r.HasErrors() {
			return 1
		}
		return 0
	}
	finish := func(code int) (int, error) {
		if jsonOut {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(out); err != nil {
				return 2, fmt.Errorf("write json: %w", err)
			}
		}
		return code, nil
	}
	switch {
	case plan.Empty():
		return finish(remaining())
	case !live:
		fmt.Fprintln(progress, "\n--root: plan only; nothing is applied to an offline tree.")
		return finish(remaining())
	case flags.dryRun:
		fmt.Fprintln(progress, "\n--dry-run: nothing changed.")
		return finish(remaining())
	}
	if !flags.yes {
		fmt.Fprint(progress, "\nApply this plan? [y/N] ")
		line, _ := bufio.NewReader(in).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
			fmt.Fprintln(progress, "Nothing changed.")
			return finish(remaining())
		}
	}
	fmt.Fprintln(progress)
	res, err := fix.Apply(ctx, plan, opts)
	if err != nil {
		return 2, err
	}
	out.Applied = true
	out.Result = &resultJSON{RolledBack: res.RolledBack, Restored: res.Restored, Backups: map[string]string{}, NotVerified: res.NotVerified}
	for _, b := range res.Backups {
		out.Result.Backups[b.Real] = b.Backup
	}
	if res.Err != nil {
		out.Result.Error = res.Err.Error()
	}
	if res.Fixed && len(res.Backups) > 0 {
		fmt.Fprintln(progress, "\nBackups:")
		for _, b := range res.Backups {
			fmt.Fprintf(progress, "  %s -> %s\n", b.Real, b.Backup)
		}
	}
	// What is left is what a person has to do: diagnose again before
	// saying anything, so the verdict is one.
	var errs []report.Finding
	if res.Fixed {
		after, _, err := doctor.Diagnose(ctx, flags.site.options())
		if err != nil {
			return 2, err
		}
		for _, f := range after.Findings {
			if f.Severity == report.Error {
				errs = append(errs, f)
			}
		}
	}
	c := fix.Conclude(plan, res, errs)
	out.Remaining, out.Result.Earlier = c.Remaining, c.Earlier
	out.Result.Verdict = string(c.Outcome)
	out.Result.Fixed = c.Outcome == fix.FixedVerified
	fmt.Fprintln(progress)
	for _, l := range c.Lines {
		fmt.Fprintln(progress, l)
	}
	return finish(c.Code)
}

func planJSON(p *fix.Plan) *fixJSON {
	out := &fixJSON{Actions: []actionJSON{}, Files: []fileJSON{}, Commands: []string{}, Checks: []string{}, Manual: []manualJSON{}}
	for _, a := range p.Actions {
		out.Actions = append(out.Actions, actionJSON{Cause: a.Finding.Cause, Title: a.Finding.Title, Summary: a.Summary, Why: a.Why})
	}
	for _, f := range p.Files {
		out.Files = append(out.Files, fileJSON{Path: f.Path, Real: f.Real, Diff: f.Diff})
	}
	out.Commands = p.Commands()
	out.Checks = p.CheckLines()
	for _, m := range p.Manual {
		out.Manual = append(out.Manual, manualJSON{Cause: m.Finding.Cause, Title: m.Finding.Title, Reason: m.Reason, NextStep: fix.NextStep(m.Finding)})
	}
	return out
}
