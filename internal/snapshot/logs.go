package snapshot

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// DefaultSince is the log window when none is given: recent enough to be
// about the outage at hand, long enough to see a pattern.
const DefaultSince = time.Hour

// keepEntries bounds the entries kept per source for correlation, so a
// log flooded with failures costs fixed memory: the aggregator keeps the
// counts, these keep the most recent examples.
const keepEntries = 20000

// maxLogFiles bounds how many log families one diagnosis reads (hosting
// hosts give every vhost its own error_log).
const maxLogFiles = 2000

// Logs is what the logs say inside the window.
type Logs struct {
	Window logscan.Window
	// Files read, with what reading cost (seeking keeps it small).
	Files []LogFile
	// Agg counts every classified entry by kind and target (pool ID when
	// the entry could be tied to a pool), with a per-minute timeline.
	Agg *logscan.Aggregator
	// Failures are nginx's upstream failures (not the failed tries nginx
	// made good on another server: Agg counts those); Events php-fpm's events and
	// kernel OOM kills. Entry.Pool holds the pool ID when known.
	Failures []logscan.Entry
	Events   []logscan.Entry
	// Slow counts the pools' slowlog entries in the window by pool ID;
	// SlowEntries keeps the most recent of them (slowlog.go).
	Slow        *logscan.SlowAggregator
	SlowEntries []logscan.SlowEntry
}

// LogFile is one log family that was read.
type LogFile struct {
	Path   string
	Source logscan.Source
	Stats  logscan.Stats
	Err    error
}

type logJob struct {
	path   string
	source logscan.Source
	format logscan.Format
	fpm    *FPM // for php-fpm logs: whose pools the entries name
	// ident is set for php-fpm logging to syslog: its entries are read from
	// the systemd journal by syslog identifier.
	ident string
	// slow is set for a pool's slowlog (source SourceSlowlog).
	slow *slowRecent
	// pool is set for a pool's own PHP error_log: its lines name no pool.
	pool *Pool
}

// gatherLogs finds the logs the configs name, reads the window of each,
// and ties every entry to the pool it concerns.
func gatherLogs(ctx context.Context, s *Snapshot, opts Options) {
	since := opts.Since
	if since <= 0 {
		since = DefaultSince
	}
	logs := &Logs{Window: logscan.Window{Since: s.Now.Add(-since)}, Agg: logscan.NewAggregator(5), Slow: logscan.NewSlowAggregator()}
	s.Logs = logs

	slow := &slowRecent{}
	jobs := append(logJobs(s), slowlogJobs(s, slow)...)
	if len(jobs) > maxLogFiles {
		s.skip(FactLogs, "read the first "+strconv.Itoa(maxLogFiles)+" of "+strconv.Itoa(len(jobs))+" log files")
		jobs = jobs[:maxLogFiles]
	}
	// Two independent indexes over every site's targets (thousands on a
	// hosting host): built side by side.
	var byTarget map[string]*Pool
	built := make(chan struct{})
	go func() {
		defer close(built)
		byTarget = poolsByTarget(s)
	}()
	retries := retryRules(s)
	<-built
	var failures, events recent
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan logJob)
	for range min(4, len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range work {
				lf := scanLog(ctx, s, j, logs.Window, byTarget, retries, &mu, &failures, &events)
				mu.Lock()
				logs.Files = append(logs.Files, lf)
				mu.Unlock()
			}
		}()
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	logs.Failures, logs.Events = failures.list(), events.list()
	logs.SlowEntries = slow.list()
	// The kernel log only says who killed a worker with SIGKILL (the OOM
	// killer or not): read it when php-fpm logged such a death, or when
	// php-fpm's own log could not be read and deaths would go unseen.
	if s.Live && (sigkilled(logs) || !logs.FPMRead()) {
		kernelLog(ctx, s, logs, &mu, &events)
		logs.Events = events.list()
	}
	sort.Slice(logs.Files, func(i, j int) bool { return logs.Files[i].Path < logs.Files[j].Path })
	for _, lf := range logs.Files {
		if lf.Err != nil {
			s.skip(FactLogs, "cannot read "+lf.Path+": "+plainErr(lf.Err))
		}
	}
	sortByTime(logs.Failures)
	sortByTime(logs.Events)
}

