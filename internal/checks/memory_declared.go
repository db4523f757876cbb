package checks

import (
	"fmt"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
	"github.com/fpmdoctor/fpmdoctor/internal/tune"
)

// memoryOvercommitDeclared is memory-overcommit for a repository of
// configs: no workers to measure, so the memory for PHP and the size of a
// worker are declared (fpmdoctor check --memory --worker-memory). The
// arithmetic and severities are those of the live check: Σ pm.max_children
// × worker above the budget is a warning; what php-fpm starts by itself
// at (re)start above it is an error.
var memoryOvercommitDeclared = Check{
	ID:    "memory-overcommit-declared",
	Cause: "memory-overcommit",
	Step:  report.StepLimits,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		d := s.Declared
		if s.Live || d.Memory == 0 || d.WorkerMemory == 0 {
			return nil
		}
		var need, atStart uint64
		var pools []*snapshot.Pool
		var ev []report.Evidence
		var termText, startText []string
		for _, f := range s.FPM {
			for _, p := range f.Pools {
				pools = append(pools, p)
				n := p.Pool.Int("pm.max_children")
				need += uint64(n) * d.WorkerMemory
				started := n
				switch p.Pool.PM() {
				case "ondemand":
					started = 0
				case "static":
				default:
					started = p.Pool.Int("pm.start_servers")
				}
				atStart += uint64(started) * d.WorkerMemory
				if len(termText) < 10 {
					termText = append(termText, fmt.Sprintf("%d (%s)", n, p.Name))
					if started > 0 {
						startText = append(startText, fmt.Sprintf("%d (%s, pm = %s)", started, p.Name, p.Pool.PM()))
					}
				}
				if len(ev) < 20 {
					if st := p.Pool.Get("pm.max_children"); st != nil {
						ev = append(ev, settingEvidence(st))
					} else {
						ev = append(ev, report.Evidence{Kind: report.KindConfig, File: p.Pool.File, Line: p.Pool.Line,
							Text: fmt.Sprintf("[%s] pm.max_children not set (php-fpm's default %d)", p.Name, n)})
					}
				}
			}
		}
		if len(pools) == 0 || (need <= d.Memory && atStart <= d.Memory) {
			return nil
		}
		more := ""
		if len(pools) > len(termText) {
			more = fmt.Sprintf(" + %d more pools", len(pools)-len(termText))
		}
		ev = append(ev, fact("declared: %s for PHP (--memory), %s per worker (--worker-memory)", tune.MiB(d.Memory), tune.MiB(d.WorkerMemory)))
		f := report.Finding{
			Severity: report.Warning,
			Title:    fmt.Sprintf("pm.max_children × %s per worker = %s, more than the %s declared for PHP", tune.MiB(d.WorkerMemory), tune.MiB(need), tune.MiB(d.Memory)),
			Detail: fmt.Sprintf("(%s%s) × %s = %s > %s. When traffic fills the pools the host swaps (slow requests, 504) or the OOM killer ends workers or the master (502).",
				strings.Join(termText, " + "), more, tune.MiB(d.WorkerMemory), tune.MiB(need), tune.MiB(d.Memory)),
			Evidence: ev,
			Fix:      &report.Fix{Summary: fmt.Sprintf("lower pm.max_children so that their sum × %s fits in %s (at most %d workers in all)", tune.MiB(d.WorkerMemory), tune.MiB(d.Memory), d.Memory/d.WorkerMemory)},
		}
		if len(pools) == 1 {
			f.Pool = pools[0].ID()
		}
		if atStart > d.Memory {
			f.Severity = report.Error
			f.Title = fmt.Sprintf("php-fpm's (re)start forks workers for %s, more than the %s declared for PHP", tune.MiB(atStart), tune.MiB(d.Memory))
			f.Detail = fmt.Sprintf("At (re)start php-fpm forks %s workers × %s = %s > %s: the start runs out of memory. ", strings.Join(startText, " + "), tune.MiB(d.WorkerMemory), tune.MiB(atStart), tune.MiB(d.Memory)) + f.Detail
		}
		return []report.Finding{f}
	},
}
