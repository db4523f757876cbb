package checks

import (
	"fmt"
	"slices"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// headerTooBig: "upstream sent too big header while reading response header
// from upstream": the script's response headers (cookies, redirects with
// long URLs, debug headers) do not fit fastcgi_buffer_size; nginx answers
// 502.
var headerTooBig = Check{
	ID:    "header-too-big",
	Cause: "header-too-big",
	Step:  report.StepLogs,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, g := range logGroups(s, logscan.KindTooBigHeader) {
			p := poolFor(s, g.Target)
			if past, ok := headersSettled(s, p, g); ok {
				out = append(out, past)
				continue
			}
			f := report.Finding{
				Severity: report.Error,
				Live:     true,
				Pool:     poolID(p),
				Title:    fmt.Sprintf("responses of %s have headers larger than fastcgi_buffer_size: %s got 502", poolName(p, g.Target), countWord(failedRequests(g), "request", "requests")) + retriedNote(g),
				Detail:   "nginx reads the FastCGI response header into one buffer of fastcgi_buffer_size (one memory page, 4k, by default); a bigger header is refused.",
				Evidence: []report.Evidence{logEvidence(g.Example)},
				Logs:     summary(g),
				Fix:      &report.Fix{Summary: "raise fastcgi_buffer_size (e.g. 32k) and fastcgi_buffers (e.g. 16 32k) in the PHP location; and find what sets such headers"},
			}
			if p != nil && len(p.Sites) > 0 {
				site := p.Sites[0]
				set := site.Pass.Settings()
				f.Evidence = append(f.Evidence, settingEvidenceOr(set, "fastcgi_buffer_size",
					report.Evidence{Kind: report.KindConfig, File: site.Pass.Directive.File, Line: site.Pass.Directive.Line, Text: fmt.Sprintf("no fastcgi_buffer_size for %s: nginx's default %d bytes applies", site.Name, set.BufferSize)}))
			}
			out = append(out, f)
		}
		return out
	},
}

// headersSettled tells a pool's refused headers as history, or as
// undecided, instead of a current error, when the host shows the config
// that refused them no longer runs. nginx does not log how big a refused
// header was, so a larger fastcgi_buffer_size alone proves nothing:
//   - every line predates the running nginx's last config load (its
//     oldest worker's start time in /proc), and fpmdoctor fix proved a
//     repair of this pool by replaying the refused request after the lines
//     (its record, valid while the files it wrote are unchanged): history,
//     info;
//   - every line predates the load, and a file of nginx's config changed
//     after the last line: the buffer may now hold them or not, which
//     cannot be told: a warning that says so;
//   - otherwise the config that refused them still runs: nothing here.
func headersSettled(s *snapshot.Snapshot, p *snapshot.Pool, g logscan.Group) (report.Finding, bool) {
	if p == nil || !s.Live || len(p.Sites) == 0 || g.Last.IsZero() {
		return report.Finding{}, false
	}
	site := p.Sites[0]
	n := site.Nginx
	if n.Master == nil || n.Config == nil {
		return report.Finding{}, false
	}
	loaded, how := n.ConfigLoadedAt()
	if !loggedBeforeLoad(s, n, g, loaded) {
		return report.Finding{}, false
	}
	loadFact := fact("nginx master pid %d %s %s, after the last refused header", n.Master.PID, how, loaded.Format(time.DateTime))
	buf := site.Pass.Settings()
	bufEv := settingEvidenceOr(buf, "fastcgi_buffer_size", fact("fastcgi_buffer_size for %s is nginx's default %d bytes", site.Name, buf.BufferSize))
	for _, rp := range s.Repairs {
		// The repair reloaded nginx: the running config is the one it
		// proved when nginx loaded it then or later.
		if rp.Cause != "header-too-big" || rp.Pool != p.ID() || g.Last.After(rp.At) || loaded.Add(startSlack).Before(rp.At) {
			continue
		}
		return report.Finding{
			ID:       "header-too-big-past",
			Severity: report.Info,
			Live:     true,
			Pool:     p.ID(),
			Title:    fmt.Sprintf("earlier in the window: %s of %s had headers larger than fastcgi_buffer_size, the last at %s; the cause is not present now", countWord(g.Count, "response", "responses"), p.Name, g.Last.Format(time.TimeOnly)),
			Detail:   fmt.Sprintf("These 502s were logged before fpmdoctor fix raised the buffer at %s: %s. The files it wrote are unchanged and nginx loaded them.", rp.At.Format(time.TimeOnly), rp.Proof),
			Evidence: []report.Evidence{logEvidence(g.Example), bufEv, loadFact, fact("fpmdoctor fix at %s: %s", rp.At.Format(time.DateTime), rp.Proof)},
			Logs:     summary(g),
		}, true
	}
	changed := changedSince(s, settingFiles(p), g.Last, loaded, "the last refused header")
	if len(changed) == 0 {
		return report.Finding{}, false
	}
	ev := append([]report.Evidence{logEvidence(g.Example), bufEv, loadFact}, changed...)
	return report.Finding{
		Severity: report.Warning,
		Live:     true,
		Pool:     p.ID(),
		Title:    fmt.Sprintf("%s of %s had headers larger than fastcgi_buffer_size before nginx loaded a changed config; whether they fit now cannot be told", countWord(g.Count, "response", "responses"), p.Name),
		Detail:   "Every refused header was logged before nginx last loaded its config, and its config changed after the last one. nginx does not log how big a refused header was, so whether the buffer now holds them cannot be decided from the host: request the logged URL again (fpmdoctor fix measures its header and replays it).",
		Evidence: ev,
		Logs:     summary(g),
		Fix:      &report.Fix{Summary: "request the logged URL again; if it still gets 502, raise fastcgi_buffer_size (fpmdoctor fix measures the header) and find what sets such headers"},
	}, true
}

