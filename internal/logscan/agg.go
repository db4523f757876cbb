package logscan

import (
	"sort"
	"strings"
	"time"
)

// GroupKey identifies a group of entries: one kind, from one source, about
// one target. Target is the pool for php-fpm entries, the normalized
// upstream for nginx ones (or the pool, when the caller set Entry.Pool).
type GroupKey struct {
	Source Source
	Kind   Kind
	Target string
	// Connect splits upstream timeouts by phase: a connect nothing
	// answered (a packet filter's drop, a host that is down) is another
	// incident than a response that took too long, and the two must not
	// share one group whose example tells only the first.
	Connect bool
}

// URLCount is one request path and how often it was seen.
type URLCount struct {
	URL   string
	Count int
}

// Group summarizes the entries of one GroupKey.
type Group struct {
	GroupKey
	Count int
	// Retried is how many of Count were tries nginx followed with a try
	// of another server (Entry.Retried), not failed requests.
	Retried     int
	First, Last time.Time
	Example     Entry      // the first entry, kept as evidence
	TopURLs     []URLCount // most frequent request paths, highest first
	urls        urlCounter
}

// Bucket counts events of one minute.
type Bucket struct {
	Minute   time.Time
	Nginx502 int // nginx failures answered with 502
	Nginx504 int // nginx failures answered with 504
	// Retried counts nginx's failed tries of a server that nginx followed
	// with a try of another one (Entry.Retried): no 502 or 504 came of them.
	Retried int
	FPM     int // php-fpm, kernel and systemd events of interest
}

// Aggregator groups classified entries by kind and target, and keeps a
// per-minute timeline. Its memory is bounded by the number of groups and
// minutes, not by the number of entries: URL counts use a fixed-size
// approximate top-N table.
type Aggregator struct {
	topN    int
	groups  map[GroupKey]*Group
	buckets map[int64]*Bucket
}

// NewAggregator returns an aggregator keeping the topN most frequent
// request paths per group (10 when topN <= 0).
func NewAggregator(topN int) *Aggregator {
	if topN <= 0 {
		topN = 10
	}
	return &Aggregator{topN: topN, groups: map[GroupKey]*Group{}, buckets: map[int64]*Bucket{}}
}

// Add counts one entry. Entries of KindOther are ignored.
func (a *Aggregator) Add(e *Entry) {
	if e.Kind == KindOther {
		return
	}
	target := e.Pool
	if target == "" {
		target = e.Target
	}
	k := GroupKey{Source: e.Source, Kind: e.Kind, Target: target, Connect: e.ConnectTimeout()}
	g := a.groups[k]
	if g == nil {
		k.Target = strings.Clone(target) // e's text is only borrowed
		g = &Group{GroupKey: k, First: e.Time, Last: e.Time, Example: e.Clone()}
		g.urls.cap = 8 * a.topN
		a.groups[k] = g
	}
	g.Count++
	if e.Retried {
		g.Retried++
	}
	if !e.Time.IsZero() {
		if g.First.IsZero() || e.Time.Before(g.First) {
			g.First = e.Time
		}
		if e.Time.After(g.Last) {
			g.Last = e.Time
		}
	}
	if p := e.Path(); p != "" {
		g.urls.add(p)
	}
	if e.Time.IsZero() {
		return
	}
	fpmSide := e.Source != SourceNginx && fpmEventOfInterest(e.Kind)
	if !e.IsFailure() && !fpmSide && !(e.Retried && e.Source == SourceNginx) {
		return
	}
	m := e.Time.Unix() / 60
	b := a.buckets[m]
	if b == nil {
		b = &Bucket{Minute: time.Unix(m*60, 0).In(e.Time.Location())}
		a.buckets[m] = b
	}
	switch {
	case e.Retried && e.Source == SourceNginx:
		b.Retried++
	case e.Status == 502 && e.Source == SourceNginx:
		b.Nginx502++
	case e.Status == 504 && e.Source == SourceNginx:
		b.Nginx504++
	default:
		b.FPM++
	}
}

