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

// slowTop is how many scripts and frames a finding's slowlog summary
// names; the rest of the scripts are summed under "other".
const slowTop = 5

// enableSlowlog is what a finding about busy workers says when the pool
// has no slowlog to read.
const enableSlowlog = "enable request_slowlog_timeout to see which scripts hold workers (slowlog-disabled)"

// addSlowEvidence attaches what pool p's slowlog says in the window to f:
// the slow requests by script and by the frame they waited in, and the
// nginx failures on the pool while they ran. Without a slowlog, f's fix
// says how to get one.
func addSlowEvidence(s *snapshot.Snapshot, f *report.Finding, p *snapshot.Pool) {
	if p == nil || s.Logs == nil {
		return
	}
	path, timeout := p.Slowlog()
	sum, ok := s.Logs.Slow.Summary(p.ID(), slowTop)
	if !ok {
		switch {
		case !p.SlowlogOn():
			if f.Fix != nil {
				f.Fix.Summary += "; " + enableSlowlog
			} else {
				f.Fix = &report.Fix{Summary: enableSlowlog}
			}
		case slowlogRead(s, path):
			f.Detail += fmt.Sprintf(" The pool's slowlog (%s) has no entry in the window: no request ran longer than request_slowlog_timeout (%s).", path, timeout)
		}
		return
	}
	// Empty lists, not null, when every trace failed: the JSON keeps its shape.
	sr := &report.SlowRequests{Slowlog: path, Count: sum.Count, First: sum.First, Last: sum.Last, DumpFailed: sum.DumpFailed,
		Scripts: []report.ScriptCount{}, Frames: []report.SlowFrame{}}
	for _, c := range sum.Scripts {
		sr.Scripts = append(sr.Scripts, report.ScriptCount{Script: c.Script, Count: c.Count})
	}
	for _, fr := range sum.Frames {
		sr.Frames = append(sr.Frames, report.SlowFrame{Script: fr.Script, Function: fr.Func, Caller: fr.Caller, File: fr.File, Line: fr.Line, Count: fr.Count})
	}
	entries := s.Logs.SlowOf(p.ID())
	sr.NginxFailures = failuresWhileSlow(s, p, entries, timeout)
	f.Slow = sr
	// One entry of the top frame, quoted with its place in the slowlog.
	if len(sum.Frames) > 0 {
		top := sum.Frames[0]
		for i := len(entries) - 1; i >= 0; i-- {
			e := entries[i]
			if t := e.Top(); t != nil && e.Script == top.Script && t.Func == top.Func && t.File == top.File && t.Line == top.Line {
				f.Evidence = append(f.Evidence, slowEvidence(e))
				break
			}
		}
	}
}

// slowEvidence quotes a slowlog entry: its head, script and first frames.
func slowEvidence(e logscan.SlowEntry) report.Evidence {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s] [pool %s] pid %d script_filename = %s", e.Time.Format("02-Jan-2006 15:04:05"), poolNameOf(e.Pool), e.PID, e.Script)
	for i, fr := range e.Frames {
		if i == 3 {
			b.WriteString(" …")
			break
		}
		fmt.Fprintf(&b, " | %s() %s:%d", fr.Func, fr.File, fr.Line)
	}
	return report.Evidence{Kind: report.KindLog, File: e.File, Line: int(e.Line), Text: b.String()}
}

// poolNameOf is the pool name in a pool ID ("www (/etc/…)" → "www").
func poolNameOf(id string) string {
	if i := strings.LastIndex(id, " ("); i > 0 {
		return id[:i]
	}
	return id
}

// slowlogRead reports whether the slowlog at path was read without error.
func slowlogRead(s *snapshot.Snapshot, path string) bool {
	for _, lf := range s.Logs.Files {
		if lf.Path == path && lf.Source == logscan.SourceSlowlog {
			return lf.Err == nil
		}
	}
	return false
}

