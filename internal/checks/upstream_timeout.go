package checks

import (
	"fmt"
	"time"

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
			if w, ok := timeoutsUndecided(s, p, g); ok {
				out = append(out, w)
				continue
			}
			f := report.Finding{
				Severity: report.Error,
				Live:     true,
				Pool:     poolID(p),
				Title:    fmt.Sprintf("nginx gave up waiting for %s: %s answered 504%s", poolName(p, g.Target), countWord(failedRequests(g), "request", "requests"), retriedNote(g)),
				Detail:   fmt.Sprintf("nginx waited longer than its timeout while %s and answered 504 Gateway Timeout.", g.Example.Action),
				Evidence: []report.Evidence{logEvidence(g.Example)},
				Logs:     summary(g),
				Fix:      &report.Fix{Summary: "find the slow requests (request_slowlog_timeout + slowlog) and make them faster; raise fastcgi_read_timeout only for endpoints that are slow by design"},
			}
			if p != nil {
				if len(p.Sites) > 0 {
					f.Evidence = append(f.Evidence, readTimeoutEvidence(p.Sites[0]))
				}
				if len(poolGroups(s, p.ID(), logscan.KindMaxChildren)) > 0 || probedSaturated(p) {
					f.Severity = report.Warning
					f.Detail += " The pool also ran out of workers in this window (pool-exhausted): the timeouts are requests waiting for a free worker."
				}
				if slow := poolGroups(s, p.ID(), logscan.KindSlow); len(slow) > 0 {
					f.Evidence = append(f.Evidence, logEvidence(slow[0].Example))
				}
			}
			if failedRequests(g) == 0 {
				// Every timeout was a try nginx made good on another
				// server: slow, not failed.
				f.Severity = report.Warning
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

// timeoutsUndecided: a pool's logged 504s were all written before nginx
// or its php-fpm last loaded its config, and that server's config files
// changed after the last of them (a raised fastcgi_read_timeout, more
// workers). nginx does not log how long a request waited, so whether the
// config now running would still time them out cannot be told: a warning
// that says so rather than a current error or a guessed "not present
// now". No change since the lines: the config that timed them out still
// runs, and the error stands.
func timeoutsUndecided(s *snapshot.Snapshot, p *snapshot.Pool, g logscan.Group) (report.Finding, bool) {
	if p == nil || !s.Live || len(p.Sites) == 0 || g.Last.IsZero() {
		return report.Finding{}, false
	}
	site := p.Sites[0]
	var ev []report.Evidence
	if n := site.Nginx; n.Master != nil && n.Config != nil {
		if loaded, how := n.ConfigLoadedAt(); loggedBeforeLoad(s, n, g, loaded) {
			if changed := changedSince(s, settingFiles(p), g.Last, loaded, "the last timeout"); len(changed) > 0 {
				ev = append(ev, fact("nginx master pid %d %s %s, after the last timeout", n.Master.PID, how, loaded.Format(time.DateTime)))
				ev = append(ev, changed...)
			}
		}
	}
	if f := p.FPM; f.Master != nil && f.Config != nil {
		if loaded, how := s.ConfigLoadedAt(f); loggedWellBefore(g.Last, loaded) {
			if changed := changedSince(s, []string{f.Conf, p.Pool.File}, g.Last, loaded, "the last timeout"); len(changed) > 0 {
				ev = append(ev, fact("php-fpm master pid %d %s %s, after the last timeout", f.Master.PID, how, loaded.Format(time.DateTime)))
				ev = append(ev, changed...)
			}
		}
	}
	if len(ev) == 0 {
		return report.Finding{}, false
	}
	readEv := readTimeoutEvidence(site)
	return report.Finding{
		Severity: report.Warning,
		Live:     true,
		Pool:     p.ID(),
		Title:    fmt.Sprintf("%s to %s timed out (504) before a changed config was loaded; whether they would now cannot be told", countWord(g.Count, "request", "requests"), p.Name),
		Detail:   "Every timeout was logged before the server last loaded its config, and the config changed after the last one. nginx does not log how long a request waited, so whether the running config still times them out cannot be decided from the host: request the logged URLs again.",
		Evidence: append([]report.Evidence{logEvidence(g.Example), readEv}, ev...),
		Logs:     summary(g),
		Fix:      &report.Fix{Summary: "request the logged URLs again; if they still get 504, find the slow requests (request_slowlog_timeout + slowlog)"},
	}, true
}

// readTimeoutEvidence quotes the fastcgi_read_timeout that applies to the
// site's PHP location, or says nginx's default applies.
func readTimeoutEvidence(site *snapshot.Site) report.Evidence {
	set := site.Pass.Settings()
	return settingEvidenceOr(set, "fastcgi_read_timeout", fact("fastcgi_read_timeout is not set for %s: nginx's default %s applies", site.Name, set.ReadTimeout))
}
