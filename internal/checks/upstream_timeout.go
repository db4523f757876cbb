package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// upstreamTimeout: nginx stopped waiting for php-fpm's answer
// (fastcgi_read_timeout, or fastcgi_send_timeout) and answered 504. A
// connect that timed out is not a slow pool: nothing answered at all, and
// the firewall check (or, once over, the log's past story) tells it.
var upstreamTimeout = Check{
	ID:    "upstream-timeout",
	Cause: "upstream-timeout",
	Step:  report.StepLogs,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, g := range logGroups(s, logscan.KindUpstreamTimeout) {
			if g.Connect {
				continue // not a slow php-fpm: a drop on the way (firewall.go, applyLogs)
			}
			p := poolFor(s, g.Target)
			f := report.Finding{
				Severity: report.Error,
				Live:     true,
				Pool:     poolID(p),
				Title:    fmt.Sprintf("nginx gave up waiting for %s: %s answered 504", poolName(p, g.Target), countWord(g.Count, "request", "requests")),
				Detail:   fmt.Sprintf("nginx waited longer than its timeout while %s and answered 504 Gateway Timeout.", g.Example.Action),
				Evidence: []report.Evidence{logEvidence(g.Example)},
				Logs:     summary(g),
				Fix:      &report.Fix{Summary: "find the slow requests (request_slowlog_timeout + slowlog) and make them faster; raise fastcgi_read_timeout only for endpoints that are slow by design"},
			}
			if p != nil {
				for _, site := range p.Sites {
					set := site.Pass.Settings()
					if d := set.From["fastcgi_read_timeout"]; d != nil {
						f.Evidence = append(f.Evidence, directiveEvidence(d))
					} else {
						f.Evidence = append(f.Evidence, fact("fastcgi_read_timeout is not set for %s: nginx's default %s applies", site.Name, set.ReadTimeout))
					}
					break
				}
				if len(poolGroups(s, p.ID(), logscan.KindMaxChildren)) > 0 || probedSaturated(p) {
					f.Severity = report.Warning
					f.Detail += " The pool also ran out of workers in this window (pool-exhausted): the timeouts are requests waiting for a free worker."
				}
				if slow := poolGroups(s, p.ID(), logscan.KindSlow); len(slow) > 0 {
					f.Evidence = append(f.Evidence, logEvidence(slow[0].Example))
				}
			}
			addSlowEvidence(s, &f, p)
			out = append(out, f)
		}
		return out
	},
}

// probedSaturated: a probe of the pool found every worker busy.
func probedSaturated(p *snapshot.Pool) bool {
	for _, site := range p.Sites {
		for _, t := range site.Targets {
			if t.Pool == p && t.Probe != nil && t.Probe.Reason == "saturated" {
				return true
			}
		}
	}
	return false
}
