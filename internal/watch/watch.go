// Package watch keeps a diagnosis current for a long-running process
// (`fpmdoctor watch`): it re-gathers the Snapshot and re-runs the checks
// on a schedule and soon after a relevant log event, follows the nginx and
// php-fpm error logs to count upstream failures line by line, and reads
// each pool's status page in the background. Everything it knows is kept
// in immutable values behind atomic pointers (or copied out under a short
// lock), so readers — the Prometheus collectors, the HTTP pages — never
// wait on php-fpm, on a log or on a diagnosis in flight.
//
// The diagnosis is the one `diagnose` runs (internal/doctor): the watcher
// adds no second way to find causes.
package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// Defaults of Options.
const (
	DefaultInterval     = 30 * time.Second
	DefaultPoolInterval = 10 * time.Second
	DefaultPoolTimeout  = 2 * time.Second
	DefaultDebounce     = time.Second
	DefaultTriggerGap   = 5 * time.Second
	DefaultPollInterval = 250 * time.Millisecond
	// DefaultMaxSites bounds the site label: a hosting host has thousands
	// of sites, and every one would multiply the failure and finding series.
	DefaultMaxSites = 200
	// DefaultSince is the watcher's log window. diagnose reads an hour;
	// a watcher re-reads its window every interval, and a finding about a
	// past outage ("-past") should not hold an alert for an hour.
	DefaultSince = 5 * time.Minute
)

// OtherSite is the site label of sites beyond Options.MaxSites.
const OtherSite = "other"

// UnclassifiedCause is the cause label of an nginx failure line whose
// cause the checks decide only by correlation (a reset, an early close):
// the finding of the next diagnosis names it.
const UnclassifiedCause = "unclassified"

// DiagnoseFunc is doctor.Diagnose's signature.
type DiagnoseFunc func(context.Context, doctor.Options) (*report.Report, *snapshot.Snapshot, error)

// Options configure a Watcher. Zero values take the defaults above.
type Options struct {
	Doctor doctor.Options
	// Interval between diagnoses; a relevant log line brings the next one
	// forward to Debounce after it (at most one per Debounce).
	Interval time.Duration
	Debounce time.Duration
	// TriggerGap is the least time between the starts of two diagnoses a
	// log line brought forward: a storm of 502s (a thousand lines a
	// second) must not turn into a diagnosis a second.
	TriggerGap time.Duration
	// CheckTimeout bounds one diagnosis (default: Interval, at most 60s).
	// A diagnosis that does not return by then is reported stuck and no
	// other starts until it returns.
	CheckTimeout time.Duration
	// PoolInterval and PoolTimeout pace and bound each pool's status read.
	PoolInterval time.Duration
	PoolTimeout  time.Duration
	// PollInterval paces the log followers.
	PollInterval time.Duration
	// MaxSites caps distinct site labels (DefaultMaxSites; <0: no cap).
	MaxSites int
	Logger   *slog.Logger
	// Diagnose replaces doctor.Diagnose (tests: hangs and panics).
	Diagnose DiagnoseFunc
	// Follow opens a log follower (default: internal/follow).
	Follow FollowFunc
	// Queues reads the kernel's accept queues (default host.QueueStats).
	Queues func(context.Context) (map[string]host.Queue, error)
}

