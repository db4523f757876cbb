package checks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// workerOOM: workers killed by the kernel's OOM killer (SIGKILL, with the
// kernel's record of the kill), or scripts hitting PHP's memory_limit.
var workerOOM = Check{
	ID:    "worker-oom",
	Cause: "worker-oom",
	Step:  report.StepLogs,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		if s.Logs == nil {
			return nil
		}
		var out []report.Finding
		// Kernel OOM kills of php-fpm processes. The kernel log is the
		// whole machine's: a kill belongs to one of our pools only when
		// that pool's php-fpm logged the same pid exiting on SIGKILL.
		// The snapshot keeps events in time order, so sigkills is too.
		var sigkills []logscan.Entry
		killed := map[int]logscan.Entry{}
		for _, e := range eventsOf(s, "", logscan.KindChildExitedSignal) {
			if e.Signal == 9 && e.Pool != "" {
				sigkills = append(sigkills, e)
				killed[e.Child] = e
			}
		}
		byPool := map[string][]logscan.Entry{}
		var poolOrder []string
		oomed := map[int]bool{}
		var unattributed []logscan.Entry
		for _, k := range eventsOf(s, "", logscan.KindOOMKilled) {
			if !strings.Contains(k.Process, "php") {
				continue
			}
			e, ok := killed[k.PID]
			if !ok {
				unattributed = append(unattributed, k)
				continue
			}
			oomed[k.PID] = true
			if _, seen := byPool[e.Pool]; !seen {
				poolOrder = append(poolOrder, e.Pool)
			}
			byPool[e.Pool] = append(byPool[e.Pool], k)
		}
		for _, pool := range poolOrder {
			kills := byPool[pool]
			p := poolFor(s, pool)
			f := report.Finding{
				Severity: report.Error,
				Live:     true,
				Pool:     pool,
				Title:    fmt.Sprintf("the kernel's OOM killer killed %s of pool %s", countWord(len(kills), "worker", "workers"), poolName(p, pool)),
				Detail:   "The host (or the cgroup php-fpm runs in) ran out of memory and the kernel killed php-fpm workers; their requests failed with 502.",
				Evidence: []report.Evidence{logEvidence(kills[0]), logEvidence(killed[kills[0].PID])},
				Logs:     &report.LogSummary{Count: len(kills), First: kills[0].Time, Last: kills[len(kills)-1].Time},
				Fix:      &report.Fix{Summary: "lower pm.max_children so that max_children × worker memory fits the memory limit (fpmdoctor tune), or lower memory_limit"},
			}
			f.Evidence = append(f.Evidence, poolSettings(p, "pm.max_children")...)
			// The kernel's records name no pool; php-fpm's exit lines of
			// the same workers do, and correlate with nginx's failures.
			exits := make([]logscan.Entry, len(kills))
			for i, k := range kills {
				exits[i] = killed[k.PID]
			}
			f.Logs.TopURLs = blameFailuresNear(s, &f, exits, "kills")
			out = append(out, f)
		}
		if !s.Logs.FPMRead() && len(unattributed) > 0 {
			out = append(out, report.Finding{
				Severity: report.Warning,
				Live:     true,
				Title:    fmt.Sprintf("the kernel's OOM killer killed %s on this host", countWord(len(unattributed), "php-fpm process", "php-fpm processes")),
				Detail:   "php-fpm's own log could not be read, so the kills cannot be tied to a pool; they are php-fpm processes of this machine.",
				Evidence: []report.Evidence{logEvidence(unattributed[0])},
				Logs:     &report.LogSummary{Count: len(unattributed), First: unattributed[0].Time, Last: unattributed[len(unattributed)-1].Time},
			})
		}
		// memory_limit: PHP ends the script with a fatal error (500).
		for _, g := range logGroups(s, logscan.KindMemoryExhausted) {
			p := poolFor(s, g.Target)
			f := report.Finding{
				Severity: report.Warning,
				Live:     true,
				Pool:     poolID(p),
				Title:    fmt.Sprintf("scripts hit PHP's memory_limit %s", countWord(g.Count, "time", "times")),
				Detail:   fmt.Sprintf("\"Allowed memory size of %d bytes exhausted\": PHP stops the script with a fatal error and the client gets 500 (or a truncated page).", g.Example.Limit),
				Evidence: []report.Evidence{logEvidence(g.Example)},
				Logs:     summary(g),
				Fix:      &report.Fix{Summary: "fix the script's memory use (often an unbounded query or array), or raise memory_limit for that site while keeping pm.max_children × memory_limit within RAM"},
			}
			f.Evidence = append(f.Evidence, poolSettings(p, "php_admin_value[memory_limit]")...)
			f.PHPErrors = phpErrors(s, g.Target, func(k string) bool { return k == "memory-exhausted" }, nil)
			if !slices.ContainsFunc(f.PHPErrors, func(e report.PHPError) bool { return e.Status == 500 }) {
				// Only nginx's log says what the client got; without it the
				// 500 is what PHP usually gives, not what was seen.
				f.Detail += " nginx's error log does not show these errors, so the status the clients got is not confirmed."
			}
			out = append(out, f)
		}
		// SIGKILL with no kernel record: an outside kill (a supervisor, a
		// watchdog, kill -9), named as such rather than guessed as OOM.
		var outside []logscan.Entry
		for _, e := range sigkills {
			if !oomed[e.Child] {
				outside = append(outside, e)
			}
		}
		if len(outside) > 0 {
			out = append(out, outsideKillFinding(s, outside))
		}
		return out
	},
}

