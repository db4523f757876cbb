package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// requestTimeout: php-fpm ends requests (request_terminate_timeout) before
// nginx stops waiting (fastcgi_read_timeout). From the logs: "execution
// timed out … terminating" with nginx's 502 on the same pool; statically:
// a terminate timeout shorter than the site's read timeout.
var requestTimeout = Check{
	ID:    "request-timeout",
	Cause: "request-timeout",
	Step:  report.StepLogs,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		logged := map[string]bool{}
		for _, g := range logGroups(s, logscan.KindExecutionTimedOut) {
			p := poolFor(s, g.Target)
			events := eventsOf(s, g.Target, logscan.KindExecutionTimedOut)
			f := report.Finding{
				Severity: report.Warning,
				Live:     true,
				Pool:     poolID(p),
				Title:    fmt.Sprintf("php-fpm killed %s of pool %s at request_terminate_timeout", countWord(g.Count, "request", "requests"), poolName(p, g.Target)),
				Detail:   "php-fpm ends a request that runs longer than request_terminate_timeout by killing its worker; nginx sees the connection close and answers 502.",
				Evidence: []report.Evidence{logEvidence(g.Example)},
				Logs:     summary(g),
				Fix:      &report.Fix{Summary: "make the slow scripts faster (slowlog shows where they spend time), or align request_terminate_timeout with fastcgi_read_timeout"},
			}
			blameFailuresNear(s, &f, events, "kills")
			if p != nil {
				logged[p.ID()] = true
			}
			f.Evidence = append(f.Evidence, poolSettings(p, "request_terminate_timeout")...)
			addSlowEvidence(s, &f, p)
			// PHP's own limit (max_execution_time) ends scripts too, with a
			// fatal error and a 500 rather than php-fpm's kill and a 502.
			f.PHPErrors = phpErrors(s, poolID(p), func(k string) bool { return k == "max-execution-time" }, nil)
			out = append(out, f)
		}
		// Static risk: a pool that kills requests nginx would still wait for.
		seen := map[string]bool{}
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				p := t.Pool
				if p == nil || logged[p.ID()] || seen[p.ID()+site.Key()] {
					continue
				}
				seen[p.ID()+site.Key()] = true
				st := p.Pool.Get("request_terminate_timeout")
				if st == nil {
					continue
				}
				term, err := fpmconf.ParseDuration(st.Value)
				read, from := site.Pass.ReadTimeout()
				if err != nil || term <= 0 || term >= read {
					continue
				}
				ev := []report.Evidence{settingEvidence(st)}
				if d := from; d != nil {
					ev = append(ev, directiveEvidence(d))
				} else {
					ev = append(ev, fact("fastcgi_read_timeout is not set for %s: nginx's default is %s", site.Name, read))
				}
				out = append(out, report.Finding{
					Severity: report.Warning,
					Site:     site.Key(),
					Pool:     "",
					Title:    fmt.Sprintf("pool %s kills requests after %s while nginx waits %s for %s", p.Name, term, read, site.Name),
					Detail:   "A request that runs longer than request_terminate_timeout is killed by php-fpm and ends as a 502 (connection closed) instead of completing or timing out cleanly in nginx.",
					Evidence: ev,
					Fix:      &report.Fix{Summary: fmt.Sprintf("set request_terminate_timeout to at least fastcgi_read_timeout (%s) in pool %s, or lower fastcgi_read_timeout to match", read, p.Name)},
				})
			}
		}
		return out
	},
}
