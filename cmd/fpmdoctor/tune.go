package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
	"github.com/fpmdoctor/fpmdoctor/internal/tune"
)

func newTuneCmd() *cobra.Command {
	var flags siteFlags
	var headroom float64
	cmd := &cobra.Command{
		Use:   "tune",
		Short: "Recommend pm.* and request_terminate_timeout per pool from measured memory and load (read-only)",
		Long: `tune measures each running pool's workers (PSS from /proc/PID/smaps_rollup,
not RSS), the memory PHP can have (MemAvailable, the cgroup limit of the
php-fpm master, what the workers already hold) and the load the pool has
seen (its status page when pm.status_path is set, "server reached
max_children" warnings within --since), and recommends pm, pm.max_children,
the spare-server settings and request_terminate_timeout, with the
arithmetic. It compares the result with the rule of thumb "Total RAM /
average process size" and says why they differ. It changes nothing.
See docs/tune.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTune(cmd.Context(), cmd.OutOrStdout(), &flags, headroom)
		},
	}
	flags.register(cmd)
	cmd.Flags().Float64Var(&headroom, "headroom", tune.DefaultHeadroom, "fraction of PHP's memory to keep free")
	return cmd
}

// tuneReport is the JSON output of tune.
type tuneReport struct {
	Pools   []tune.Recommendation `json:"pools"`
	Skipped []skippedJSON         `json:"skipped"`
}

type skippedJSON struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

func runTune(ctx context.Context, out io.Writer, flags *siteFlags, headroom float64) error {
	if flags.format != "text" && flags.format != "json" {
		return fmt.Errorf("--format %q: tune writes text or json", flags.format)
	}
	if headroom < 0 || headroom >= 1 {
		return fmt.Errorf("--headroom %v: want a fraction in [0, 1)", headroom)
	}
	opts := flags.options()
	// tune reads the status pages itself; the diagnosis probe adds nothing.
	noProbe := opts.NoProbe
	opts.NoProbe = true
	s, err := snapshot.Gather(ctx, opts)
	if err != nil {
		return err
	}
	if !s.Live {
		return fmt.Errorf("tune measures running workers: it needs the live host, not --root")
	}
	peaks := tune.Observe(ctx, s, tune.ObserveOptions{Since: flags.since, NoProbe: noProbe, ProbeTimeout: flags.probeWait})
	if headroom == 0 {
		headroom = -1 // the flag's 0 means none; Options' 0 means the default
	}
	recs := tune.Recommend(s, tune.Options{Headroom: headroom, Peaks: peaks})
	rep := tuneReport{Pools: recs, Skipped: []skippedJSON{}}
	if rep.Pools == nil {
		rep.Pools = []tune.Recommendation{}
	}
	for _, sk := range s.Skipped {
		if sk.Check == snapshot.SkipMemory || sk.Check == "processes" || sk.Check == "pools" {
			rep.Skipped = append(rep.Skipped, skippedJSON{sk.Check, sk.Reason})
		}
	}
	if flags.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	writeTuneText(out, rep)
	return nil
}

func writeTuneText(w io.Writer, rep tuneReport) {
	if len(rep.Pools) == 0 {
		fmt.Fprintln(w, "No running php-fpm pool to measure.")
	}
	for i, r := range rep.Pools {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "pool %s  pm = %s\n", r.PoolID, r.PM)
		if r.Skipped != "" {
			fmt.Fprintf(w, "  not tuned: %s\n", r.Skipped)
			continue
		}
		for _, a := range r.Arithmetic {
			fmt.Fprintf(w, "  %s\n", a)
		}
		if len(r.Changes) == 0 {
			fmt.Fprintln(w, "  recommendation: keep the current settings")
		} else {
			fmt.Fprintln(w, "  recommendation:")
			for _, c := range r.Changes {
				fmt.Fprintf(w, "    %s = %s   (now %s; %s:%d)\n      %s\n", c.Key, c.New, orDefault(c.Old), c.File, c.Line, c.Why)
			}
		}
		fmt.Fprintln(w, "  compared with the usual rule of thumb (Total RAM / average process size):")
		for _, d := range r.RuleOfThumb.Differences {
			fmt.Fprintf(w, "    - %s\n", d)
		}
	}
	if len(rep.Skipped) > 0 {
		fmt.Fprintln(w, "\nNot measured:")
		for _, sk := range rep.Skipped {
			fmt.Fprintf(w, "  - %s\n", strings.TrimSpace(sk.Reason))
		}
	}
}

func orDefault(v string) string {
	if v == "" {
		return "unset"
	}
	return v
}