// outsideKillFinding is one finding for workers killed with SIGKILL that
// the kernel did not OOM-kill: one incident, whatever the number of pools
// it hit (a watchdog or a runtime killing a hosting host's workers at
// once). It names the pool when there is one and counts the pools
// otherwise, quoting the first kill of each of the first few.
func outsideKillFinding(s *snapshot.Snapshot, outside []logscan.Entry) report.Finding {
	const named = 3 // pools named in the title and quoted
	var pools []string
	first := map[string]logscan.Entry{}
	for _, e := range outside {
		if _, seen := first[e.Pool]; !seen {
			first[e.Pool] = e
			pools = append(pools, e.Pool)
		}
	}
	workers := countWord(len(outside), "worker", "workers")
	verb := "were"
	if len(outside) == 1 {
		verb = "was"
	}
	f := report.Finding{
		Severity: report.Warning,
		Live:     true,
		Detail:   "Something outside php-fpm killed the workers (kill -9, a watchdog, a container runtime). The kernel log has no OOM kill for them.",
		Logs:     &report.LogSummary{Count: len(outside), First: outside[0].Time, Last: outside[len(outside)-1].Time},
	}
	if len(pools) == 1 {
		p := poolFor(s, pools[0])
		f.Pool = poolID(p)
		f.Title = fmt.Sprintf("%s of pool %s %s killed with SIGKILL, with no OOM-killer record in the kernel log", workers, poolName(p, pools[0]), verb)
	} else {
		names := make([]string, 0, named)
		for _, pool := range pools[:min(named, len(pools))] {
			names = append(names, poolName(poolFor(s, pool), pool))
		}
		more := ""
		if len(pools) > named {
			more = fmt.Sprintf(" and %d more", len(pools)-named)
		}
		f.Title = fmt.Sprintf("%s of %d pools (%s%s) %s killed with SIGKILL, with no OOM-killer record in the kernel log", workers, len(pools), strings.Join(names, ", "), more, verb)
	}
	for _, pool := range pools[:min(named, len(pools))] {
		f.Evidence = append(f.Evidence, logEvidence(first[pool]))
	}
	if s.Lacks(snapshot.FactKernelLog) {
		f.Detail = "Something killed the workers with SIGKILL; the kernel log could not be read, so an OOM kill is neither confirmed nor ruled out."
	}
	return f
}
