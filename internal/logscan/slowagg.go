package logscan

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// OtherScript is the script name under which slow requests of scripts
// past the top N (or past the aggregator's bound) are counted.
const OtherScript = "other"

// maxSlowKeys bounds the distinct scripts and frames one pool's counts
// keep: a site with generated script names (one per upload, per tenant)
// costs fixed memory; the rest is counted under OtherScript.
const maxSlowKeys = 2000

// SlowAggregator counts slowlog entries per pool: by script, and by the
// frame the request was waiting in. Not safe for concurrent use.
type SlowAggregator struct {
	pools map[string]*slowPool
}

type slowPool struct {
	count, dumpFailed int
	first, last       time.Time
	scripts           map[string]int
	frames            map[frameKey]*SlowFrameCount
	otherScripts      int
	otherFrames       int
}

type frameKey struct {
	script, fn, caller, file string
	line                     int
}

// SlowCount is a script and how many slow requests it had.
type SlowCount struct {
	Script string
	Count  int
}

// SlowFrameCount is one place slow requests were waiting: Func called at
// File:Line from Caller, in Script.
type SlowFrameCount struct {
	Script string
	Func   string
	Caller string
	File   string
	Line   int
	Count  int
}

// Where says "curl_exec() in fetch() at /var/www/lib/Http.php:88".
func (f SlowFrameCount) Where() string {
	s := f.Func + "()"
	if f.Caller != "" {
		s += " in " + f.Caller + "()"
	}
	if f.File != "" && f.File != "unknown" {
		s += " at " + f.File
		if f.Line > 0 {
			s += ":" + strconv.Itoa(f.Line)
		}
	}
	return s
}

// SlowPoolSummary is what one pool's slowlog says in the window.
type SlowPoolSummary struct {
	Count       int
	DumpFailed  int // entries whose trace php-fpm could not read
	First, Last time.Time
	Scripts     []SlowCount      // most first; the rest under OtherScript
	Frames      []SlowFrameCount // most first, at most the top N
}

// NewSlowAggregator returns an empty aggregator.
func NewSlowAggregator() *SlowAggregator {
	return &SlowAggregator{pools: map[string]*slowPool{}}
}

// Add counts e under pool (a pool ID, or the name the slowlog gives).
func (a *SlowAggregator) Add(pool string, e *SlowEntry) {
	p := a.pools[pool]
	if p == nil {
		p = &slowPool{scripts: map[string]int{}, frames: map[frameKey]*SlowFrameCount{}}
		a.pools[pool] = p
	}
	p.count++
	if p.first.IsZero() || e.Time.Before(p.first) {
		p.first = e.Time
	}
	if e.Time.After(p.last) {
		p.last = e.Time
	}
	if e.DumpFailed {
		p.dumpFailed++
	}
	if e.Script != "" {
		if _, ok := p.scripts[e.Script]; ok || len(p.scripts) < maxSlowKeys {
			p.scripts[e.Script]++
		} else {
			p.otherScripts++
		}
	}
	top := e.Top()
	if top == nil {
		return
	}
	k := frameKey{script: e.Script, fn: top.Func, caller: e.Caller(), file: top.File, line: top.Line}
	if fc := p.frames[k]; fc != nil {
		fc.Count++
	} else if len(p.frames) < maxSlowKeys {
		p.frames[k] = &SlowFrameCount{Script: k.script, Func: k.fn, Caller: k.caller, File: k.file, Line: k.line, Count: 1}
	} else {
		p.otherFrames++
	}
}

// Pools lists the pools with entries, sorted.
func (a *SlowAggregator) Pools() []string {
	out := make([]string, 0, len(a.pools))
	for k := range a.pools {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Summary returns pool's counts with the top n scripts and frames (the
// other scripts summed under OtherScript); ok is false when the pool has
// no entry.
func (a *SlowAggregator) Summary(pool string, n int) (SlowPoolSummary, bool) {
	p := a.pools[pool]
	if p == nil {
		return SlowPoolSummary{}, false
	}
	s := SlowPoolSummary{Count: p.count, DumpFailed: p.dumpFailed, First: p.first, Last: p.last}
	s.Scripts = topScripts(p.scripts, p.otherScripts, n)
	frames := make([]SlowFrameCount, 0, len(p.frames))
	for _, f := range p.frames {
		frames = append(frames, *f)
	}
	slices.SortFunc(frames, func(x, y SlowFrameCount) int {
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		return cmp.Or(cmp.Compare(x.Script, y.Script), cmp.Compare(x.File, y.File), cmp.Compare(x.Line, y.Line), cmp.Compare(x.Func, y.Func), cmp.Compare(x.Caller, y.Caller))
	})
	s.Frames = frames[:min(len(frames), max(n, 0))]
	return s, true
}

// ScriptCounts gives, per pool, the slow requests of its top n scripts
// and the rest under OtherScript: at most n+1 series per pool whatever
// the site's scripts, the bound a metric label
// (fpmdoctor_slow_requests_total{pool,script}) needs.
func (a *SlowAggregator) ScriptCounts(n int) map[string]map[string]int {
	out := make(map[string]map[string]int, len(a.pools))
	for pool, p := range a.pools {
		m := map[string]int{}
		for _, c := range topScripts(p.scripts, p.otherScripts, n) {
			m[c.Script] += c.Count
		}
		out[pool] = m
	}
	return out
}

// topScripts sorts counts, keeps the top n and sums the rest (and other)
// under OtherScript.
func topScripts(counts map[string]int, other, n int) []SlowCount {
	all := make([]SlowCount, 0, len(counts))
	for k, v := range counts {
		all = append(all, SlowCount{Script: k, Count: v})
	}
	slices.SortFunc(all, func(x, y SlowCount) int {
		if c := cmp.Compare(y.Count, x.Count); c != 0 {
			return c
		}
		return cmp.Compare(x.Script, y.Script)
	})
	n = max(n, 0)
	for _, c := range all[min(len(all), n):] {
		other += c.Count
	}
	all = all[:min(len(all), n)]
	if other > 0 {
		// A script literally named "other" joins the rest's count.
		if i := slices.IndexFunc(all, func(c SlowCount) bool { return c.Script == OtherScript }); i >= 0 {
			all[i].Count += other
		} else {
			all = append(all, SlowCount{Script: OtherScript, Count: other})
		}
	}
	return all
}
