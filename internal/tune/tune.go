// Package tune computes per-pool php-fpm process settings from what the
// host measures: the workers' real memory (PSS), the memory PHP can have
// (MemAvailable, the cgroup limit, what other processes use) and the
// concurrency the pool has seen (status page, max_children warnings).
//
// Recommend is a pure function of the Snapshot and the observations, so
// diagnose's memory-overcommit finding and, later, fix reuse its numbers;
// Observe does the I/O (status page, php-fpm log).
package tune

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// DefaultHeadroom is the share of the budget kept free: workers grow
// until pm.max_requests recycles them, the page cache keeps PHP files and
// sessions fast, and MemAvailable moves with the rest of the host.
const DefaultHeadroom = 0.10

// Options steer Recommend.
type Options struct {
	// Headroom is the fraction of the budget left unused (DefaultHeadroom
	// when 0; negative for none).
	Headroom float64
	// Peaks are the observed loads by pool ID (from Observe); a pool
	// without one is sized on memory alone.
	Peaks map[string]Peak
}

// Peak is what is known about a pool's busiest moments.
type Peak struct {
	// StatusRead is set when the status page answered; the counters are
	// since the master started.
	StatusRead         bool   `json:"status_read"`
	MaxActiveProcesses int64  `json:"max_active_processes,omitempty"`
	MaxChildrenReached int64  `json:"max_children_reached,omitempty"`
	StatusError        string `json:"status_error,omitempty"`
	// MaxChildrenEvents counts "server reached [pm.]max_children setting"
	// lines for the pool in php-fpm's log within Since; -1 when the log
	// was not read.
	MaxChildrenEvents int           `json:"max_children_events"`
	Since             time.Duration `json:"-"`
	LogFile           string        `json:"log_file,omitempty"`
	LogError          string        `json:"log_error,omitempty"`
}

// Exhausted reports whether the pool has been seen with every worker busy.
func (p Peak) Exhausted() bool { return p.MaxChildrenReached > 0 || p.MaxChildrenEvents > 0 }

// Change is one setting to write.
type Change struct {
	Key string `json:"key"`
	// Old is the value php-fpm uses now (its default when unset); New the
	// recommendation.
	Old string `json:"old"`
	New string `json:"new"`
	// Setting is the line to edit; nil when the key is not set, then the
	// line goes into the pool section at File:Line (its header).
	Setting *fpmconf.Setting `json:"-"`
	File    string           `json:"file"`
	Line    int              `json:"line"`
	Why     string           `json:"why"`
}

// RuleOfThumb is the usual 502 checklist's sizing rule, "Total RAM /
// average process size", for comparison with the measured recommendation.
type RuleOfThumb struct {
	MemTotal    uint64   `json:"mem_total"`
	AvgRSS      uint64   `json:"avg_rss"`
	MaxChildren int      `json:"max_children"`
	Differences []string `json:"differences"`
}

// Recommendation is the advice for one pool.
type Recommendation struct {
	Pool   *snapshot.Pool        `json:"-"`
	Group  *snapshot.MemoryGroup `json:"-"`
	PoolID string                `json:"pool"`
	PM     string                `json:"pm"`
	// Worker sizes measured now.
	Workers snapshot.WorkerStats `json:"workers"`
	// WorkerSize is the size a pool is planned with: the largest measured
	// worker (a busy one is larger than an idle one).
	WorkerSize uint64 `json:"worker_size"`
	// Budget is the memory PHP can have in the pool's group; Usable after
	// headroom; Share this pool's part of it.
	Budget uint64 `json:"budget"`
	Usable uint64 `json:"usable"`
	Share  uint64 `json:"share"`
	// MemoryMax is how many workers the share holds.
	MemoryMax   int         `json:"memory_max_children"`
	Peak        *Peak       `json:"peak,omitempty"`
	Changes     []Change    `json:"changes"`
	Arithmetic  []string    `json:"arithmetic"`
	RuleOfThumb RuleOfThumb `json:"rule_of_thumb"`
	// Skipped says why a pool got no recommendation ("" when it got one).
	Skipped string `json:"skipped,omitempty"`
}

