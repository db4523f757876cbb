package snapshot

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// keepSlow bounds the slowlog entries kept for correlation with nginx's
// failures; the aggregator counts all of them.
const keepSlow = 5000

// Slowlog is where pool p logs slow requests and after how long, as
// php-fpm reads it: the path resolved like php-fpm does, the timeout in
// whole seconds. Slow requests are logged only when both are set.
func (p *Pool) Slowlog() (path string, timeout time.Duration) {
	if p.Pool == nil {
		return "", 0
	}
	return p.Pool.Path("slowlog"), time.Duration(p.Pool.Int("request_slowlog_timeout")) * time.Second
}

// SlowlogOn reports whether php-fpm logs p's slow requests.
func (p *Pool) SlowlogOn() bool {
	path, t := p.Slowlog()
	return path != "" && t > 0
}

// slowRecent keeps the most recent slowlog entries, oldest first once
// listed.
type slowRecent struct {
	entries []logscan.SlowEntry
	next    int
}

func (r *slowRecent) add(e *logscan.SlowEntry) {
	if len(r.entries) < keepSlow {
		r.entries = append(r.entries, *e)
		return
	}
	r.entries[r.next] = *e
	r.next = (r.next + 1) % keepSlow
}

func (r *slowRecent) list() []logscan.SlowEntry {
	out := append(append([]logscan.SlowEntry(nil), r.entries[r.next:]...), r.entries[:r.next]...)
	slices.SortStableFunc(out, func(a, b logscan.SlowEntry) int { return a.Time.Compare(b.Time) })
	return out
}

// slowlogJobs lists each slowlog once: pools that share a file are read
// together and told apart by the pool name each entry carries. A slowlog
// whose request_slowlog_timeout is 0 is still read: entries from before
// a reload that turned it off are still evidence.
func slowlogJobs(s *Snapshot, slow *slowRecent) []logJob {
	seen := map[string]bool{}
	var jobs []logJob
	for _, f := range s.FPM {
		if f.Config == nil {
			continue
		}
		for _, p := range f.Pools {
			path, _ := p.Slowlog()
			if path == "" || seen[path] {
				continue
			}
			seen[path] = true
			jobs = append(jobs, logJob{path: path, source: logscan.SourceSlowlog, fpm: f, slow: slow})
		}
	}
	return jobs
}

// scanSlowlog reads one slowlog in the window and counts its entries
// under the pools of j's php-fpm they name.
func scanSlowlog(ctx context.Context, s *Snapshot, j logJob, w logscan.Window, mu *sync.Mutex) LogFile {
	lf := LogFile{Path: j.path, Source: j.source}
	local, err := s.Host.Path(j.path)
	if err != nil {
		lf.Err = err
		return lf
	}
	if _, err := os.Stat(local); err != nil && errors.Is(err, os.ErrNotExist) {
		if rot, _ := logscan.Rotated(local); len(rot) == 0 {
			return lf // no slow request logged yet
		}
	}
	opt := logscan.Options{Window: w, Now: s.Now}
	lf.Stats, lf.Err = logscan.ScanSlowlogRotated(ctx, local, opt, func(e *logscan.SlowEntry) error {
		e.File = j.path
		if p := j.fpm.PoolNamed(e.Pool); p != nil {
			e.Pool = p.ID()
		}
		mu.Lock()
		defer mu.Unlock()
		s.Logs.Slow.Add(e.Pool, e)
		j.slow.add(e)
		return nil
	})
	return lf
}

// SlowOf returns the kept slowlog entries of a pool (its ID).
func (l *Logs) SlowOf(pool string) []logscan.SlowEntry {
	var out []logscan.SlowEntry
	for _, e := range l.SlowEntries {
		if e.Pool == pool {
			out = append(out, e)
		}
	}
	return out
}
