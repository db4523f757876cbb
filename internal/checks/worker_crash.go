package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// crashSignal: SIGILL, SIGABRT, SIGBUS, SIGFPE and SIGSEGV are what a
// process raises on itself when its code is broken: a bug in PHP, an
// extension or opcache, not a config problem.
func crashSignal(sig int) bool {
	switch sig {
	case 4, 6, 7, 8, 11:
		return true
	}
	return false
}

// workerCrash: php-fpm logged "child N exited on signal 11 (SIGSEGV)" (or
// SIGBUS, SIGABRT…). The request the worker was serving gets 502 (recv()
// failed (104) or upstream prematurely closed connection).
var workerCrash = Check{
	ID:    "worker-crash",
	Cause: "worker-crash",
	Step:  report.StepLogs,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		if s.Logs == nil {
			return nil
		}
		type key struct {
			pool string
			sig  int
		}
		crashes := map[key][]logscan.Entry{}
		var order []key
		for _, e := range eventsOf(s, "", logscan.KindChildExitedSignal) {
			if !crashSignal(e.Signal) {
				continue
			}
			k := key{e.Pool, e.Signal}
			if _, ok := crashes[k]; !ok {
				order = append(order, k)
			}
			crashes[k] = append(crashes[k], e)
		}
		var out []report.Finding
		for _, k := range order {
			es := crashes[k]
			p := poolFor(s, k.pool)
			f := report.Finding{
				Severity: report.Warning,
				Live:     true,
				Pool:     poolID(p),
				Title:    fmt.Sprintf("workers of pool %s crashed %s on signal %d (%s)", poolName(p, k.pool), countWord(len(es), "time", "times"), k.sig, es[0].SignalName),
				Detail:   "A worker that dies on this signal hit a bug in PHP, an extension or opcache: this is code, not configuration. The request it served fails with 502.",
				Evidence: []report.Evidence{logEvidence(es[0])},
				Logs:     &report.LogSummary{Count: len(es), First: es[0].Time, Last: es[len(es)-1].Time},
				Fix:      &report.Fix{Summary: "find the script and extension: enable core dumps (rlimit_core = unlimited) and read the backtrace; update or disable the extension it points at"},
			}
			// php-fpm does not log the crashing request; nginx's failures around it do.
			f.Logs.TopURLs = blameFailuresNear(s, &f, es, "crashes")
			// What PHP said just before its worker died, when it said anything.
			f.PHPErrors = phpErrors(s, poolID(p), func(string) bool { return true }, es)
			out = append(out, f)
		}
		return out
	},
}