// loggedBeforeLoad: every line of nginx's group g was written before n
// last loaded its config at loaded. Log times have whole seconds and
// process start times are off by up to a second (startSlack), so a line
// near the load is decided by who wrote it: nginx replaces every worker
// when it loads its config, so a line whose worker (the pid after the
// level) no longer runs came from the old config. That needs every line
// of the group among the kept ones; else undecided, and so not before.
func loggedBeforeLoad(s *snapshot.Snapshot, n *snapshot.Nginx, g logscan.Group, loaded time.Time) bool {
	if loggedWellBefore(g.Last, loaded) {
		return true
	}
	if g.Last.After(loaded.Add(startSlack)) {
		return false
	}
	running := map[int]bool{}
	for _, w := range n.Workers {
		// An old worker still finishing its requests writes lines of the
		// old config: not running it.
		running[w.PID] = !w.ShuttingDown()
	}
	seen := 0
	for _, e := range s.Logs.Failures {
		tg := e.Pool
		if tg == "" {
			tg = e.Target
		}
		if e.Kind != g.Kind || tg != g.Target {
			continue
		}
		if e.PID == 0 || running[e.PID] {
			return false
		}
		seen++
	}
	return seen == g.Count
}

// loggedWellBefore reports whether a line logged at last (whole seconds)
// was certainly written before a process started at loaded (off by up to
// startSlack).
func loggedWellBefore(last, loaded time.Time) bool {
	return last.Before(loaded.Add(-startSlack).Truncate(time.Second))
}

// settingFiles lists the nginx files that can hold a setting a site of
// p inherits at its fastcgi_pass (fastcgi_buffer_size,
// fastcgi_read_timeout): the files of every block around the pass, and of
// those blocks' plain directives (an include inside a location brings its
// directives there). Other servers and locations are left out: a change
// to another site (a fix of its fastcgi_pass) changes nothing here.
func settingFiles(p *snapshot.Pool) []string {
	var out []string
	add := func(f string) {
		if f != "" && !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	for _, site := range p.Sites {
		d := site.Pass.Directive
		if d == nil {
			continue
		}
		add(d.File)
		for blk := d.Parent; blk != nil; blk = blk.Parent {
			add(blk.File)
			for _, c := range blk.Block {
				if !c.IsBlock {
					add(c.File)
				}
			}
		}
	}
	return out
}

// changedSince quotes the files among paths modified after the logged
// time last (from the next whole second on: a log time has no fraction,
// a file's time has nanoseconds) and no later than loaded, when the server last read them: changed between the
// lines and the config that runs now. A file changed only after the load
// changes nothing that runs (config-not-applied tells it).
func changedSince(s *snapshot.Snapshot, paths []string, last, loaded time.Time, what string) []report.Evidence {
	var out []report.Evidence
	for _, p := range paths {
		fi := s.Host.Stat(p)
		if fi.Exists && !fi.ModTime.Before(last.Add(time.Second)) && !fi.ModTime.After(loaded.Add(startSlack)) {
			out = append(out, report.Evidence{Kind: report.KindFact, File: fi.Path, Text: "modified " + fi.ModTime.Format(time.DateTime) + ", after " + what})
		}
	}
	return out
}