// logJobs lists the log files the configs write to.
func logJobs(s *Snapshot) []logJob {
	seen := map[string]bool{}
	var jobs []logJob
	add := func(j logJob) {
		if j.path == "" || seen[j.path] {
			return
		}
		seen[j.path] = true
		jobs = append(jobs, j)
	}
	for _, n := range s.Nginx {
		if n.Model == nil {
			continue
		}
		for _, el := range n.Model.ErrorLogs {
			p := el.Path
			if p == "" || p == "stderr" || strings.HasPrefix(p, "syslog:") || strings.HasPrefix(p, "memory:") || p == "/dev/null" {
				continue
			}
			if !filepath.IsAbs(p) {
				prefix := n.Prefix
				if prefix == "" {
					prefix = "/usr/share/nginx"
				}
				p = filepath.Join(prefix, p)
			}
			add(logJob{path: p, source: logscan.SourceNginx, format: logscan.FormatNginx})
		}
	}
	for _, f := range s.FPM {
		if f.Config == nil {
			continue
		}
		switch name, ident := f.LogName(); {
		case ident != "":
			add(logJob{path: name, source: logscan.SourceFPM, format: logscan.FormatJournal, fpm: f, ident: ident})
		case name != "" && !strings.HasPrefix(name, "/proc/") && !strings.HasPrefix(name, "/dev/"):
			add(logJob{path: name, source: logscan.SourceFPM, format: logscan.FormatFPM, fpm: f})
		}
		for _, p := range f.Pools {
			// PHP's own error_log (memory_limit exhaustion, fatals).
			for _, key := range []string{"php_admin_value[error_log]", "php_value[error_log]"} {
				if st := p.Pool.Get(key); st != nil && filepath.IsAbs(st.Value) {
					add(logJob{path: st.Value, source: logscan.SourceFPM, format: logscan.FormatFPM, fpm: f, pool: p})
				}
			}
		}
	}
	return jobs
}

func scanLog(ctx context.Context, s *Snapshot, j logJob, w logscan.Window, byTarget map[string]*Pool, retries *RetryRules, mu *sync.Mutex, failures, events *recent) LogFile {
	lf := LogFile{Path: j.path, Source: j.source}
	// The tries of one request are lines of one log, in its order.
	var tries logscan.Attempts
	collect := func(e *logscan.Entry) error {
		if e.Source == logscan.SourceNginx && e.OwnCheck() {
			return nil // fpmdoctor fix's own request, no user's
		}
		e.File = j.path
		if e.Source == logscan.SourceNginx {
			tries.Mark(e, retries.Tries(e))
		}
		tieToPool(s, e, j, byTarget)
		mu.Lock()
		defer mu.Unlock()
		s.Logs.Agg.Add(e)
		switch {
		case e.Source == logscan.SourceNginx && e.Retried:
			// A failed try nginx made good on another server: counted
			// (Agg), but no failed request to correlate.
		case e.Source == logscan.SourceNginx && (e.Status >= 500 || isUpstreamFailure(e.Kind)):
			failures.add(e)
		case e.Source != logscan.SourceNginx:
			events.add(e)
		}
		return nil
	}
	if j.ident != "" {
		lf.Stats, lf.Err = scanJournal(ctx, s, j.ident, w, collect)
		return lf
	}
	if j.slow != nil {
		return scanSlowlog(ctx, s, j, w, mu)
	}
	local, err := s.Host.Path(j.path)
	if err != nil {
		lf.Err = err
		return lf
	}
	if _, err := os.Stat(local); err != nil && errors.Is(err, os.ErrNotExist) {
		if rot, _ := logscan.Rotated(local); len(rot) == 0 {
			return lf // never written: nothing to say
		}
	}
	opt := logscan.Options{Format: j.format, Window: w, Now: s.Now}
	lf.Stats, lf.Err = logscan.ScanRotated(ctx, local, opt, collect)
	return lf
}

