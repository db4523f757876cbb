package main

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// siteFlags are the flags of every command that inspects a site.
type siteFlags struct {
	nginxConf string
	fpmConfs  []string
	root      string
	format    string
	since     time.Duration
	noProbe   bool
	probeWait time.Duration
	probeMax  int
}

func (f *siteFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.nginxConf, "nginx-conf", "", "nginx main config (default: discovered from the running master or the usual paths)")
	fl.StringArrayVar(&f.fpmConfs, "fpm-conf", nil, "php-fpm main config; repeat for several (default: discovered)")
	fl.StringVar(&f.root, "root", "", "read configs under `DIR` as if it were / (offline: live checks are skipped)")
	fl.StringVar(&f.format, "format", "text", "output format: text, json, sarif or html (one self-contained page)")
	fl.DurationVar(&f.since, "since", time.Hour, "log window to read")
	fl.BoolVar(&f.noProbe, "no-probe", false, "do not talk FastCGI to the pools")
	fl.DurationVar(&f.probeWait, "probe-timeout", snapshot.DefaultProbeTimeout, "deadline of each FastCGI probe")
	fl.IntVar(&f.probeMax, "probe-limit", snapshot.DefaultProbeLimit, "probe at most this many fastcgi_pass targets (0: none, as --no-probe; -1: all)")
}

func (f *siteFlags) options() doctor.Options {
	// The flag's 0 means none probed and its -1 all; snapshot's 0 means
	// its default and any negative all.
	opts := doctor.Options{Root: f.root, NginxConf: f.nginxConf, FPMConfs: f.fpmConfs, Since: f.since,
		NoProbe: f.noProbe, ProbeTimeout: f.probeWait, ProbeLimit: f.probeMax}
	if f.probeMax == 0 && !f.noProbe {
		opts.NoProbe, opts.NoProbeWhy = true, "--probe-limit 0"
	}
	return opts
}

func newDiagnoseCmd() *cobra.Command {
	var flags siteFlags
	cmd := &cobra.Command{
		Use:   "diagnose",
		Short: "Find why nginx answers 502/504 for PHP sites (read-only)",
		Long: `diagnose finds every nginx and php-fpm on the host (or reads the configs
given), follows each PHP site from its server block to the php-fpm pool
and socket, and reports what is wrong, with evidence. It changes nothing.

Exit status: 0 no error findings, 1 error findings, 2 fpmdoctor could not
do its job.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDiagnose(cmd.Context(), &flags)
		},
	}
	flags.register(cmd)
	return cmd
}

func runDiagnose(ctx context.Context, flags *siteFlags) error {
	format, err := report.ParseFormat(flags.format)
	if err != nil {
		return err
	}
	collectNearLimit()
	r, _, err := doctor.Diagnose(ctx, flags.options())
	if err != nil {
		return err
	}
	if format == report.FormatText {
		err = report.RenderText(os.Stdout, r, textOptions(os.Stdout))
	} else {
		err = report.Render(os.Stdout, r, format, false)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if code := r.ExitCode(); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// collectNearLimit lets one diagnosis collect garbage only as its heap
// nears the soft memory limit, not each time it doubles: what it reads it
// mostly keeps until the report is written, so the collections from a few
// MB up freed little and, on a hosting host's 5,000 sites and pools, cost
// a fifth of its CPU (8 collections; with this 1 or 2, peak RSS 82-84 ->
// 86-88 MB, still under the limit's bound; bench/diagnose.sh). A heap that
// outgrows the limit is collected as before. GOGC or GOMEMLIMIT in the
// environment keep the runtime's own behaviour.
func collectNearLimit() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(-1)
	}
}

// textOptions fits the text report to the terminal f is, if it is one: its
// width, and a screenful of sites. A pipe gets 80 columns and no colour.
func textOptions(f *os.File) report.TextOptions {
	opts := report.TextOptions{Color: colorOK(f)}
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		opts.Width = int(ws.Col)
		if ws.Row > 0 {
			// A site block takes four lines; half the screen is left for the
			// findings.
			opts.MaxSites = max(5, int(ws.Row)/8)
		}
	}
	return opts
}

// colorOK: colour only on a terminal, and never when NO_COLOR is set.
func colorOK(f *os.File) bool {
	if os.Getenv("NO_COLOR") != "" { // no-color.org: set and not empty
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
