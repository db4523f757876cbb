package checks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
	"github.com/fpmdoctor/fpmdoctor/internal/tune"
)

// memoryOvercommit: the pools' pm.max_children × the measured size of a
// worker is more memory than PHP can have. Nothing fails while traffic is
// light; at the first peak that fills the pools the host swaps (504s) or
// the OOM killer ends workers or the master (502s).
//
// Severity:
//   - warning: Σ pm.max_children × average worker PSS > budget. A risk at
//     peak load, not a failure now.
//   - error: what php-fpm starts by itself at its next (re)start — every
//     worker of a static pool, pm.start_servers of a dynamic one — at the
//     smallest measured worker size already exceeds the budget: the restart
//     itself runs out of memory.
//
// The budget is MemAvailable plus what the pools' workers hold now (they
// would reuse it), bounded by the cgroup limit of the masters (limit −
// usage + the workers' share). Pools whose workers cannot be measured are
// listed under skipped by the snapshot, never guessed.
var memoryOvercommit = Check{
	ID:    "memory-overcommit",
	Cause: "memory-overcommit",
	Step:  report.StepLimits,
	Live:  true,
	Needs: []snapshot.Fact{snapshot.FactMemory},
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, g := range s.MemoryGroups() {
			if f, ok := overcommitFinding(s, g); ok {
				out = append(out, f)
			}
		}
		return out
	},
}

func overcommitFinding(s *snapshot.Snapshot, g *snapshot.MemoryGroup) (report.Finding, bool) {
	if len(g.Pools) == 0 {
		return report.Finding{}, false
	}
	var need, atStart uint64
	var terms, startTerms []string
	var ev []report.Evidence
	for _, p := range g.Pools {
		st := p.WorkerStats()
		n := p.Pool.Int("pm.max_children")
		need += uint64(n) * st.AvgPSS
		terms = append(terms, fmt.Sprintf("%d × %s (%s)", n, tune.MiB(st.AvgPSS), p.Name))
		started := n
		if p.Pool.PM() != "static" {
			started = p.Pool.Int("pm.start_servers")
			if p.Pool.PM() == "ondemand" {
				started = 0
			}
		}
		if started > 0 {
			atStart += uint64(started) * st.MinPSS
			startTerms = append(startTerms, fmt.Sprintf("%d × %s (%s, pm = %s)", started, tune.MiB(st.MinPSS), p.Name, p.Pool.PM()))
		}
		ev = append(ev, poolSettings(p, "pm")...)
		if set := p.Pool.Get("pm.max_children"); set != nil {
			ev = append(ev, settingEvidence(set))
		} else {
			ev = append(ev, report.Evidence{Kind: report.KindConfig, File: p.Pool.File, Line: p.Pool.Line,
				Text: fmt.Sprintf("[%s] pm.max_children not set (php-fpm's default %d)", p.Name, n)})
		}
		ev = append(ev, fact("pool %s: %d workers running, %d measured: PSS average %s, min %s, max %s (RSS average %s) from /proc/PID/smaps_rollup",
			p.Name, st.Running, st.Measured, tune.MiB(st.AvgPSS), tune.MiB(st.MinPSS), tune.MiB(st.MaxPSS), tune.MiB(st.AvgRSS)))
	}
	mem := s.Memory.Host
	ev = append(ev, fact("MemAvailable %s of MemTotal %s (/proc/meminfo); the measured workers hold %s now", tune.MiB(mem.Available), tune.MiB(mem.Total), tune.MiB(g.InUse)))
	budgetWhy := fmt.Sprintf("MemAvailable %s + %s held by the workers = %s", tune.MiB(mem.Available), tune.MiB(g.InUse), tune.MiB(g.HostRoom))
	if cg := g.Cgroup; cg != nil {
		ev = append(ev, report.Evidence{Kind: report.KindFact, File: cg.LimitFile,
			Text: fmt.Sprintf("cgroup v%d memory limit %s, usage %s (%s)", cg.Version, tune.MiB(cg.Limit), tune.MiB(cg.Current), cg.CurrentFile)})
		if g.Limited() {
			budgetWhy = fmt.Sprintf("cgroup limit %s − usage %s + %s held by the workers = %s (below the host's %s)", tune.MiB(cg.Limit), tune.MiB(cg.Current), tune.MiB(g.InUse), tune.MiB(g.CgroupRoom), tune.MiB(g.HostRoom))
		}
	}
	ev = append(ev, fact("memory for PHP: %s", budgetWhy))
	if need <= g.Budget && atStart <= g.Budget {
		return report.Finding{}, false
	}
	where := "the host"
	if g.Limited() {
		where = "the cgroup limit"
	}
	f := report.Finding{
		Severity: report.Warning,
		Live:     true,
		Title: fmt.Sprintf("pm.max_children × worker memory = %s, more than the %s PHP can have (%s)",
			tune.MiB(need), tune.MiB(g.Budget), where),
		Detail: fmt.Sprintf("%s = %s > %s. When traffic fills the pools the host swaps (slow requests, 504) or the OOM killer ends workers or the master (502).",
			strings.Join(terms, " + "), tune.MiB(need), tune.MiB(g.Budget)),
		Evidence: ev,
		Fix:      &report.Fix{Summary: "lower pm.max_children to what memory allows: run fpmdoctor tune"},
	}
	if len(g.Pools) == 1 {
		f.Pool = g.Pools[0].ID()
	}
	if atStart > g.Budget {
		f.Severity = report.Error
		f.Title = fmt.Sprintf("php-fpm's next restart needs %s for the workers it starts, more than the %s PHP can have (%s)", tune.MiB(atStart), tune.MiB(g.Budget), where)
		f.Detail = fmt.Sprintf("At (re)start php-fpm forks %s = %s at the smallest measured worker size, > %s: the restart runs out of memory. ", strings.Join(startTerms, " + "), tune.MiB(atStart), tune.MiB(g.Budget)) + f.Detail
	}
	if recs := tune.Recommend(s, tune.Options{}); len(recs) > 0 {
		var parts []string
		for _, r := range recs {
			for _, c := range r.Changes {
				if c.Key == "pm.max_children" && slices.Contains(g.Pools, r.Pool) {
					parts = append(parts, fmt.Sprintf("%s: pm.max_children %s → %s", r.Pool.Name, c.Old, c.New))
				}
			}
		}
		if len(parts) > 0 {
			f.Fix.Summary = strings.Join(parts, "; ") + " (fpmdoctor tune shows the arithmetic)"
		}
	}
	return f, true
}
