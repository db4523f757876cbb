package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/rehearse"
	"github.com/fpmdoctor/fpmdoctor/internal/repo"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

type labFlags struct {
	root, nginxConf string
	fpmConfs        []string
	maps            []string
	nginxBin        string
	fpmBin          string
	dir             string
	dirArg          string // the repository, DIR
	keep            bool
	format          string
	timeout         time.Duration
}

func newLabCmd() *cobra.Command {
	var f labFlags
	cmd := &cobra.Command{
		Use:   "lab [DIR]",
		Short: "Rehearse the configs on the real nginx and php-fpm, in a private copy",
		Long: `lab copies the nginx and php-fpm configs of a tree (--root; default: this
host's, read only) or of a repository (DIR, read as check reads it:
fpmdoctor.yaml in DIR or --map says where its directories live on the
server, nginx/ → /etc/nginx, so includes and socket paths resolve as in
production) into a private directory, moves every listen, socket,
pid file, log and temporary path into it and every TCP port onto a free
port of 127.0.0.1, and starts this host's nginx and php-fpm on the copy.
For every PHP site it places a probe script in an empty lab document root
(never the application's code), requests it through nginx with the site's
Host header, and diagnoses the running lab for the cause of any 502/504.
It prints the mapping of everything it moved. Without DIR or --map it
reads no fpmdoctor.yaml: it copies --root, or this host's configs.

Without --keep everything is stopped and removed at the end, on Ctrl-C and
on failure. With --keep the lab keeps running and the command that stops
it is printed ("fpmdoctor lab stop DIR").

Exit status: 0 every PHP site answered without 502/503/504, 1 otherwise,
2 the lab could not start (bad flags or fpmdoctor.yaml, not root, no
config found).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				f.dirArg = args[0]
			}
			return runLab(cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.root, "root", "", "copy the configs of the tree under `TREE` (read as if it were /); mappings apply on top of it")
	fl.StringArrayVar(&f.maps, "map", nil, "mount a repository directory on a server path, `REPO=HOST` (nginx/=/etc/nginx); repeat")
	fl.StringVar(&f.nginxConf, "nginx-conf", "", "nginx main config as a server path (default: discovered)")
	fl.StringArrayVar(&f.fpmConfs, "fpm-conf", nil, "php-fpm main config as a server path; repeat for several (default: discovered)")
	fl.StringVar(&f.nginxBin, "nginx-bin", "", "nginx binary to run (default: discovered)")
	fl.StringVar(&f.fpmBin, "fpm-bin", "", "php-fpm binary to run (default: the one of each config's PHP version)")
	fl.StringVar(&f.dir, "dir", "", "lab directory, which must not exist (default: a new one in $TMPDIR)")
	fl.BoolVar(&f.keep, "keep", false, "leave the lab running and print the command that stops it")
	fl.StringVar(&f.format, "format", "text", "output format: text or json")
	fl.DurationVar(&f.timeout, "request-timeout", 15*time.Second, "deadline of each request through nginx")
	cmd.AddCommand(&cobra.Command{
		Use:   "stop DIR",
		Short: "Stop a lab left running with --keep and remove its directory",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return rehearse.StopDir(args[0])
		},
	})
	return cmd
}

func runLab(cmd *cobra.Command, f *labFlags) error {
	if f.format != "text" && f.format != "json" {
		return fmt.Errorf("unknown format %q (want text or json)", f.format)
	}
	if f.timeout <= 0 {
		return errors.New("--request-timeout must be positive")
	}
	if f.root != "" {
		if st, err := os.Stat(f.root); err != nil || !st.IsDir() {
			return fmt.Errorf("--root %s is not a directory", f.root)
		}
	}
	src, err := labSource(f)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	// Ctrl-C or a TERM ends the run, and the deferred Close below stops
	// the servers and removes the lab.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	diagnose := func(ctx context.Context, nginxConf string, fpmConfs []string) (*report.Report, error) {
		r, _, err := doctor.Diagnose(ctx, doctor.Options{NginxConf: nginxConf, FPMConfs: fpmConfs, Since: 10 * time.Minute})
		return r, err
	}
	res, err := rehearse.Run(ctx, rehearse.Options{NginxBin: f.nginxBin, FPMBin: f.fpmBin, Dir: f.dir, Keep: f.keep},
		src, f.timeout, diagnose)
	if err != nil {
		if ctx.Err() != nil {
			return errors.New("interrupted: the lab was stopped and removed")
		}
		return err
	}
	out := cmd.OutOrStdout()
	if f.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("write result: %w", err)
		}
	} else if err := res.WriteText(out); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	if code := res.ExitCode(); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// labSource is what the lab copies. A repository (DIR, or --map alone for
// the current directory) is read exactly as check reads it, by
// internal/repo: fpmdoctor.yaml, then --root and --map, flags winning.
// Without either, --root or this host's configs, and no fpmdoctor.yaml:
// a bare "fpmdoctor lab" rehearses the host it runs on.
func labSource(f *labFlags) (rehearse.Source, error) {
	maps, err := repo.ParseMapFlags(f.maps)
	if err != nil {
		return rehearse.Source{}, err
	}
	if f.dirArg == "" && len(maps) == 0 {
		return rehearse.Source{Root: f.root, NginxConf: f.nginxConf, FPMConfs: f.fpmConfs}, nil
	}
	cfg, tree, err := repo.Open(f.dirArg, f.root, maps)
	if err != nil {
		return rehearse.Source{}, err
	}
	src := rehearse.Source{Root: tree.Root, Mounts: tree.Mounts, NginxConf: f.nginxConf, FPMConfs: f.fpmConfs}
	if src.NginxConf == "" {
		src.NginxConf = cfg.NginxConf
	}
	if len(src.FPMConfs) == 0 {
		src.FPMConfs = cfg.FPMConfs
	}
	return src, nil
}