func (o *Options) defaults() {
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.Debounce <= 0 {
		o.Debounce = min(DefaultDebounce, o.Interval)
	}
	if o.TriggerGap <= 0 {
		o.TriggerGap = min(DefaultTriggerGap, o.Interval)
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = min(o.Interval, time.Minute)
	}
	if o.PoolInterval <= 0 {
		o.PoolInterval = min(DefaultPoolInterval, o.Interval)
	}
	if o.PoolTimeout <= 0 {
		o.PoolTimeout = min(DefaultPoolTimeout, o.PoolInterval)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxSites == 0 {
		o.MaxSites = DefaultMaxSites
	}
	if o.Doctor.Since <= 0 {
		o.Doctor.Since = DefaultSince
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Diagnose == nil {
		o.Diagnose = doctor.DiagnoseNoPlan
	}
	if o.Follow == nil {
		o.Follow = defaultFollow
	}
	if o.Queues == nil {
		o.Queues = host.QueueStats
	}
}

// State is the result of the last successful diagnosis. It is never
// changed once published.
type State struct {
	Seq      uint64
	Time     time.Time // when the diagnosis finished
	Duration time.Duration
	Report   *report.Report
	// JSON is Report in the report contract (diagnose --format json).
	JSON  []byte
	Pools []Pool
	// SiteLabels maps a site key to its label (OtherSite beyond MaxSites).
	SiteLabels map[string]string
	// SitesCapped is how many sites share OtherSite.
	SitesCapped int

	logs []snapshot.LogSource
	tie  *snapshot.LogTie
}

// SiteLabel is the label of the site key k ("" stays "").
func (s *State) SiteLabel(k string) string {
	if k == "" {
		return ""
	}
	if l, ok := s.SiteLabels[k]; ok {
		return l
	}
	return OtherSite
}

// Pool is what the diagnosis knows of one php-fpm pool.
type Pool struct {
	ID      string // as findings name it: "www (/etc/php/8.2/fpm/php-fpm.conf)"
	Name    string
	Address string // the scrape_uri label: "unix:/run/php/php8.2-fpm.sock", "127.0.0.1:9000"
	Config  PoolConfig
	// Queue is the listener's accept queue at the diagnosis (nil: unknown).
	Queue *host.Queue
	// QueueKey finds the listener in host.QueueStats ("" when not
	// listening).
	QueueKey string
	Workers  snapshot.WorkerStats
	// StatusPath is pm.status_path ("" when not set).
	StatusPath string
	Running    bool

	target probe.Target
	probe  probe.Options
	valid  bool
}

// PoolConfig holds the pool's pm.* and timeout settings as php-fpm reads
// them (defaults applied).
type PoolConfig struct {
	PM                      string
	MaxChildren             int
	StartServers            int
	MinSpareServers         int
	MaxSpareServers         int
	MaxRequests             int
	ProcessIdleTimeout      time.Duration
	RequestTerminateTimeout time.Duration
	ListenBacklog           int
}

// Collector names, for the collector metrics.
const (
	CollectorDiagnosis = "diagnosis"
	CollectorPools     = "pools"
	CollectorQueues    = "queues"
	CollectorLogs      = "logs"
)

// CollectorStats is how one of the watcher's refreshers last did.
type CollectorStats struct {
	Name        string
	Runs        uint64
	Success     bool
	Duration    time.Duration
	LastSuccess time.Time
	// Stuck is set while a refresh runs past its deadline.
	Stuck  bool
	Panics uint64
	Err    string
}

// Watcher keeps the diagnosis current. Create it with New and start it
// with Run.
type Watcher struct {
	opts  Options
	log   *slog.Logger
	state atomic.Pointer[State]
	// changed is signalled after each new State (pool and log loops
	// re-sync on it).
	changed chan struct{}
	trigger chan struct{}
	reopen  chan struct{}

	mu         sync.Mutex
	collectors map[string]*CollectorStats

	pools *poolSet
	logs  *logCounter
	slow  *slowCounter
}

// New returns a watcher that has not started.
func New(opts Options) *Watcher {
	opts.defaults()
	w := &Watcher{
		opts:       opts,
		log:        opts.Logger,
		changed:    make(chan struct{}, 1),
		trigger:    make(chan struct{}, 1),
		reopen:     make(chan struct{}, 1),
		collectors: map[string]*CollectorStats{},
		pools:      newPoolSet(),
		logs:       newLogCounter(),
		slow:       newSlowCounter(),
	}
	for _, n := range []string{CollectorDiagnosis, CollectorPools, CollectorQueues, CollectorLogs} {
		w.collectors[n] = &CollectorStats{Name: n}
	}
	return w
}

// Options returns the options in effect (defaults applied).
func (w *Watcher) Options() Options { return w.opts }

// State returns the last published state, nil before the first diagnosis
// succeeded.
func (w *Watcher) State() *State { return w.state.Load() }

// Collectors returns a copy of every refresher's stats, by name.
func (w *Watcher) Collectors() []CollectorStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]CollectorStats, 0, len(w.collectors))
	for _, c := range w.collectors {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b CollectorStats) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (w *Watcher) record(name string, d time.Duration, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.collectors[name]
	c.Runs++
	c.Duration = d
	c.Success = err == nil
	c.Stuck = false
	if err == nil {
		c.LastSuccess = time.Now()
		c.Err = ""
	} else {
		c.Err = err.Error()
	}
}

func (w *Watcher) markStuck(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := w.collectors[name]
	c.Stuck, c.Success = true, false
}

func (w *Watcher) countPanic(name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.collectors[name].Panics++
}

