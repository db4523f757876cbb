package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// poolExhausted: php-fpm logged "server reached pm.max_children setting":
// every worker was busy and requests queued. With nginx failures on the
// same pool (504 timeouts, 502 backlog overflows) it is the cause of them.
var poolExhausted = Check{
	ID:    "pool-exhausted",
	Cause: "pool-exhausted",
	Step:  report.StepLimits,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, g := range logGroups(s, logscan.KindMaxChildren) {
			p := poolFor(s, g.Target)
			f := report.Finding{
				Severity: report.Warning,
				Live:     true,
				Pool:     poolID(p),
				Title:    fmt.Sprintf("pool %s ran out of workers %s (pm.max_children = %d)", poolName(p, g.Target), countWord(g.Count, "time", "times"), g.Example.Limit),
				Detail:   "Every worker was busy; new requests waited in the listen queue. When the wait is longer than fastcgi_read_timeout nginx answers 504, and when the queue is full, 502.",
				Evidence: []report.Evidence{logEvidence(g.Example)},
				Logs:     summary(g),
				Fix:      &report.Fix{Summary: "find what keeps workers busy (slowlog, status page); raise pm.max_children only as far as memory allows (fpmdoctor tune)"},
			}
			if p != nil {
				f.Evidence = append(f.Evidence, poolSettings(p, "pm.max_children")...)
				fails := poolGroups(s, p.ID(), logscan.KindUpstreamTimeout, logscan.KindConnectEAGAIN)
				total := 0
				for _, fg := range fails {
					total += failedRequests(fg)
					f.Evidence = append(f.Evidence, logEvidence(fg.Example))
					if f.Logs.TopURLs == nil {
						f.Logs.TopURLs = summary(fg).TopURLs
					}
				}
				if total > 0 {
					f.Severity = report.Error
					f.Detail += fmt.Sprintf(" In the same window nginx failed %s on this pool.", countWord(total, "request", "requests"))
				}
			}
			addSlowEvidence(s, &f, p)
			out = append(out, f)
		}
		return out
	},
}