// fpmEventOfInterest: php-fpm side events that explain failures, as
// opposed to routine lifecycle lines (child started, ready).
func fpmEventOfInterest(k Kind) bool {
	switch k {
	case KindMaxChildren, KindSeemsBusy, KindChildExitedSignal, KindExecutionTimedOut, KindSlow,
		KindConnectionDisallowed, KindBindFailed, KindAddressInUse, KindConfigError, KindMemoryExhausted,
		KindPHPFatal, KindExiting, KindReloading, KindOOMKilled, KindServiceFailed, KindEmergencyRestart,
		KindProcessMax:
		return true
	}
	return false
}

// Groups returns the groups, largest first (ties by kind and target).
func (a *Aggregator) Groups() []Group {
	out := make([]Group, 0, len(a.groups))
	for _, g := range a.groups {
		c := *g
		c.TopURLs = g.urls.top(a.topN)
		c.urls = urlCounter{}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Target < out[j].Target
	})
	return out
}

// Group returns one group, if any entry had that key.
func (a *Aggregator) Group(k GroupKey) (Group, bool) {
	g, ok := a.groups[k]
	if !ok {
		return Group{}, false
	}
	c := *g
	c.TopURLs = g.urls.top(a.topN)
	c.urls = urlCounter{}
	return c, true
}

// Timeline returns the minutes with events, in time order.
func (a *Aggregator) Timeline() []Bucket {
	out := make([]Bucket, 0, len(a.buckets))
	for _, b := range a.buckets {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Minute.Before(out[j].Minute) })
	return out
}

// urlCounter is a space-saving top-k counter: at most cap distinct keys;
// when full, the least counted key is replaced and the newcomer inherits
// its count (so counts are upper bounds, exact for keys never evicted).
type urlCounter struct {
	cap int
	// Counts are pointers so a known key is counted with a lookup alone:
	// assigning through a borrowed key would make the map store it.
	counts map[string]*int
}

func (u *urlCounter) add(k string) {
	if u.counts == nil {
		u.counts = map[string]*int{}
	}
	if c := u.counts[k]; c != nil {
		*c++
		return
	}
	if len(u.counts) < u.cap {
		one := 1
		u.counts[strings.Clone(k)] = &one
		return
	}
	minK, minC := "", -1
	for key, c := range u.counts {
		if minC < 0 || *c < minC || (*c == minC && key < minK) {
			minK, minC = key, *c
		}
	}
	delete(u.counts, minK)
	n := minC + 1
	u.counts[strings.Clone(k)] = &n
}

func (u *urlCounter) top(n int) []URLCount {
	out := make([]URLCount, 0, len(u.counts))
	for k, c := range u.counts {
		out = append(out, URLCount{URL: k, Count: *c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].URL < out[j].URL
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// Correlation is one php-fpm (or kernel) event and the nginx failures
// around it.
type Correlation struct {
	Event    Entry
	Count    int     // failures within the window
	Examples []Entry // the first few of them, in time order
}

// maxExamples bounds Correlation.Examples.
const maxExamples = 5

// Correlate finds, for each event, the nginx failures within ±within of it
// that match it: same pool when match is nil (the caller sets the nginx
// entries' Pool from their Target first), or whatever match decides. Both
// slices may be in any order; they are not modified. Events with no
// matching failure are left out. Cost: sorting plus a sliding window.
func Correlate(events, failures []Entry, within time.Duration, match func(event, failure *Entry) bool) []Correlation {
	if match == nil {
		match = func(ev, f *Entry) bool { return ev.Pool != "" && ev.Pool == f.Pool }
	}
	fi := sortedIndex(failures)
	ei := sortedIndex(events)
	var out []Correlation
	lo := 0
	for _, i := range ei {
		ev := &events[i]
		from, to := ev.Time.Add(-within), ev.Time.Add(within)
		for lo < len(fi) && failures[fi[lo]].Time.Before(from) {
			lo++
		}
		var c Correlation
		for j := lo; j < len(fi) && !failures[fi[j]].Time.After(to); j++ {
			f := &failures[fi[j]]
			if !match(ev, f) {
				continue
			}
			c.Count++
			if len(c.Examples) < maxExamples {
				c.Examples = append(c.Examples, *f)
			}
		}
		if c.Count > 0 {
			c.Event = *ev
			out = append(out, c)
		}
	}
	return out
}

func sortedIndex(es []Entry) []int {
	idx := make([]int, len(es))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return es[idx[a]].Time.Before(es[idx[b]].Time) })
	return idx
}