// Trigger asks for a diagnosis soon (debounced). It never blocks.
func (w *Watcher) Trigger() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// Rediscover is SIGHUP: diagnose now (discovery runs again) and reopen
// every log follower.
func (w *Watcher) Rediscover() {
	select {
	case w.reopen <- struct{}{}:
	default:
	}
	w.Trigger()
}

// Run works until ctx ends, then stops the pool readers and closes the
// log followers. It returns ctx's error.
func (w *Watcher) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); w.poolLoop(ctx) }()
	go func() { defer wg.Done(); w.logLoop(ctx) }()
	w.diagnosisLoop(ctx)
	cancel()
	wg.Wait()
	return ctx.Err()
}

// diagnosisLoop diagnoses at once, then every Interval, and Debounce after
// a trigger (never closer than TriggerGap to the previous start).
func (w *Watcher) diagnosisLoop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := time.Now()
	var lastStart time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.trigger:
			at := time.Now().Add(w.opts.Debounce)
			if l := lastStart.Add(w.opts.TriggerGap); l.After(at) {
				at = l
			}
			if at.Before(next) {
				next = at
				timer.Reset(time.Until(next))
			}
			continue
		case <-timer.C:
		}
		lastStart = time.Now()
		if !w.refresh(ctx) {
			return
		}
		next = time.Now().Add(w.opts.Interval)
		timer.Reset(w.opts.Interval)
	}
}

type diagResult struct {
	r   *report.Report
	s   *snapshot.Snapshot
	err error
}

// errPanic marks a diagnosis that panicked.
var errPanic = errors.New("internal error")

// refresh runs one diagnosis under its own deadline and publishes it. A
// panic in a check is recovered and reported; the previous state stays.
// A diagnosis that ignores its deadline is reported stuck and waited for:
// never two in flight. false when ctx ended meanwhile.
func (w *Watcher) refresh(ctx context.Context) bool {
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, w.opts.CheckTimeout)
	defer cancel()
	done := make(chan diagResult, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				w.countPanic(CollectorDiagnosis)
				w.log.Error("diagnosis panicked; the previous findings stay", "collector", CollectorDiagnosis, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- diagResult{err: fmt.Errorf("%w: diagnosis panicked: %v", errPanic, p)}
			}
		}()
		r, s, err := w.opts.Diagnose(rctx, w.opts.Doctor)
		done <- diagResult{r, s, err}
	}()
	var res diagResult
	// A little grace past the deadline: gathering notices it between steps.
	grace := time.NewTimer(w.opts.CheckTimeout + time.Second)
	defer grace.Stop()
	select {
	case res = <-done:
	case <-grace.C:
		w.markStuck(CollectorDiagnosis)
		w.log.Error("diagnosis is stuck past its deadline; no other starts until it returns", "collector", CollectorDiagnosis, "timeout", w.opts.CheckTimeout)
		select {
		case res = <-done:
		case <-ctx.Done():
			return false
		}
	case <-ctx.Done():
		return false
	}
	d := time.Since(start)
	if res.err == nil {
		res.err = w.publish(res.r, res.s, d)
	}
	w.record(CollectorDiagnosis, d, res.err)
	if res.err != nil {
		if !errors.Is(res.err, errPanic) {
			w.log.Error("diagnosis failed; the previous findings stay", "collector", CollectorDiagnosis, "err", res.err, "duration", d)
		}
		return ctx.Err() == nil
	}
	w.log.Debug("diagnosis done", "collector", CollectorDiagnosis, "duration", d, "findings", len(res.r.Findings))
	return true
}

