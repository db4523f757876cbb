package watch

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/checks"
	"github.com/fpmdoctor/fpmdoctor/internal/follow"
	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// LineFollower delivers the lines appended to one log file, across
// rotations (internal/follow implements it).
type LineFollower interface {
	// Poll hands every complete line written since the last call to fn
	// and returns; the slice is only valid during the call.
	Poll(ctx context.Context, fn func(line []byte)) error
	Close() error
}

// FollowFunc opens a follower of path, positioned at its end: what was
// written before the watcher started is the diagnosis' window, not new.
type FollowFunc func(path string) LineFollower

// maxLine caps one followed line: nginx cuts its own at 2048 bytes plus
// context; a log filled with garbage without newlines must not grow memory.
const maxLine = 64 << 10

// FailureKey labels one upstream failure series.
type FailureKey struct {
	Cause, Site, Pool string
}

// EntryKey labels one classified-entry series.
type EntryKey struct {
	Source logscan.Source
	Kind   logscan.Kind
}

// logCounter counts what the followers read.
type logCounter struct {
	mu       sync.Mutex
	failures map[FailureKey]uint64
	entries  map[EntryKey]uint64
	lines    map[logscan.Source]uint64
	// news holds what already triggered a diagnosis in the current
	// interval: a storm of the same 502s (a hundred pools failing a
	// thousand times a second) brings one diagnosis forward per interval,
	// not one per line or per diagnosis.
	news      map[string]bool
	newsSince time.Time
}

func newLogCounter() *logCounter {
	return &logCounter{failures: map[FailureKey]uint64{}, entries: map[EntryKey]uint64{}, lines: map[logscan.Source]uint64{}, news: map[string]bool{}}
}

// Failure is one upstream failure series and its count since start.
type Failure struct {
	FailureKey
	Count uint64
}

// Failures returns nginx's 502/504 lines counted since the watcher started,
// by cause, site and pool: a failed try nginx followed with a try of
// another server of the upstream (logscan.Attempts) is no 502 and is
// counted under Entries only.
func (w *Watcher) Failures() []Failure {
	return sortedCounts(&w.logs.mu, w.logs.failures,
		func(k FailureKey) string { return k.Cause + "\x00" + k.Site + "\x00" + k.Pool },
		func(k FailureKey, n uint64) Failure { return Failure{k, n} })
}

// sortedCounts copies the counters of m, read under mu, in the order of
// their keys' sort strings: one shape for every counter series the
// collectors read, so scrapes list series in a stable order.
func sortedCounts[K comparable, T any](mu *sync.Mutex, m map[K]uint64, sortKey func(K) string, item func(K, uint64) T) []T {
	type counted struct {
		sort string
		item T
	}
	mu.Lock()
	all := make([]counted, 0, len(m))
	for k, n := range m {
		all = append(all, counted{sortKey(k), item(k, n)})
	}
	mu.Unlock()
	slices.SortFunc(all, func(a, b counted) int { return strings.Compare(a.sort, b.sort) })
	out := make([]T, len(all))
	for i, c := range all {
		out[i] = c.item
	}
	return out
}

// Entry is one classified-entry series and its count since start.
type Entry struct {
	EntryKey
	Count uint64
}

// Entries returns the classified entries the followers read, by source
// and kind (the stable logscan.Kind strings).
func (w *Watcher) Entries() []Entry {
	return sortedCounts(&w.logs.mu, w.logs.entries,
		func(k EntryKey) string { return string(k.Source) + "\x00" + string(k.Kind) },
		func(k EntryKey, n uint64) Entry { return Entry{k, n} })
}

// Lines returns how many lines the followers read, by source.
func (w *Watcher) Lines() map[logscan.Source]uint64 {
	w.logs.mu.Lock()
	defer w.logs.mu.Unlock()
	out := make(map[logscan.Source]uint64, len(w.logs.lines))
	for k, v := range w.logs.lines {
		out[k] = v
	}
	return out
}

// quietKinds are php-fpm entries of normal operation: they do not call
// for a new diagnosis.
var quietKinds = map[logscan.Kind]bool{
	logscan.KindChildStarted: true, logscan.KindReady: true, logscan.KindStarted: true,
	logscan.KindOther: true, logscan.KindSlow: true,
}

type followed struct {
	path    string
	source  logscan.Source
	f       LineFollower
	lastErr string
	last    follow.Stats
	// tries groups the failed tries of one request, as the diagnosis
	// does, so a try nginx made good on another server is no failure.
	tries logscan.Attempts
}

// statser is a follower that reports what it did (internal/follow does).
type statser interface{ Stats() follow.Stats }