// Recommend sizes every pool of a running master from s. Pools whose
// workers were not measured get a Recommendation with Skipped set.
func Recommend(s *snapshot.Snapshot, opts Options) []Recommendation {
	headroom := opts.Headroom
	switch {
	case headroom == 0:
		headroom = DefaultHeadroom
	case headroom < 0:
		headroom = 0
	}
	var out []Recommendation
	for _, g := range s.MemoryGroups() {
		usable := uint64(float64(g.Budget) * (1 - headroom))
		// Share the group's memory by expected demand: the workers a pool
		// needs at its peak (or runs now) times their size.
		weights := make([]float64, len(g.Pools))
		var total float64
		for i, p := range g.Pools {
			st := p.WorkerStats()
			demand := float64(max(st.Running, 1))
			if pk, ok := opts.Peaks[p.ID()]; ok && pk.MaxActiveProcesses > 0 {
				demand = float64(pk.MaxActiveProcesses)
			}
			weights[i] = demand * float64(st.MaxPSS)
			total += weights[i]
		}
		for i, p := range g.Pools {
			share := usable
			if total > 0 {
				share = uint64(float64(usable) * weights[i] / total)
			}
			out = append(out, recommend(s, g, p, headroom, usable, share, opts))
		}
		for _, p := range g.Unmeasured {
			st := p.WorkerStats()
			why := "no running workers to measure (pm = " + p.Pool.PM() + "); start some load and run tune again"
			if st.Running > 0 {
				why = "its workers' memory cannot be read (run as root)"
			}
			out = append(out, Recommendation{Pool: p, Group: g, PoolID: p.ID(), PM: p.Pool.PM(), Workers: st, Skipped: why, Changes: []Change{}})
		}
	}
	return out
}

