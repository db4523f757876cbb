package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/internal/repo"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

func newCheckCmd() *cobra.Command {
	var (
		o                    repo.Options
		maps                 []string
		format, memory, wmem string
		diffBase             string
	)
	cmd := &cobra.Command{
		Use:   "check [DIR]",
		Short: "Check nginx and php-fpm configs kept in a repository (offline, for CI)",
		Long: `check reads the nginx and php-fpm configs of a repository as the server
would: fpmdoctor.yaml in DIR (or --map) says where the repository's
directories live on the server (nginx/ → /etc/nginx), so includes and
socket paths resolve as in production. It runs every check that holds
without a live host and lists the others as skipped.

Exit status: 0 nothing at or above --fail-on, 1 findings at or above it,
2 fpmdoctor could not do its job (bad flags, unreadable fpmdoctor.yaml or
configs).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Dir = args[0]
			}
			f, err := parseCheckFormat(format)
			if err != nil {
				return err
			}
			if _, err := repo.ParseFailOn(o.FailOn); err != nil {
				return err
			}
			if o.Maps, err = repo.ParseMapFlags(maps); err != nil {
				return err
			}
			if o.Memory, err = sizeFlag("--memory", memory); err != nil {
				return err
			}
			if o.WorkerMemory, err = sizeFlag("--worker-memory", wmem); err != nil {
				return err
			}
			var res *repo.Result
			if diffBase != "" {
				res, err = repo.CheckDiff(cmd.Context(), o, diffBase)
			} else {
				res, err = repo.Check(cmd.Context(), o)
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			switch f {
			case "sarif":
				err = report.WriteSARIF(w, res.Report, res.Repo)
			case "codequality":
				err = report.WriteCodeQuality(w, res.Report, res.Repo)
			default:
				err = report.Render(w, res.Report, report.Format(f), w == os.Stdout && colorOK(os.Stdout))
			}
			if err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			if code := res.ExitCode(); code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Root, "root", "", "read `TREE` as / (a copy of a server); mappings apply on top of it")
	fl.StringArrayVar(&maps, "map", nil, "mount a repository directory on a server path, `REPO=HOST` (nginx/=/etc/nginx); repeat")
	fl.StringVar(&o.NginxConf, "nginx-conf", "", "nginx main config as a server path (default: the usual places)")
	fl.StringArrayVar(&o.FPMConfs, "fpm-conf", nil, "php-fpm main config as a server path; repeat (default: the usual places)")
	fl.StringVar(&format, "format", "text", "output format: text, json, sarif, codequality or html")
	fl.StringVar(&o.FailOn, "fail-on", "", "exit 1 on findings at least this severe: error, warning or never (default error)")
	fl.StringVar(&memory, "memory", "", "RAM for PHP on the server, like 4GiB: compare pm.max_children with it")
	fl.StringVar(&wmem, "worker-memory", "", "memory of one PHP worker, like 64MiB (with --memory)")
	fl.StringVar(&diffBase, "diff-base", "", "report only findings that git `REF` did not have")
	return cmd
}

func parseCheckFormat(s string) (string, error) {
	if s == "codequality" {
		return s, nil
	}
	f, err := report.ParseFormat(s)
	if err != nil {
		return "", fmt.Errorf("unknown format %q (want text, json, sarif, codequality or html)", s)
	}
	return string(f), nil
}

func sizeFlag(name, v string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := repo.ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}