// failuresWhileSlow counts nginx's 502/504 on pool p logged while one of
// the slow requests ran: a request logged at T started about timeout
// before T, and nginx gives up on it (or on the requests queued behind
// it) at most fastcgi_read_timeout after that.
func failuresWhileSlow(s *snapshot.Snapshot, p *snapshot.Pool, entries []logscan.SlowEntry, timeout time.Duration) int {
	if len(entries) == 0 {
		return 0
	}
	wait := time.Duration(0)
	for _, site := range p.Sites {
		wait = max(wait, site.Pass.Settings().ReadTimeout)
	}
	if wait == 0 {
		wait = time.Minute // nginx's default fastcgi_read_timeout
	}
	times := make([]time.Time, len(entries))
	for i, e := range entries {
		times[i] = e.Time
	}
	slices.SortFunc(times, time.Time.Compare)
	n := 0
	for _, fl := range s.Logs.Failures {
		if fl.Pool != p.ID() || !fl.IsFailure() {
			continue
		}
		// The first slow entry logged after fl.Time-wait-1s: is it early enough?
		i, _ := slices.BinarySearchFunc(times, fl.Time.Add(-wait-time.Second), time.Time.Compare)
		if i < len(times) && !times[i].After(fl.Time.Add(timeout+time.Second)) {
			n++
		}
	}
	return n
}

// phpErrorKind names a PHP fatal error by its message.
func phpErrorKind(m string) string {
	switch {
	case strings.Contains(m, "Allowed memory size of "):
		return "memory-exhausted"
	case strings.Contains(m, "Maximum execution time of "):
		return "max-execution-time"
	case strings.Contains(m, "Uncaught "):
		return "uncaught-exception"
	}
	return "fatal"
}

// phpErrorText cuts a PHP fatal error out of a log line: from "PHP Fatal
// error:" to the end of its first line, without the quote nginx or
// php-fpm closes it with, and the place it names ("in FILE on line N",
// "in FILE:N" for uncaught exceptions).
func phpErrorText(raw string) (msg, file string, line int) {
	i := strings.Index(raw, "PHP Fatal error:")
	if i < 0 {
		return "", "", 0
	}
	msg = raw[i+len("PHP Fatal error:"):]
	if j := strings.IndexByte(msg, '\n'); j >= 0 {
		msg = msg[:j]
	}
	if j := strings.Index(msg, `" while `); j >= 0 { // nginx's "FastCGI sent in stderr: "…" while …"
		msg = msg[:j]
	}
	msg = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(msg), `"`))
	if j := strings.LastIndex(msg, " in "); j >= 0 {
		place := msg[j+4:]
		if f, l, ok := strings.Cut(place, " on line "); ok {
			if n, rest, ok := leadingNumber(l); ok && rest == "" {
				return msg, f, n
			}
		}
		if k := strings.LastIndexByte(place, ':'); k > 0 {
			if n, rest, ok := leadingNumber(place[k+1:]); ok && rest == "" {
				return msg, place[:k], n
			}
		}
	}
	return msg, "", 0
}

func leadingNumber(s string) (int, string, bool) {
	n, i := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' && i < 9 {
		n = n*10 + int(s[i]-'0')
		i++
	}
	return n, s[i:], i > 0
}

// phpErrors counts PHP's fatal errors of pool p (its ID, "" for any) in
// the window whose kind keep accepts and, when near is not empty, that
// were logged within the correlation window of one of near. php-fpm's
// log (catch_workers_output, the pool's error_log) and nginx's ("FastCGI
// sent in stderr") often carry the same error: each place is counted
// from the log that has more of it, and Status is 500 when nginx logged
// it, since it read the error from the response it then answered.
func phpErrors(s *snapshot.Snapshot, pool string, keep func(kind string) bool, near []logscan.Entry) []report.PHPError {
	if s.Logs == nil {
		return nil
	}
	type key struct {
		kind, file string
		line       int
	}
	type count struct {
		fpm, nginx int
		msg        string
	}
	counts := map[key]*count{}
	var order []key
	add := func(e logscan.Entry, fromNginx bool) {
		if e.Kind != logscan.KindMemoryExhausted && e.Kind != logscan.KindPHPFatal {
			return
		}
		if pool != "" && e.Pool != pool {
			return
		}
		msg, file, line := phpErrorText(e.Raw)
		if msg == "" {
			return
		}
		k := key{phpErrorKind(msg), file, line}
		if !keep(k.kind) {
			return
		}
		if len(near) > 0 && !slices.ContainsFunc(near, func(n logscan.Entry) bool {
			d := e.Time.Sub(n.Time)
			return d >= -correlationWindow && d <= correlationWindow
		}) {
			return
		}
		c := counts[k]
		if c == nil {
			c = &count{msg: msg}
			counts[k] = c
			order = append(order, k)
		}
		if fromNginx {
			c.nginx++
		} else {
			c.fpm++
		}
	}
	for _, e := range s.Logs.Events {
		add(e, false)
	}
	for _, e := range s.Logs.Failures {
		add(e, true)
	}
	out := make([]report.PHPError, 0, len(order))
	for _, k := range order {
		c := counts[k]
		pe := report.PHPError{Kind: k.kind, File: k.file, Line: k.line, Count: max(c.fpm, c.nginx), Message: c.msg}
		if c.nginx > 0 {
			pe.Status = 500
		}
		out = append(out, pe)
	}
	slices.SortStableFunc(out, func(a, b report.PHPError) int { return b.Count - a.Count })
	return out[:min(len(out), slowTop)]
}