// logRotation writes one line per rotation the follower saw, and says so
// loudly when a truncation had no copy to read from (lines may be lost).
func (w *Watcher) logRotation(fl *followed) {
	sf, ok := fl.f.(statser)
	if !ok {
		return
	}
	st := sf.Stats()
	p := fl.last
	fl.last = st
	if st.Renames == p.Renames && st.Recreates == p.Recreates && st.Truncates == p.Truncates && st.Unmatched == p.Unmatched && st.Cut == p.Cut {
		return
	}
	attrs := []any{"collector", CollectorLogs, "path", fl.path, "renames", st.Renames, "recreates", st.Recreates,
		"truncates", st.Truncates, "recovered", st.Recovered, "unmatched", st.Unmatched, "cut", st.Cut, "lines", st.Lines}
	if st.Unmatched > p.Unmatched {
		w.log.Warn("log truncated with no copy found: lines written since the previous read may be lost", attrs...)
		return
	}
	w.log.Info("log rotated", attrs...)
}

// logLoop follows every log the last diagnosis named, polling them every
// PollInterval, and re-syncs the set after each diagnosis.
func (w *Watcher) logLoop(ctx context.Context) {
	open := map[string]*followed{}
	defer func() {
		for _, fl := range open {
			fl.f.Close()
		}
	}()
	ticker := time.NewTicker(w.opts.PollInterval)
	defer ticker.Stop()
	var seq uint64
	synced := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.reopen:
			for p, fl := range open {
				fl.f.Close()
				delete(open, p)
			}
			synced = false
		case <-ticker.C:
		}
		st := w.State()
		if st == nil {
			continue
		}
		if !synced || st.Seq != seq {
			w.syncFollowers(open, st)
			seq, synced = st.Seq, true
		}
		start := time.Now()
		var failed error
		for _, fl := range open {
			err := fl.f.Poll(ctx, func(line []byte) { w.handleLine(st, fl, line) })
			if ctx.Err() != nil {
				return
			}
			w.logRotation(fl)
			if errors.Is(err, fs.ErrNotExist) {
				// Not written yet (php-fpm never started, a rotation
				// that has not recreated it): nothing to read, not a fault.
				err = nil
			}
			msg := ""
			if err != nil {
				msg, failed = err.Error(), err
			}
			if msg != fl.lastErr {
				if msg != "" {
					w.log.Error("cannot follow log; the other logs are still followed", "collector", CollectorLogs, "path", fl.path, "err", err)
				} else {
					w.log.Info("following log again", "collector", CollectorLogs, "path", fl.path)
				}
				fl.lastErr = msg
			}
		}
		w.record(CollectorLogs, time.Since(start), failed)
	}
}

func (w *Watcher) syncFollowers(open map[string]*followed, st *State) {
	want := map[string]bool{}
	for _, src := range st.logs {
		want[src.Path] = true
		if _, ok := open[src.Path]; ok {
			continue
		}
		open[src.Path] = &followed{path: src.Path, source: src.Source, f: w.opts.Follow(src.Path)}
		w.log.Debug("following log", "collector", CollectorLogs, "path", src.Path, "source", src.Source)
	}
	for p, fl := range open {
		if !want[p] {
			fl.f.Close()
			delete(open, p)
		}
	}
}

// handleLine classifies one line as the diagnosis classifies log entries,
// counts it, and triggers a diagnosis on a failure or a php-fpm event.
func (w *Watcher) handleLine(st *State, fl *followed, line []byte) {
	if len(line) == 0 {
		return
	}
	var (
		e  logscan.Entry
		ok bool
	)
	switch fl.source {
	case logscan.SourceNginx:
		e, ok = logscan.ParseNginx(string(line), nil)
	default:
		e, ok = logscan.ParseFPM(string(line), nil)
	}
	lc := w.logs
	lc.mu.Lock()
	lc.lines[fl.source]++
	lc.mu.Unlock()
	if !ok || e.Kind == logscan.KindOther {
		return
	}
	if e.Source == logscan.SourceNginx && e.OwnCheck() {
		return // fpmdoctor fix's own check request, no user's (as diagnose reads the logs)
	}
	if e.Source == logscan.SourceNginx {
		fl.tries.Mark(&e, st.tie.Tries(&e))
	}
	relevant := false
	var fk FailureKey
	failure := e.IsFailure()
	if failure || !quietKinds[e.Kind] {
		pool, site := st.tie.Tie(&e, fl.path)
		if failure {
			fk.Cause = checks.LineCause(&e)
			if fk.Cause == "" {
				fk.Cause = UnclassifiedCause
			}
			if pool != nil {
				fk.Pool = pool.ID()
			}
			if site != nil {
				fk.Site = st.SiteLabel(site.Key())
			}
		}
		relevant = true
	}
	if e.Kind == logscan.KindChildExitedCode && e.ExitCode == 0 {
		relevant = false
	}
	lc.mu.Lock()
	lc.entries[EntryKey{e.Source, e.Kind}]++
	if failure {
		lc.failures[fk]++
	}
	if relevant {
		// Only news triggers: a failure of a cause, site and pool, or an
		// event of a kind and pool, not seen since the last diagnosis.
		if now := time.Now(); now.Sub(lc.newsSince) >= w.opts.Interval {
			clear(lc.news)
			lc.newsSince = now
		}
		k := string(e.Kind) + "\x00" + e.Pool + "\x00" + fk.Cause + "\x00" + fk.Site
		relevant = !lc.news[k]
		lc.news[k] = true
	}
	lc.mu.Unlock()
	if relevant {
		w.Trigger()
	}
}
