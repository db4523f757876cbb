package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// logBacklogOverflow: nginx logged connect() failed (11: Resource
// temporarily unavailable) on a unix socket: the listen queue was full and
// nginx answered 502 at once, without waiting.
var logBacklogOverflow = Check{
	ID:    "backlog-overflow-log",
	Cause: "backlog-overflow",
	Step:  report.StepLimits,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, g := range logGroups(s, logscan.KindConnectEAGAIN) {
			p := poolFor(s, g.Target)
			f := report.Finding{
				Severity: report.Error,
				Live:     true,
				Pool:     poolID(p),
				Title:    fmt.Sprintf("the listen queue of %s overflowed: %s answered 502 at once%s", poolName(p, g.Target), countWord(failedRequests(g), "request", "requests"), retriedNote(g)),
				Detail:   "All workers were busy and the socket's accept queue (listen.backlog, capped by net.core.somaxconn) was full. On unix sockets nginx does not wait: connect() fails with EAGAIN.",
				Evidence: []report.Evidence{logEvidence(g.Example)},
				Logs:     summary(g),
				Fix:      &report.Fix{Summary: "relieve the pool first (pool-exhausted); a larger listen.backlog (and net.core.somaxconn) only absorbs short bursts"},
			}
			f.Evidence = append(f.Evidence, poolSettings(p, "listen.backlog", "pm.max_children")...)
			if failedRequests(g) == 0 {
				f.Severity = report.Warning // another server answered each time
			}
			out = append(out, f)
		}
		return out
	},
}