func recommend(s *snapshot.Snapshot, g *snapshot.MemoryGroup, p *snapshot.Pool, headroom float64, usable, share uint64, opts Options) Recommendation {
	st := p.WorkerStats()
	r := Recommendation{Pool: p, Group: g, PoolID: p.ID(), PM: p.Pool.PM(), Workers: st, WorkerSize: st.MaxPSS,
		Budget: g.Budget, Usable: usable, Share: share, Changes: []Change{}}
	if pk, ok := opts.Peaks[p.ID()]; ok {
		r.Peak = &pk
	}
	add := func(format string, args ...any) { r.Arithmetic = append(r.Arithmetic, fmt.Sprintf(format, args...)) }
	mem := s.Memory.Host

	add("workers: %d running, %d measured; PSS average %s, max %s; RSS average %s", st.Running, st.Measured, MiB(st.AvgPSS), MiB(st.MaxPSS), MiB(st.AvgRSS))
	if g.Limited() {
		add("memory for PHP: cgroup limit %s − usage %s + %s held by the pools' workers = %s (the host would allow %s)",
			MiB(g.Cgroup.Limit), MiB(g.Cgroup.Current), MiB(g.InUse), MiB(g.Budget), MiB(g.HostRoom))
	} else {
		add("memory for PHP: MemAvailable %s + %s held by the pools' workers = %s", MiB(mem.Available), MiB(g.InUse), MiB(g.Budget))
	}
	add("usable: %s × (1 − %.0f%% headroom) = %s", MiB(g.Budget), headroom*100, MiB(usable))
	if n := len(g.Pools); n > 1 {
		add("this pool's share, by peak workers × worker size over the %d measured pools: %s", n, MiB(share))
	}
	if st.MaxPSS == 0 {
		r.Skipped = "measured workers report no memory"
		return r
	}
	r.MemoryMax = max(1, int(share/st.MaxPSS))
	add("memory allows: %s ÷ %s (largest worker) = %d workers", MiB(share), MiB(st.MaxPSS), r.MemoryMax)

	cur := p.Pool.Int("pm.max_children")
	newMax := cur
	var why string
	switch {
	case cur > r.MemoryMax:
		newMax = r.MemoryMax
		why = fmt.Sprintf("%d workers × %s = %s does not fit in %s; %d do", cur, MiB(st.MaxPSS), MiB(uint64(cur)*st.MaxPSS), MiB(share), r.MemoryMax)
	case r.Peak != nil && r.Peak.Exhausted():
		newMax = min(r.MemoryMax, max(cur*2, cur+1))
		why = fmt.Sprintf("every worker was busy (%s); memory allows up to %d, so raise to %d", exhaustion(r.Peak), r.MemoryMax, newMax)
	}
	if r.Peak != nil {
		add("peak: %s", peakText(r.Peak))
	}
	if newMax != cur {
		r.change(p, "pm.max_children", strconv.Itoa(newMax), why)
	} else {
		add("pm.max_children = %d fits in memory (%d × %s = %s ≤ %s) and was not seen exhausted: keep it", cur, cur, MiB(st.MaxPSS), MiB(uint64(cur)*st.MaxPSS), MiB(share))
	}

	pm := r.PM
	if pm == "static" && r.Peak != nil && r.Peak.StatusRead && r.Peak.MaxActiveProcesses < int64(newMax)/2 {
		pm = "dynamic"
		r.change(p, "pm", pm, fmt.Sprintf("at most %d of %d workers were ever busy; dynamic frees the idle ones' memory", r.Peak.MaxActiveProcesses, newMax))
	}
	if pm == "dynamic" {
		minSpare := clamp(int(math.Round(float64(newMax)/10)), 1, newMax)
		maxSpare := clamp(int(math.Round(float64(newMax)/4)), minSpare, newMax)
		start := minSpare + (maxSpare-minSpare)/2
		curMin, curMax, curStart := p.Pool.Int("pm.min_spare_servers"), p.Pool.Int("pm.max_spare_servers"), p.Pool.Int("pm.start_servers")
		// Only touch the spare settings when max_children or pm moves, or
		// when they no longer fit under it: php-fpm refuses to start then.
		if newMax != cur || pm != r.PM || curMax > newMax || curMin > curMax || curStart < curMin || curStart > curMax {
			if newMax > cur && pm == r.PM && curMin >= 1 && curMin <= curMax && curMax <= newMax {
				// A growing pool keeps the spare workers it had: lowering
				// them would make it slower to absorb the bursts it is
				// being grown for. Only raise them to the formula.
				minSpare = max(minSpare, curMin)
				maxSpare = clamp(max(maxSpare, curMax), minSpare, newMax)
				start = clamp(curStart, minSpare, maxSpare)
				add("spare workers: kept or raised as the pool grows: min = max(%d, round(%d ÷ 10)) = %d, max = max(%d, round(%d ÷ 4)) = %d, start = %d", curMin, newMax, minSpare, curMax, newMax, maxSpare, start)
			} else {
				add("spare workers: min = round(%d ÷ 10) = %d, max = round(%d ÷ 4) = %d, start = min + (max − min) ÷ 2 = %d (php-fpm's own default formula)", newMax, minSpare, newMax, maxSpare, start)
			}
			r.change(p, "pm.min_spare_servers", strconv.Itoa(minSpare), "about a tenth of the pool idle, ready for a burst")
			r.change(p, "pm.max_spare_servers", strconv.Itoa(maxSpare), "no more than a quarter idle: idle workers hold memory")
			r.change(p, "pm.start_servers", strconv.Itoa(start), "between the spare bounds, as php-fpm computes its default")
		}
	}

	if p.Pool.Int("request_terminate_timeout") == 0 {
		if t, where := readTimeout(p); t > 0 {
			r.change(p, "request_terminate_timeout", strconv.Itoa(t)+"s",
				fmt.Sprintf("unset (0) lets a stuck request hold a worker forever; nginx stops waiting after fastcgi_read_timeout %ds (%s), so a worker still busy after that works for nobody", t, where))
		}
	}

	r.RuleOfThumb = ruleOfThumb(s, g, st, r.MemoryMax, headroom)
	return r
}