// LogName is the name f's own log entries carry in Entry.File: its global
// error_log path, or "journal:IDENT" when it logs to syslog (ident is then
// set; php-fpm compares "syslog" case-insensitively, and Path returns it
// as written). Empty when php-fpm has no error_log.
func (f *FPM) LogName() (name, ident string) {
	if f.Config == nil {
		return "", ""
	}
	p := f.Config.Global.Path("error_log")
	if strings.EqualFold(p, "syslog") {
		ident = f.Config.Global.Value("syslog.ident")
		if ident == "" {
			ident = "php-fpm"
		}
		return "journal:" + ident, ident
	}
	return p, ""
}

// scanJournal reads php-fpm's syslog output from the systemd journal,
// only where a journal is there to ask (live, journalctl installed).
func scanJournal(ctx context.Context, s *Snapshot, ident string, w logscan.Window, fn logscan.Func) (logscan.Stats, error) {
	if !s.Live {
		return logscan.Stats{}, errors.New("offline mode: the journal is not read")
	}
	if _, err := exec.LookPath("journalctl"); err != nil {
		return logscan.Stats{}, errors.New("php-fpm logs to syslog and journalctl is not installed")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	args := []string{"-o", "json", "--no-pager", "-q", "-t", ident}
	if !w.Since.IsZero() {
		args = append(args, "--since", "@"+strconv.FormatInt(w.Since.Unix(), 10))
	}
	cmd := exec.CommandContext(ctx, "journalctl", args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return logscan.Stats{}, err
	}
	if err := cmd.Start(); err != nil {
		return logscan.Stats{}, fmt.Errorf("journalctl: %w", err)
	}
	st, scanErr := logscan.ScanReader(ctx, out, "journal", logscan.Options{Format: logscan.FormatJournal, Window: w, Now: s.Now}, fn)
	if err := cmd.Wait(); err != nil && scanErr == nil {
		scanErr = fmt.Errorf("journalctl: %w", err)
	}
	// The journal is php-fpm's log here: count it as one log read, so
	// Logs.FPMRead knows php-fpm's events were looked for.
	st.Files = 1
	return st, scanErr
}

func isUpstreamFailure(k logscan.Kind) bool {
	switch k {
	case logscan.KindTooBigHeader, logscan.KindUpstreamTimeout, logscan.KindPrematureClose, logscan.KindRecvReset,
		logscan.KindConnectEAGAIN, logscan.KindConnectENOENT, logscan.KindConnectEACCES, logscan.KindConnectRefused,
		logscan.KindNoLiveUpstreams, logscan.KindMemoryExhausted, logscan.KindPHPFatal:
		return true
	}
	return false
}

// recent keeps the last keepEntries entries added: the most recent ones
// explain the outage at hand, and a log flooded with failures costs fixed
// memory. Each slot owns a text buffer it reuses, so keeping an entry is a
// copy, not an allocation.
type recent struct {
	entries []logscan.Entry
	texts   [][]byte
	next    int // the slot the next entry replaces, once full
}

func (r *recent) add(e *logscan.Entry) {
	if len(r.entries) < keepEntries {
		c, text := e.CloneInto(nil)
		r.entries = append(r.entries, c)
		r.texts = append(r.texts, text)
		return
	}
	i := r.next
	r.entries[i], r.texts[i] = e.CloneInto(r.texts[i])
	r.next = (i + 1) % keepEntries
}

// list returns the kept entries, oldest first. Adding more afterwards
// reuses their storage.
func (r *recent) list() []logscan.Entry {
	if len(r.entries) < keepEntries || r.next == 0 {
		return r.entries
	}
	return append(append(make([]logscan.Entry, 0, len(r.entries)), r.entries[r.next:]...), r.entries[:r.next]...)
}

// tieToPool sets e.Pool to the pool ID the entry concerns: an nginx entry
// by its upstream address, a php-fpm entry by the pool name it logs in the
// config whose log it is.
func tieToPool(s *Snapshot, e *logscan.Entry, j logJob, byTarget map[string]*Pool) {
	switch {
	case e.Source == logscan.SourceNginx && e.Target != "":
		if p := byTarget[e.Target]; p != nil {
			e.Pool = p.ID()
		}
	case j.fpm != nil && e.Pool != "":
		f := j.fpm
		if j.ident != "" {
			f = journalWriter(s, e, f)
		}
		if p := f.PoolNamed(e.Pool); p != nil {
			e.Pool = p.ID()
		}
	case j.pool != nil && e.Pool == "":
		// PHP's error_log of one pool (the first pool naming the file,
		// when several share it).
		e.Pool = j.pool.ID()
	}
}

// journalWriter is the php-fpm whose master wrote a journal entry (its
// _PID): masters may share a syslog ident, and so one journal job. def
// when no running master has that pid.
func journalWriter(s *Snapshot, e *logscan.Entry, def *FPM) *FPM {
	if e.PID == 0 {
		return def
	}
	for _, f := range s.FPM {
		if f.Master != nil && f.Master.PID == e.PID {
			return f
		}
	}
	return def
}

// poolsByTarget maps nginx's logged upstream form of every address a site
// connects to (and every pool listen) to its pool.
func poolsByTarget(s *Snapshot) map[string]*Pool {
	m := map[string]*Pool{}
	for _, site := range s.Sites {
		for _, t := range site.Targets {
			if t.Pool == nil {
				continue
			}
			if tg, _ := logscan.NormalizeUpstream(t.Target.Address(), false); tg != "" {
				m[tg] = t.Pool
			}
			for _, ip := range t.IPs {
				if tg, _ := logscan.NormalizeUpstream(net.JoinHostPort(ip.String(), strconv.Itoa(t.Port)), false); tg != "" {
					m[tg] = t.Pool
				}
			}
		}
	}
	for _, f := range s.FPM {
		for _, p := range f.Pools {
			if p.ListenErr != nil {
				continue
			}
			if tg, _ := logscan.NormalizeListen(p.Listen.Raw); tg != "" && m[tg] == nil {
				m[tg] = p
			}
			if p.Listen.Network == "unix" && m[p.Listen.Path] == nil {
				m[p.Listen.Path] = p
			}
		}
	}
	return m
}

// kernelLog reads OOM-killer records: kern.log when syslog writes one,
// else the kernel ring buffer (dmesg), which only root may read on most
// systems.
func kernelLog(ctx context.Context, s *Snapshot, logs *Logs, mu *sync.Mutex, events *recent) {
	add := func(e *logscan.Entry) error {
		if e.Kind != logscan.KindOOMKilled {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		logs.Agg.Add(e)
		events.add(e)
		return nil
	}
	for _, p := range []string{"/var/log/kern.log", "/var/log/messages"} {
		if _, err := os.Stat(p); err == nil {
			st, err := logscan.ScanRotated(ctx, p, logscan.Options{Format: logscan.FormatKernel, Window: logs.Window, Now: s.Now}, add)
			logs.Files = append(logs.Files, LogFile{Path: p, Source: logscan.SourceKernel, Stats: st, Err: err})
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	// -T prints wall-clock times (approximate after suspend, good enough
	// to line kills up with 502s).
	cmd := exec.CommandContext(ctx, "dmesg", "-T")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return
	}
	if err := cmd.Start(); err != nil {
		s.Lack(FactKernelLog, "cannot run dmesg: "+plainErr(err))
		return
	}
	st, _ := logscan.ScanReader(ctx, bufio.NewReader(out), "dmesg", logscan.Options{Format: logscan.FormatKernel, Window: logs.Window, Now: s.Now}, add)
	if err := cmd.Wait(); err != nil {
		s.Lack(FactKernelLog, "cannot read the kernel log (dmesg): "+plainErr(err)+"; OOM kills are not checked")
		return
	}
	logs.Files = append(logs.Files, LogFile{Path: "dmesg", Source: logscan.SourceKernel, Stats: st})
}

func sortByTime(es []logscan.Entry) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Time.Before(es[j].Time) })
}

func plainErr(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// sigkilled reports whether php-fpm logged a worker exiting on SIGKILL.
func sigkilled(logs *Logs) bool {
	for _, e := range logs.Events {
		if e.Kind == logscan.KindChildExitedSignal && e.Signal == 9 {
			return true
		}
	}
	return false
}
