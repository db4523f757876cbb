package repo

import (
	"context"
	"errors"
	"path/filepath"
	"slices"

	"github.com/fpmdoctor/fpmdoctor/internal/checks"
	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// Options of a check. Flags win over fpmdoctor.yaml.
type Options struct {
	// Dir is the repository (default ".").
	Dir string
	// Root is --root: a tree laid out like "/" (relative to the working
	// directory).
	Root string
	// Maps are the --map flags.
	Maps      []Mapping
	NginxConf string
	FPMConfs  []string
	// Memory and WorkerMemory are --memory and --worker-memory (0: the
	// config's, else not declared).
	Memory, WorkerMemory uint64
	// FailOn is --fail-on ("": the config's, else error).
	FailOn string
}

// Result is a checked repository.
type Result struct {
	Report *report.Report
	// Repo places findings in the repository's files, for SARIF and
	// code quality.
	Repo   report.RepoOptions
	FailOn FailOn
}

// ExitCode is 1 when a finding is at least as severe as FailOn, else 0.
func (r *Result) ExitCode() int {
	for _, f := range r.Report.Findings {
		switch {
		case r.FailOn == FailOnNever:
		case f.Severity == report.Error:
			return 1
		case f.Severity == report.Warning && r.FailOn == FailOnWarning:
			return 1
		}
	}
	return 0
}

// Check reads the repository's configs as the server would (mounted by
// fpmdoctor.yaml and the flags) and runs the offline checks: the same
// Snapshot and checks as `diagnose --root`, with live facts skipped.
func Check(ctx context.Context, o Options) (*Result, error) {
	if o.Dir == "" {
		o.Dir = "."
	}
	cfg, tree, err := Open(o.Dir, o.Root, o.Maps)
	if err != nil {
		return nil, err
	}
	failOn, err := ParseFailOn(firstOf(o.FailOn, cfg.FailOn))
	if err != nil {
		return nil, err
	}
	if filepath.Clean(tree.Root) == "/" && len(tree.Mounts) == 0 {
		return nil, errors.New("check reads a repository of configs, not this host's /: use fpmdoctor diagnose for the running host")
	}
	fpmConfs := o.FPMConfs
	if len(fpmConfs) == 0 {
		fpmConfs = cfg.FPMConfs
	}
	declared := snapshot.Declared{Memory: cfg.Memory, WorkerMemory: cfg.WorkerMemory}
	if o.Memory != 0 {
		declared.Memory = o.Memory
	}
	if o.WorkerMemory != 0 {
		declared.WorkerMemory = o.WorkerMemory
	}
	r, s, err := doctor.Diagnose(ctx, snapshot.Options{
		Root: tree.Root, Mounts: tree.Mounts,
		NginxConf: firstOf(o.NginxConf, cfg.NginxConf), FPMConfs: fpmConfs,
		NoProbe: true, Declared: declared,
	})
	if err != nil {
		return nil, err
	}
	switch {
	case declared.Memory == 0:
		r.Skip("memory-overcommit", "no memory budget declared (--memory or memory: in fpmdoctor.yaml): pm.max_children is not compared with RAM")
	case declared.WorkerMemory == 0:
		r.Skip("memory-overcommit", "--memory without --worker-memory: the size of a worker cannot be measured offline, declare it (worker-memory: in fpmdoctor.yaml)")
	}
	loc, err := NewLocator(o.Dir, tree)
	if err != nil {
		return nil, err
	}
	res := &Result{Report: r, FailOn: failOn, Repo: report.RepoOptions{Dir: loc.Dir, Locator: loc, Rules: OfflineCauses()}}
	if len(s.Nginx) > 0 {
		res.Repo.Fallback = s.Nginx[0].Conf
	}
	return res, nil
}

// OfflineCauses are the causes of the checks that run without a live
// host, sorted: the rules a SARIF log of a check declares.
func OfflineCauses() []string {
	var out []string
	for _, c := range checks.All() {
		if !c.Live {
			out = append(out, c.Cause)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
