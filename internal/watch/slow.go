package watch

import (
	"slices"
	"sync"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// MaxSlowScripts bounds the script label of fpmdoctor_slow_requests_total
// per pool: the first scripts seen keep their path, later ones share
// OtherScript, so a site with thousands of scripts cannot blow up the
// series count.
const MaxSlowScripts = 10

// OtherScript is the script label beyond MaxSlowScripts.
const OtherScript = "other"

// SlowKey is one slow-request series.
type SlowKey struct {
	Pool   string // pool ID, as findings name it
	Script string // script_filename, OtherScript, or "" when php-fpm's dump failed before it
}

// Slow is one slow-request series and its count since the watcher started.
type Slow struct {
	SlowKey
	Count uint64
}

// slowCounter counts the slowlog entries each diagnosis reads that the
// previous ones had not: diagnoses read the window again every interval,
// so an entry is new when it is later than the pool's last one seen, or in
// the same second but not seen then (a pid and a byte offset tell them
// apart).
type slowCounter struct {
	mu      sync.Mutex
	started bool
	last    map[string]time.Time       // pool → time of its newest entry seen
	atLast  map[string]map[slowID]bool // pool → entries seen at that second
	scripts map[string][]string        // pool → scripts with their own label
	counts  map[SlowKey]uint64
}

type slowID struct {
	pid    int
	file   string
	offset int64
}

func newSlowCounter() *slowCounter {
	return &slowCounter{last: map[string]time.Time{}, atLast: map[string]map[slowID]bool{}, scripts: map[string][]string{}, counts: map[SlowKey]uint64{}}
}

// add takes the entries one diagnosis read (oldest first). The first
// diagnosis only sets where counting starts: its entries happened before
// the watcher did, as the log counters start at the end of each log.
func (c *slowCounter) add(entries []logscan.SlowEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range entries {
		id := slowID{e.PID, e.File, e.Offset}
		last := c.last[e.Pool]
		switch {
		case e.Time.Before(last):
			continue
		case e.Time.Equal(last):
			if c.atLast[e.Pool][id] {
				continue
			}
		default:
			c.last[e.Pool] = e.Time
			c.atLast[e.Pool] = map[slowID]bool{}
		}
		c.atLast[e.Pool][id] = true
		if c.started {
			c.counts[SlowKey{e.Pool, c.label(e.Pool, e.Script)}]++
		}
	}
	c.started = true
}

func (c *slowCounter) label(pool, script string) string {
	if script == "" {
		return ""
	}
	known := c.scripts[pool]
	if slices.Contains(known, script) {
		return script
	}
	if len(known) < MaxSlowScripts {
		c.scripts[pool] = append(known, script)
		return script
	}
	return OtherScript
}

// SlowRequests returns the slow requests php-fpm logged since the watcher
// started, by pool and script (at most MaxSlowScripts scripts per pool).
func (w *Watcher) SlowRequests() []Slow {
	return sortedCounts(&w.slow.mu, w.slow.counts,
		func(k SlowKey) string { return k.Pool + "\x00" + k.Script },
		func(k SlowKey, n uint64) Slow { return Slow{k, n} })
}
