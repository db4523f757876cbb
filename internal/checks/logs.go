package checks

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// correlationWindow: a 502 within this of a php-fpm event on the same pool
// is taken as one story (the event caused the failure).
const correlationWindow = 3 * time.Second

// logGroups returns the log groups of the given kinds, largest first.
func logGroups(s *snapshot.Snapshot, kinds ...logscan.Kind) []logscan.Group {
	if s.Logs == nil {
		return nil
	}
	var out []logscan.Group
	for _, g := range s.Logs.Agg.Groups() {
		for _, k := range kinds {
			if g.Kind == k {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// logEvidence quotes one log entry with its file and line.
func logEvidence(e logscan.Entry) report.Evidence {
	text := strings.TrimSpace(e.Raw)
	if len(text) > 400 {
		text = text[:400] + "…"
	}
	return report.Evidence{Kind: report.KindLog, File: e.File, Line: int(e.Line), Text: text}
}

func summary(g logscan.Group) *report.LogSummary {
	ls := &report.LogSummary{Count: g.Count, Retried: g.Retried, First: g.First, Last: g.Last}
	for _, u := range g.TopURLs {
		ls.TopURLs = append(ls.TopURLs, report.URLCount{URL: u.URL, Count: u.Count})
	}
	return ls
}

// addSummary adds a log group's lines to ls (nil: none yet): counts
// add up, the times widen, and the request paths are counted together,
// most frequent first, as many as the longer list kept.
func addSummary(ls *report.LogSummary, g logscan.Group) *report.LogSummary {
	if ls == nil {
		return summary(g)
	}
	ls.Count += g.Count
	ls.Retried += g.Retried
	if g.First.Before(ls.First) {
		ls.First = g.First
	}
	if g.Last.After(ls.Last) {
		ls.Last = g.Last
	}
	keep := max(len(ls.TopURLs), len(g.TopURLs))
	for _, u := range g.TopURLs {
		if i := slices.IndexFunc(ls.TopURLs, func(x report.URLCount) bool { return x.URL == u.URL }); i >= 0 {
			ls.TopURLs[i].Count += u.Count
		} else {
			ls.TopURLs = append(ls.TopURLs, report.URLCount{URL: u.URL, Count: u.Count})
		}
	}
	slices.SortStableFunc(ls.TopURLs, func(a, b report.URLCount) int { return b.Count - a.Count })
	ls.TopURLs = ls.TopURLs[:min(len(ls.TopURLs), keep)]
	return ls
}

// eventsOf returns the kept php-fpm/kernel events of kind for a pool ID.
func eventsOf(s *snapshot.Snapshot, pool string, kinds ...logscan.Kind) []logscan.Entry {
	var out []logscan.Entry
	for _, e := range s.Logs.Events {
		if pool != "" && e.Pool != pool {
			continue
		}
		for _, k := range kinds {
			if e.Kind == k {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// failuresNear returns how many nginx failures on the same pool fall
// within the correlation window of any of events, a few of them as
// examples, and their request paths, most frequent first.
func failuresNear(s *snapshot.Snapshot, events []logscan.Entry) (int, []logscan.Entry, []report.URLCount) {
	if len(events) == 0 || len(s.Logs.Failures) == 0 {
		return 0, nil, nil
	}
	// Each failure counts once, however many events are near it (three
	// crashes within the window of three 502s are three failures, not
	// nine): correlate the other way round, one result per failure.
	near := logscan.Correlate(s.Logs.Failures, events, correlationWindow, nil)
	n := len(near)
	counts := map[string]int{}
	for _, c := range near {
		if p := c.Event.Path(); p != "" {
			counts[p]++
		}
	}
	urls := make([]report.URLCount, 0, len(counts))
	for u, c := range counts {
		urls = append(urls, report.URLCount{URL: u, Count: c})
	}
	slices.SortFunc(urls, func(a, b report.URLCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.URL, b.URL)
	})
	urls = urls[:min(len(urls), 5)]
	// Examples: for the first events, a failure near each not already shown.
	var examples []logscan.Entry
	for _, c := range logscan.Correlate(events, s.Logs.Failures, correlationWindow, nil) {
		for _, e := range c.Examples {
			if len(examples) < 2 && !slices.ContainsFunc(examples, func(x logscan.Entry) bool { return sameEntry(x, e) }) {
				examples = append(examples, e)
				break
			}
		}
	}
	return n, examples, urls
}

// blameFailuresNear makes f an error when nginx failed requests within the
// correlation window of its php-fpm events, saying how many, quoting a few
// and returning their request paths.
func blameFailuresNear(s *snapshot.Snapshot, f *report.Finding, events []logscan.Entry, what string) []report.URLCount {
	n, examples, urls := failuresNear(s, events)
	if n == 0 {
		return nil
	}
	f.Severity = report.Error
	f.Detail += fmt.Sprintf(" nginx failed %s within %s of these %s.", countWord(n, "request", "requests"), correlationWindow, what)
	for _, e := range examples {
		f.Evidence = append(f.Evidence, logEvidence(e))
	}
	return urls
}

// sameEntry reports whether a and b are the same logged line.
func sameEntry(a, b logscan.Entry) bool {
	return a.File == b.File && a.Line == b.Line && a.Time.Equal(b.Time) && a.Raw == b.Raw
}

// poolGroups returns the log groups of kinds about a pool (its ID). Kinds
// belong to one program each, so they also say whose log it is.
func poolGroups(s *snapshot.Snapshot, pool string, kinds ...logscan.Kind) []logscan.Group {
	var out []logscan.Group
	for _, g := range logGroups(s, kinds...) {
		if g.Target == pool {
			out = append(out, g)
		}
	}
	return out
}

// poolFor maps a log group's target (a pool ID when the entry was tied to
// a pool) back to the pool.
func poolFor(s *snapshot.Snapshot, target string) *snapshot.Pool {
	if target == "" {
		return nil
	}
	return s.PoolByID(target)
}

// poolName is how a finding names the pool of a log group.
func poolName(p *snapshot.Pool, target string) string {
	if p != nil {
		return p.Name
	}
	return target
}

func poolID(p *snapshot.Pool) string {
	if p == nil {
		return ""
	}
	return p.ID()
}

func countWord(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