// slowlogDisabled: a pool whose workers were all busy, were killed at
// request_terminate_timeout, or kept nginx waiting past its timeout, and
// whose php-fpm does not log slow requests: the one record of which
// scripts held the workers, and where, is missing. Info: it explains no
// failure by itself, and `fpmdoctor fix` turns the slowlog on.
var slowlogDisabled = Check{
	ID:    "slowlog-disabled",
	Cause: "slowlog-disabled",
	Step:  report.StepLimits,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		if s.Logs == nil {
			return nil
		}
		why := map[string][]string{}
		var order []string
		note := func(p *snapshot.Pool, what string) {
			if p == nil || p.SlowlogOn() || slices.Contains(why[p.ID()], what) {
				return
			}
			if why[p.ID()] == nil {
				order = append(order, p.ID())
			}
			why[p.ID()] = append(why[p.ID()], what)
		}
		for _, g := range logGroups(s, logscan.KindMaxChildren, logscan.KindExecutionTimedOut, logscan.KindUpstreamTimeout) {
			if g.Kind == logscan.KindUpstreamTimeout && g.Connect {
				// A connect nothing answered (a firewall's drop) held
				// no worker: no slowlog would show anything of it.
				continue
			}
			p := poolFor(s, g.Target)
			switch g.Kind {
			case logscan.KindMaxChildren:
				note(p, "ran out of workers (pool-exhausted)")
			case logscan.KindExecutionTimedOut:
				note(p, "had requests killed at request_terminate_timeout (request-timeout)")
			default:
				note(p, "kept nginx waiting past its timeout (upstream-timeout)")
			}
		}
		for _, f := range s.FPM {
			for _, p := range f.Pools {
				if probedSaturated(p) {
					note(p, "had every worker busy when probed (pool-exhausted)")
				}
			}
		}
		var out []report.Finding
		for _, id := range order {
			p := s.PoolByID(id)
			f := report.Finding{
				Severity: report.Info,
				Live:     true,
				Pool:     id,
				Title:    fmt.Sprintf("pool %s does not log slow requests: which scripts hold its workers is unknown", p.Name),
				Detail:   fmt.Sprintf("In the window the pool %s. php-fpm can write a stack trace of every request running longer than request_slowlog_timeout to the pool's slowlog: the script, the function it waits in and the line.", strings.Join(why[id], ", ")),
				Fix:      &report.Fix{Summary: fmt.Sprintf("in pool %s set slowlog = <a file> and request_slowlog_timeout = 5s (below request_terminate_timeout), then reload php-fpm", p.Name)},
			}
			path, timeout := p.Slowlog()
			switch {
			case path == "":
				f.Evidence = append(f.Evidence, fact("pool %s sets no slowlog", p.Name))
			default:
				f.Evidence = append(f.Evidence, fact("pool %s has slowlog = %s but request_slowlog_timeout = %s (off)", p.Name, path, timeout))
			}
			f.Evidence = append(f.Evidence, poolSettings(p, "slowlog", "request_slowlog_timeout")...)
			out = append(out, f)
		}
		return out
	},
}