// change records a setting whose value differs from what php-fpm uses.
func (r *Recommendation) change(p *snapshot.Pool, key, val, why string) {
	old := p.Pool.Value(key)
	if old == val {
		return
	}
	c := Change{Key: key, Old: old, New: val, Why: why, File: p.Pool.File, Line: p.Pool.Line}
	if set := p.Pool.Get(key); set != nil {
		c.Setting, c.File, c.Line = set, set.File, set.Line
	}
	r.Changes = append(r.Changes, c)
}

// readTimeout is the longest fastcgi_read_timeout of the sites routed to
// the pool, with where it is set.
func readTimeout(p *snapshot.Pool) (int, string) {
	best, where := 0, ""
	for _, site := range p.Sites {
		set := site.Pass.Settings()
		if t := int(set.ReadTimeout / time.Second); t > best {
			best, where = t, "nginx's default"
			if d := set.From["fastcgi_read_timeout"]; d != nil {
				where = fmt.Sprintf("%s:%d", d.File, d.Line)
			}
		}
	}
	return best, where
}

func ruleOfThumb(s *snapshot.Snapshot, g *snapshot.MemoryGroup, st snapshot.WorkerStats, ours int, headroom float64) RuleOfThumb {
	mem := s.Memory.Host
	sd := RuleOfThumb{MemTotal: mem.Total, AvgRSS: st.AvgRSS}
	if st.AvgRSS > 0 {
		sd.MaxChildren = int(mem.Total / st.AvgRSS)
	}
	d := func(format string, args ...any) {
		sd.Differences = append(sd.Differences, fmt.Sprintf(format, args...))
	}
	d("Total RAM / average process size = %s / %s RSS = %d, against %d here", MiB(mem.Total), MiB(st.AvgRSS), sd.MaxChildren, ours)
	if st.AvgRSS > st.AvgPSS {
		d("RSS counts pages shared by all workers (opcache, the PHP binary, libraries) once per worker: %s RSS against %s PSS on average", MiB(st.AvgRSS), MiB(st.AvgPSS))
	}
	if st.MaxPSS > st.AvgPSS {
		d("an average worker is not a busy one: the largest measured worker (%s PSS) is what a peak looks like", MiB(st.MaxPSS))
	}
	if other := int64(mem.Total) - int64(mem.Available) - int64(g.InUse); other > 0 {
		d("Total RAM is not free: other processes, the kernel and unreclaimable caches use %s (MemTotal − MemAvailable − the workers)", MiB(uint64(other)))
	}
	if g.Limited() {
		d("php-fpm runs under a cgroup limit of %s, which binds before the host's RAM", MiB(g.Cgroup.Limit))
	}
	if len(g.Pools) > 1 {
		d("%d pools share that memory", len(g.Pools))
	}
	if headroom > 0 {
		d("%.0f%% is kept free for worker growth and the page cache", headroom*100)
	}
	return sd
}

func exhaustion(p *Peak) string {
	switch {
	case p.MaxChildrenReached > 0 && p.MaxChildrenEvents > 0:
		return fmt.Sprintf("status page: max children reached %d; %d warnings in the log", p.MaxChildrenReached, p.MaxChildrenEvents)
	case p.MaxChildrenReached > 0:
		return fmt.Sprintf("status page: max children reached %d", p.MaxChildrenReached)
	}
	return fmt.Sprintf("%d \"server reached max_children\" warnings in the log", p.MaxChildrenEvents)
}

func peakText(p *Peak) string {
	var s string
	if p.StatusRead {
		s = fmt.Sprintf("status page: max active processes %d, max children reached %d (since the master started)", p.MaxActiveProcesses, p.MaxChildrenReached)
	} else if p.StatusError != "" {
		s = "status page not read: " + p.StatusError
	} else {
		s = "no status page (pm.status_path not set)"
	}
	if p.MaxChildrenEvents >= 0 {
		s += fmt.Sprintf("; %d \"server reached max_children\" warnings in %s within %s", p.MaxChildrenEvents, p.LogFile, p.Since)
	} else if p.LogError != "" {
		s += "; log not read: " + p.LogError
	}
	return s
}

func clamp(v, lo, hi int) int { return max(lo, min(v, hi)) }

// MiB formats bytes as MiB with one decimal, the unit people size pools in.
func MiB(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
