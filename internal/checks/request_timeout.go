package checks

import (
	"fmt"
	"time"

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
			if past, ok := killsSettled(s, p, g, events); ok {
				out = append(out, past)
				continue
			}
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

// killsSettled tells a pool's logged kills as history when what the lines
// show can no longer happen, proven from the host rather than guessed:
// every kill was logged before php-fpm last (re)loaded its config (or in
// the same second), no config file changed after that load (what runs is
// what is on disk), and the pool's request_terminate_timeout now lets a
// request run longer than any killed one ran (php-fpm logs how long:
// "execution timed out (1.26 sec)"; it kills only past the timeout, so a
// kill that short was made by an older config). A kill after the load, a
// terminate timeout no longer than the durations, or kills the log window
// kept too few of to measure: current.
func killsSettled(s *snapshot.Snapshot, p *snapshot.Pool, g logscan.Group, events []logscan.Entry) (report.Finding, bool) {
	if p == nil || !s.Live || p.FPM.Master == nil || p.FPM.Config == nil || len(events) < g.Count || g.Last.IsZero() {
		return report.Finding{}, false
	}
	loaded, how := s.ConfigLoadedAt(p.FPM)
	// Log times have whole seconds, a master's start time is off by up
	// to one: a kill that close to the load is not taken as after it.
	// Which config made it is told by its duration below.
	if g.Last.After(loaded.Add(startSlack)) || len(newerFiles(s, p.FPM.Config.Files, loaded)) > 0 {
		return report.Finding{}, false
	}
	longest := 0.0
	for _, e := range events {
		longest = max(longest, e.Seconds)
	}
	ev := []report.Evidence{logEvidence(g.Example)}
	st := p.Pool.Get("request_terminate_timeout")
	now := "php-fpm kills no request now (request_terminate_timeout is not set)"
	if st != nil {
		term, err := fpmconf.ParseDuration(st.Value)
		if err != nil || longest <= 0 || (term > 0 && term.Seconds() <= longest) {
			return report.Finding{}, false
		}
		ev = append(ev, settingEvidence(st))
		if term > 0 {
			now = fmt.Sprintf("request_terminate_timeout is %s now, longer than any killed request ran (%.1f s)", term, longest)
		} else {
			now = "php-fpm kills no request now (request_terminate_timeout = 0)"
		}
	}
	ev = append(ev, fact("php-fpm master pid %d %s %s, after the last kill", p.FPM.Master.PID, how, loaded.Format(time.DateTime)))
	return report.Finding{
		ID:       "request-timeout-past",
		Severity: report.Info,
		Live:     true,
		Pool:     p.ID(),
		Title:    fmt.Sprintf("earlier in the window: php-fpm killed %s of pool %s, the last at %s; the cause is not present now", countWord(g.Count, "request", "requests"), p.Name, g.Last.Format(time.TimeOnly)),
		Detail:   "These kills were logged before php-fpm last loaded its config, and " + now + ": the same requests are not killed at that point any more. nginx's 502s of those moments are part of the same history.",
		Evidence: ev,
		Logs:     summary(g),
	}, true
}
