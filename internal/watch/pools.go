package watch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
)

// ProbeBuckets are the bucket bounds (seconds) of the probe duration
// histogram: a healthy status page answers in about a millisecond, a
// saturated pool runs into the deadline. Few buckets: a host has
// hundreds of pools, and each bucket is a series per pool.
var ProbeBuckets = []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5}

// Histogram is a cumulative histogram of probe durations.
type Histogram struct {
	Count   uint64
	Sum     float64
	Buckets []uint64 // Buckets[i] counts observations <= ProbeBuckets[i]
}

func (h *Histogram) observe(v float64) {
	if h.Buckets == nil {
		h.Buckets = make([]uint64, len(ProbeBuckets))
	}
	h.Count++
	h.Sum += v
	for i, b := range ProbeBuckets {
		if v <= b {
			h.Buckets[i]++
		}
	}
}

// PoolStatus is what the background reader last learnt of one pool.
type PoolStatus struct {
	Pool Pool
	// Time of the last attempt; zero before the first one finished.
	Time time.Time
	// Up: php-fpm answered the last attempt with a complete response.
	Up      bool
	Verdict probe.Verdict
	Reason  string
	Detail  string
	// Status is the last status page read successfully, read at
	// StatusTime (nil when none ever was).
	Status     *probe.Status
	StatusTime time.Time
	Probes     Histogram
	// Queue is the listener's accept queue, read at QueueTime.
	Queue     *host.Queue
	QueueTime time.Time
}

// poolSet holds the per-pool readers and their last results.
type poolSet struct {
	mu      sync.Mutex
	status  map[string]*PoolStatus // by reader key
	readers map[string]context.CancelFunc
	slots   chan struct{}
}

// queueTimeout bounds one netlink dump of the listening sockets: it does
// not wait on php-fpm, but a hosting host has tens of thousands of sockets.
const queueTimeout = 5 * time.Second

// maxConcurrentReads bounds the status reads in flight.
const maxConcurrentReads = 16

func newPoolSet() *poolSet {
	return &poolSet{status: map[string]*PoolStatus{}, readers: map[string]context.CancelFunc{}, slots: make(chan struct{}, maxConcurrentReads)}
}

func readerKey(p Pool) string { return p.ID + "\x00" + p.Address + "\x00" + p.StatusPath }

// PoolStatuses returns a copy of every pool's last status, in the order of
// the last diagnosis. It takes a short lock and never waits on php-fpm.
func (w *Watcher) PoolStatuses() []PoolStatus {
	st := w.State()
	if st == nil {
		return nil
	}
	w.pools.mu.Lock()
	defer w.pools.mu.Unlock()
	out := make([]PoolStatus, 0, len(st.Pools))
	for _, p := range st.Pools {
		ps, ok := w.pools.status[readerKey(p)]
		if !ok {
			out = append(out, PoolStatus{Pool: p, Queue: p.Queue})
			continue
		}
		c := *ps
		c.Pool = p
		c.Probes.Buckets = slices.Clone(ps.Probes.Buckets)
		out = append(out, c)
	}
	return out
}

// poolLoop keeps one reader per pool of the current state, started and
// stopped as diagnoses find pools come and go, and reads the kernel's
// accept queues every PoolInterval.
func (w *Watcher) poolLoop(ctx context.Context) {
	ticker := time.NewTicker(w.opts.PoolInterval)
	defer ticker.Stop()
	defer func() {
		w.pools.mu.Lock()
		for _, cancel := range w.pools.readers {
			cancel()
		}
		w.pools.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.changed:
			w.syncReaders(ctx)
			w.readQueues(ctx)
		case <-ticker.C:
			w.readQueues(ctx)
		}
	}
}

func (w *Watcher) syncReaders(ctx context.Context) {
	st := w.State()
	if st == nil {
		return
	}
	want := map[string]Pool{}
	for _, p := range st.Pools {
		if p.valid && p.Running {
			want[readerKey(p)] = p
		}
	}
	w.pools.mu.Lock()
	defer w.pools.mu.Unlock()
	for k, cancel := range w.pools.readers {
		if _, ok := want[k]; !ok {
			cancel()
			delete(w.pools.readers, k)
		}
	}
	for k := range w.pools.status {
		if _, ok := want[k]; !ok {
			delete(w.pools.status, k)
		}
	}
	for k, p := range want {
		if _, ok := w.pools.readers[k]; ok {
			continue
		}
		rctx, cancel := context.WithCancel(ctx)
		w.pools.readers[k] = cancel
		if _, ok := w.pools.status[k]; !ok {
			w.pools.status[k] = &PoolStatus{Pool: p}
		}
		go w.readPool(rctx, k, p)
	}
}