// publish turns a diagnosis into the next State.
func (w *Watcher) publish(r *report.Report, s *snapshot.Snapshot, d time.Duration) error {
	var buf bytes.Buffer
	if err := report.Render(&buf, r, report.FormatJSON, false); err != nil {
		return fmt.Errorf("render the report: %w", err)
	}
	prev := w.state.Load()
	st := &State{Time: time.Now(), Duration: d, Report: r, JSON: buf.Bytes(), SiteLabels: map[string]string{}}
	if prev != nil {
		st.Seq = prev.Seq + 1
	}
	// Site labels: the first MaxSites sites in config order keep their
	// key; the rest share OtherSite.
	for _, site := range s.Sites {
		k := site.Key()
		if _, ok := st.SiteLabels[k]; ok {
			continue
		}
		if w.opts.MaxSites > 0 && len(st.SiteLabels) >= w.opts.MaxSites {
			st.SiteLabels[k] = OtherSite
			st.SitesCapped++
			continue
		}
		st.SiteLabels[k] = k
	}
	if st.SitesCapped > 0 && (prev == nil || prev.SitesCapped == 0) {
		w.log.Warn("too many sites for per-site labels; the rest share site=\""+OtherSite+"\" (--max-sites)", "sites", len(s.Sites), "labelled", w.opts.MaxSites, "capped", st.SitesCapped)
	}
	st.Pools = poolsOf(s, w.opts.PoolTimeout)
	if s.Logs != nil {
		w.slow.add(s.Logs.SlowEntries)
	}
	st.logs = s.LogSources()
	st.tie = s.NewLogTie()
	w.state.Store(st)
	logChanges(w.log, prev, st)
	select {
	case w.changed <- struct{}{}:
	default:
	}
	return nil
}

// logChanges writes one line per finding that appeared or went away, so
// the journal tells the story without a scrape.
func logChanges(log *slog.Logger, prev, cur *State) {
	key := func(f report.Finding) string {
		return f.ID + "\x00" + f.Cause + "\x00" + string(f.Severity) + "\x00" + f.Site + "\x00" + f.Pool
	}
	old := map[string]bool{}
	if prev != nil {
		for _, f := range prev.Report.Findings {
			old[key(f)] = true
		}
	}
	now := map[string]bool{}
	for _, f := range cur.Report.Findings {
		k := key(f)
		now[k] = true
		if !old[k] {
			log.Info("finding", "cause", f.Cause, "severity", f.Severity, "site", f.Site, "pool", f.Pool, "title", f.Title)
		}
	}
	if prev == nil {
		return
	}
	for _, f := range prev.Report.Findings {
		if !now[key(f)] {
			log.Info("finding resolved", "cause", f.Cause, "severity", f.Severity, "site", f.Site, "pool", f.Pool)
		}
	}
}

// poolsOf lists the snapshot's pools with what the background readers
// need to reach them as nginx does.
func poolsOf(s *snapshot.Snapshot, timeout time.Duration) []Pool {
	// The nginx that routes to a pool decides the probe's identity.
	nginxOf := map[*snapshot.Pool]*snapshot.Nginx{}
	for _, site := range s.Sites {
		for _, t := range site.Targets {
			if t.Pool != nil && nginxOf[t.Pool] == nil {
				nginxOf[t.Pool] = site.Nginx
			}
		}
	}
	var out []Pool
	seen := map[string]bool{}
	for _, f := range s.FPM {
		for _, p := range f.Pools {
			if seen[p.ID()] {
				continue
			}
			seen[p.ID()] = true
			sec := p.Pool
			pl := Pool{ID: p.ID(), Name: p.Name, Queue: p.Queue, Workers: p.WorkerStats(), Running: f.Running()}
			if sec != nil {
				pl.StatusPath = sec.Value("pm.status_path")
				pl.Config = PoolConfig{
					PM:                      sec.Value("pm"),
					MaxChildren:             sec.Int("pm.max_children"),
					StartServers:            sec.Int("pm.start_servers"),
					MinSpareServers:         sec.Int("pm.min_spare_servers"),
					MaxSpareServers:         sec.Int("pm.max_spare_servers"),
					MaxRequests:             sec.Int("pm.max_requests"),
					ProcessIdleTimeout:      time.Duration(sec.Int("pm.process_idle_timeout")) * time.Second,
					RequestTerminateTimeout: time.Duration(sec.Int("request_terminate_timeout")) * time.Second,
					ListenBacklog:           sec.Int("listen.backlog"),
				}
				if pl.Config.PM == "" {
					pl.Config.PM = "dynamic"
				}
			}
			if p.Listener != nil {
				pl.QueueKey = p.Listener.String()
			}
			if p.ListenErr == nil && p.Listen.Network != "" {
				pl.Address = p.NginxAddress()
				if t, err := probe.ParseTarget(pl.Address); err == nil {
					pl.target, pl.valid = t, true
					po := snapshot.ProbeOptions(p, nginxOf[p], s.Users, t.Network == "unix", timeout)
					if po.StatusPath != "" {
						// The status page is what the readers are for; a
						// ping page says less.
						po.PingPath = ""
					}
					pl.probe = po
				}
			}
			out = append(out, pl)
		}
	}
	return out
}
