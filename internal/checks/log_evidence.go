package checks

import (
	"fmt"
	"slices"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// connectCause is the cause an nginx connection-level failure (or
// php-fpm's dropped connection) e points at when no current finding
// explains it (the failure is over); "" for other kinds. A connect that
// timed out got no answer at all: packets dropped on the way (firewall),
// not a pool too slow to answer.
func connectCause(e *logscan.Entry) string {
	if e.ConnectTimeout() {
		return "firewall"
	}
	switch e.Kind {
	case logscan.KindConnectENOENT, logscan.KindNoLiveUpstreams:
		return "fpm-down"
	case logscan.KindConnectRefused:
		// A unix socket file nobody listened on was left behind; a port
		// nobody listened on means php-fpm was down.
		if e.TargetKind == "tcp" {
			return "fpm-down"
		}
		return "stale-socket"
	case logscan.KindConnectEACCES:
		return "socket-permission"
	case logscan.KindConnectionDisallowed:
		return "allowed-clients"
	}
	return ""
}

// applyLogs adds nginx's logged connection failures to the findings about
// the same site or pool (so a finding shows how many users it hit, since
// when), reports failures no current finding explains as past outages,
// and fills the report's timeline and list of logs read. unchecked holds
// the causes whose live check did not run: for those, "not present now"
// would be a guess.
func applyLogs(s *snapshot.Snapshot, r *report.Report, unchecked map[string]bool) {
	if s.Logs == nil {
		return
	}
	for _, lf := range s.Logs.Files {
		r.LogsRead = append(r.LogsRead, report.LogRead{Path: lf.Path, Size: lf.Stats.Size, BytesRead: lf.Stats.BytesRead, Entries: lf.Stats.Entries})
	}
	for _, b := range s.Logs.Agg.Timeline() {
		r.Timeline = append(r.Timeline, report.Bucket{Minute: b.Minute, Nginx502: b.Nginx502, Nginx504: b.Nginx504, Retried: b.Retried, FPM: b.FPM})
	}
	keys := newStoryKeys(s)
	idx := newFindingIndex(r)
	past := map[int]bool{}    // the findings made here, from lines only
	counted := map[int]bool{} // the findings whose Logs count lines added here
	for _, g := range s.Logs.Agg.Groups() {
		cause := connectCause(&g.Example)
		if cause == "" {
			continue
		}
		pool, sites := keys.of(g)
		explained := false
		for _, i := range idx.concerning(pool, sites) {
			f := &r.Findings[i]
			// A live finding explains the lines if its cause can; a
			// past story made here only takes lines of its own cause.
			if f.Cause != cause && (past[i] || !explainsConnect(f, cause)) {
				continue
			}
			f.Evidence = append(f.Evidence, logEvidence(g.Example))
			// Every group quoted here is counted too: a firewall that
			// first dropped (timeouts) and then rejected (refusals) is
			// one finding with both kinds of lines, and its count and
			// times must be those of all of them, not of the first group.
			// A count the check made itself (php-fpm's own lines) stays.
			if f.Logs == nil || counted[i] {
				f.Logs = addSummary(f.Logs, g)
				counted[i] = true
			}
			explained = true
		}
		if explained {
			continue
		}
		// Nothing current explains the lines: the outage is over, which is
		// worth knowing (info) but needs no repair. Unless the cause could
		// not be looked at now: then it may well still hold.
		f := report.Finding{
			ID:       cause + "-past",
			Cause:    cause,
			Severity: report.Info,
			Live:     true,
			Step:     report.StepLogs,
			Title:    fmt.Sprintf("earlier in the window: %s, last at %s; the cause is not present now", failureWords(g), g.Last.Format(time.TimeOnly)),
			Detail:   "nginx logged these failures, but what caused them is gone now (php-fpm was restarted, a permission was fixed). If it comes back, the same line will show in nginx's error log.",
			Evidence: []report.Evidence{logEvidence(g.Example)},
			Logs:     summary(g),
		}
		if cause == "firewall" {
			f.Detail = "nginx's connects got no answer at all (a packet filter dropped them, the host was down, or over TCP its listen queue was full), and nginx answered 504; connects answer now. If it comes back, the same line will show in nginx's error log."
		}
		if unchecked[cause] || (cause == "firewall" && connectTimesOutNow(s, g)) {
			f.ID = cause + "-logged"
			f.Severity = report.Warning
			f.Title = fmt.Sprintf("in the window: %s, last at %s; whether the cause is still present could not be checked", failureWords(g), g.Last.Format(time.TimeOnly))
			f.Detail = "nginx logged these failures. The live check for " + cause + " could not run (see skipped), so fpmdoctor cannot tell whether it still holds."
		}
		if pool != "" {
			f.Pool = pool
		} else if len(sites) > 0 {
			f.Site = sites[0]
		}
		r.Findings = append(r.Findings, f)
		idx.add(r, len(r.Findings)-1)
		past[len(r.Findings)-1] = true
		counted[len(r.Findings)-1] = true
	}
}

// failedRequests is how many of a group's lines ended their request
// (502/504), not counting the tries nginx made good on another server.
func failedRequests(g logscan.Group) int { return g.Count - g.Retried }

// retriedNote says, after a count of failed requests, how many more lines
// were tries nginx made good on another server; "" when none were.
func retriedNote(g logscan.Group) string {
	if g.Retried == 0 {
		return ""
	}
	return " (and " + countWord(g.Retried, "failed try", "failed tries") + " nginx retried on another server)"
}

// failureWords counts a group's lines as what they were: failed requests
// (502/504), and failed tries nginx made good on another server.
func failureWords(g logscan.Group) string {
	failed := g.Count - g.Retried
	switch {
	case g.Retried == 0:
		return countWord(failed, "failure", "failures")
	case failed == 0:
		return countWord(g.Retried, "failed try", "failed tries") + " that nginx retried on another server (no 502)"
	}
	return countWord(failed, "failure", "failures") + " and " + countWord(g.Retried, "failed try", "failed tries") + " that nginx retried on another server"
}

// explainsConnect reports whether a current finding of cause can be what
// made nginx's connects to its pool or site fail (refused, no socket, no
// permission, no answer, a full queue), and so takes the logged failures
// as its own evidence. A finding about something else on the same pool
// (it listens on every address, it logs no slow requests) explains none
// of them: the lines then stay their own story.
//
// lineCause is what the lines themselves point at (connectCause). A
// refused permission (13) or a dropped client (allowed_clients) is only
// ever its own cause's, or a config not yet applied; and an invalid
// php-fpm config explains nothing while the php-fpm that runs still
// serves its old one (the finding is not Live then): an old incident's
// lines must not become the evidence of a config that broke nothing yet.
func explainsConnect(f *report.Finding, lineCause string) bool {
	switch lineCause {
	case "socket-permission", "allowed-clients":
		return f.Cause == "config-not-applied"
	}
	switch f.Cause {
	case "fpm-config-invalid":
		return f.Live
	case "fpm-down", "listen-mismatch", "stale-socket", "socket-permission",
		"allowed-clients", "config-not-applied", "firewall", "pool-exhausted", "backlog-overflow":
		return true
	}
	return false
}

// storyKeys says which pool and sites a logged connection failure is
// about, the same way for every log group, so that a live finding and the
// lines of the same incident meet whichever of them the checks name: a
// socket-permission finding names the site when a directory blocks (no
// pool is at fault) while the logged line is tied to the pool whose
// socket nginx tried.
type storyKeys struct {
	s *snapshot.Snapshot
	// sites lists, per address nginx logs (socket path, ip:port), every
	// site passing to it, in the snapshot's order: a check that reports a
	// shared socket once names the first.
	sites map[string][]string
}

func newStoryKeys(s *snapshot.Snapshot) storyKeys {
	k := storyKeys{s: s, sites: map[string][]string{}}
	add := func(addr string, site *snapshot.Site) {
		if addr != "" && !slices.Contains(k.sites[addr], site.Key()) {
			k.sites[addr] = append(k.sites[addr], site.Key())
		}
	}
	for _, site := range s.Sites {
		for _, t := range site.Targets {
			if t.Kind != nginxconf.TargetUnix && t.Kind != nginxconf.TargetTCP {
				continue
			}
			tg, _ := logscan.NormalizeUpstream(t.Target.Address(), false)
			add(tg, site)
			// nginx logs the address it connected to, not the name:
			// "fastcgi://10.0.0.2:9000" for fastcgi_pass php:9000.
			for _, a := range addrProbes(t) {
				add(a.addr, site)
			}
		}
	}
	return k
}

// of returns the pool (ID, "" when the line is tied to none) and the
// sites a log group is about. The group's target is the pool when the
// address was a pool's; the address itself stays in its entries.
func (k storyKeys) of(g logscan.Group) (pool string, sites []string) {
	addr := g.Target
	if p := poolFor(k.s, g.Target); p != nil {
		pool, addr = p.ID(), g.Example.Target
	}
	return pool, k.sites[addr]
}

// findingIndex finds the findings about a pool or a site without a scan
// of every finding per log group: a hosting host has thousands of both.
type findingIndex struct {
	byPool, bySite map[string][]int
	scratch        []int
}

func newFindingIndex(r *report.Report) *findingIndex {
	idx := &findingIndex{byPool: map[string][]int{}, bySite: map[string][]int{}}
	for i := range r.Findings {
		idx.add(r, i)
	}
	return idx
}

func (idx *findingIndex) add(r *report.Report, i int) {
	f := &r.Findings[i]
	if f.Pool != "" {
		idx.byPool[f.Pool] = append(idx.byPool[f.Pool], i)
	}
	if f.Affected != nil {
		for _, id := range f.Affected.Pools {
			if id != f.Pool {
				idx.byPool[id] = append(idx.byPool[id], i)
			}
		}
	}
	if f.Site != "" {
		idx.bySite[f.Site] = append(idx.bySite[f.Site], i)
	}
}

// concerning returns the indexes of the findings about pool or any of
// sites, in report order, each once; valid until the next call.
func (idx *findingIndex) concerning(pool string, sites []string) []int {
	out := idx.scratch[:0]
	if pool != "" {
		out = append(out, idx.byPool[pool]...)
	}
	for _, site := range sites {
		out = append(out, idx.bySite[site]...)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	idx.scratch = out
	return out
}