// readPool reads one pool's status page (or pings it) every PoolInterval,
// each read under its own deadline; one read at a time per pool.
func (w *Watcher) readPool(ctx context.Context, key string, p Pool) {
	log := w.log.With("collector", CollectorPools, "pool", p.ID, "address", p.Address)
	if p.StatusPath == "" {
		log.Debug("pm.status_path is not set: only phpfpm_up and the probe duration are exported for this pool; set pm.status_path to get the status gauges")
	}
	// Spread the readers of a big host over the interval.
	jitter := time.Duration(uint64(len(key)*7919) % uint64(max(w.opts.PoolInterval/4, 1)))
	t := time.NewTimer(jitter)
	defer t.Stop()
	lastProblem := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// A bounded number of reads at once: a hosting host's thousands of
		// pools must not all be asked in the same instant. The deadline
		// starts once a slot is free.
		select {
		case w.pools.slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		start := time.Now()
		pctx, cancel := context.WithTimeout(ctx, w.opts.PoolTimeout)
		res := probe.Probe(pctx, p.target, p.probe)
		cancel()
		<-w.pools.slots
		if ctx.Err() != nil {
			return
		}
		d := time.Since(start)
		up := res.Verdict == probe.VerdictHealthy || res.Verdict == probe.VerdictUnhealthy
		w.pools.mu.Lock()
		ps := w.pools.status[key]
		if ps == nil { // removed meanwhile
			w.pools.mu.Unlock()
			return
		}
		ps.Time, ps.Up, ps.Verdict, ps.Reason, ps.Detail = time.Now(), up, res.Verdict, res.Reason, res.Detail
		if res.Status != nil {
			ps.Status, ps.StatusTime = res.Status, ps.Time
		}
		ps.Probes.observe(res.Latency.Seconds())
		w.pools.mu.Unlock()

		// One line when a pool's condition changes, not one per read: a
		// status page answering HTML every 10 seconds is one problem.
		problem := ""
		if !res.OK() {
			problem = string(res.Verdict) + ": " + res.Reason
		}
		switch {
		case problem != "" && problem != lastProblem:
			log.Error("pool status read failed; its last values are kept with their age", "verdict", res.Verdict, "reason", res.Reason, "detail", res.Detail)
		case problem == "" && lastProblem != "":
			log.Info("pool status read works again")
		}
		lastProblem = problem
		var err error
		if problem != "" {
			err = errors.New(problem)
		}
		w.record(CollectorPools, d, err)
		t.Reset(w.opts.PoolInterval)
	}
}

// readQueues reads every listening socket's accept queue from the kernel
// (one netlink dump) and keeps each pool's.
func (w *Watcher) readQueues(ctx context.Context) {
	st := w.State()
	if st == nil {
		return
	}
	start := time.Now()
	qctx, cancel := context.WithTimeout(ctx, queueTimeout)
	defer cancel()
	qs, err := w.opts.Queues(qctx)
	w.record(CollectorQueues, time.Since(start), err)
	if err != nil {
		w.log.Debug("cannot read listen queues", "collector", CollectorQueues, "err", err)
		return
	}
	now := time.Now()
	w.pools.mu.Lock()
	defer w.pools.mu.Unlock()
	for _, p := range st.Pools {
		if p.QueueKey == "" {
			continue
		}
		q, ok := qs[p.QueueKey]
		if !ok {
			continue
		}
		k := readerKey(p)
		ps := w.pools.status[k]
		if ps == nil {
			continue
		}
		ps.Queue, ps.QueueTime = &q, now
	}
}

// Describe names a pool status for a log line or a page.
func (ps PoolStatus) Describe() string {
	switch {
	case ps.Time.IsZero():
		return "not read yet"
	case ps.Verdict == probe.VerdictHealthy:
		return "answers"
	}
	return fmt.Sprintf("%s (%s): %s", ps.Verdict, ps.Reason, strings.TrimSpace(ps.Detail))
}
