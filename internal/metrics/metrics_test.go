package metrics

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
	"github.com/fpmdoctor/fpmdoctor/internal/watch"
)

// fake is a watcher state built by hand.
type fake struct {
	state    *watch.State
	pools    []watch.PoolStatus
	failures []watch.Failure
	slow     []watch.Slow
	entries  []watch.Entry
	lines    map[logscan.Source]uint64
	coll     []watch.CollectorStats
}

func (f *fake) State() *watch.State                { return f.state }
func (f *fake) PoolStatuses() []watch.PoolStatus   { return f.pools }
func (f *fake) Failures() []watch.Failure          { return f.failures }
func (f *fake) Entries() []watch.Entry             { return f.entries }
func (f *fake) SlowRequests() []watch.Slow         { return f.slow }
func (f *fake) Lines() map[logscan.Source]uint64   { return f.lines }
func (f *fake) Collectors() []watch.CollectorStats { return f.coll }

const siteA = "a.test /etc/nginx/sites-enabled/a:7"

func fakeState() *fake {
	now := time.Now()
	pool := watch.Pool{ID: "www (/etc/php/8.2/fpm/php-fpm.conf)", Name: "www", Address: "unix:/run/php/php8.2-fpm.sock",
		Config:  watch.PoolConfig{PM: "dynamic", MaxChildren: 5, StartServers: 2, MinSpareServers: 1, MaxSpareServers: 3, RequestTerminateTimeout: 30 * time.Second, ListenBacklog: -1},
		Workers: snapshot.WorkerStats{Running: 3, Measured: 3, AvgPSS: 20 << 20, MaxPSS: 24 << 20}}
	saturated := watch.Pool{ID: "shop (/etc/php/8.2/fpm/php-fpm.conf)", Name: "shop", Address: "127.0.0.1:9001",
		Config: watch.PoolConfig{PM: "static", MaxChildren: 2, ListenBacklog: 511}}
	var hist watch.Histogram
	hist.Buckets = make([]uint64, len(watch.ProbeBuckets))
	hist.Count, hist.Sum = 2, 0.003
	for i, b := range watch.ProbeBuckets {
		if b >= 0.001 {
			hist.Buckets[i] = 1
		}
		if b >= 0.002 {
			hist.Buckets[i] = 2
		}
	}
	var slow watch.Histogram
	slow.Buckets = make([]uint64, len(watch.ProbeBuckets))
	slow.Count, slow.Sum = 1, 2
	for i, b := range watch.ProbeBuckets {
		if b >= 2 {
			slow.Buckets[i] = 1
		}
	}
	return &fake{
		state: &watch.State{Time: time.Unix(1700000000, 0), Duration: 250 * time.Millisecond,
			Report: &report.Report{Findings: []report.Finding{
				{Cause: "fpm-down", Severity: report.Error, Site: siteA, Pool: pool.ID},
				{Cause: "pool-exhausted", Severity: report.Error, Site: "b.test /x:1", Pool: saturated.ID},
				{Cause: "pool-exhausted", Severity: report.Error, Site: "c.test /x:2", Pool: saturated.ID}, // folds into "other"
			}},
			SiteLabels: map[string]string{siteA: siteA, "b.test /x:1": OtherSiteForTest, "c.test /x:2": OtherSiteForTest},
		},
		pools: []watch.PoolStatus{
			{Pool: pool, Time: now, Up: true, Verdict: probe.VerdictHealthy, StatusTime: now, Probes: hist,
				Status: &probe.Status{Pool: "www", AcceptedConn: 10, StartSince: 60, ActiveProcesses: 1, IdleProcesses: 1, TotalProcesses: 2, MaxActiveProcesses: 2, MaxChildrenReached: 1, SlowRequests: 0, ListenQueueLen: 0},
				Queue:  &host.Queue{Network: "unix", Path: "/run/php/php8.2-fpm.sock", Len: 0, Backlog: 4096}},
			{Pool: saturated, Time: now, Up: false, Verdict: probe.VerdictSaturated, Reason: "saturated", Probes: slow,
				Queue: &host.Queue{Network: "tcp", Len: 7, Backlog: 511}},
		},
		failures: []watch.Failure{{FailureKey: watch.FailureKey{Cause: "fpm-down", Site: siteA, Pool: pool.ID}, Count: 3}},
		entries:  []watch.Entry{{EntryKey: watch.EntryKey{Source: logscan.SourceNginx, Kind: logscan.KindConnectENOENT}, Count: 3}},
		lines:    map[logscan.Source]uint64{logscan.SourceNginx: 5},
		coll:     []watch.CollectorStats{{Name: "diagnosis", Runs: 2, Success: true, Duration: 250 * time.Millisecond, LastSuccess: time.Unix(1700000000, 0)}},
	}
}

// OtherSiteForTest is watch.OtherSite, spelt out so the expected text
// below reads as what a user sees.
const OtherSiteForTest = "other"

func TestFindingsCollector(t *testing.T) {
	f := fakeState()
	want := `
# HELP fpmdoctor_finding 1 while a finding of the last diagnosis holds: its cause (fpmdoctor explain CAUSE), severity, site and pool.
# TYPE fpmdoctor_finding gauge
fpmdoctor_finding{cause="fpm-down",pool="www (/etc/php/8.2/fpm/php-fpm.conf)",severity="error",site="a.test /etc/nginx/sites-enabled/a:7"} 1
fpmdoctor_finding{cause="pool-exhausted",pool="shop (/etc/php/8.2/fpm/php-fpm.conf)",severity="error",site="other"} 1
# HELP fpmdoctor_last_check_timestamp_seconds When the last successful diagnosis finished (Unix time).
# TYPE fpmdoctor_last_check_timestamp_seconds gauge
fpmdoctor_last_check_timestamp_seconds 1.7e+09
`
	if err := testutil.CollectAndCompare(newFindingsCollector(f), strings.NewReader(want), "fpmdoctor_finding", "fpmdoctor_last_check_timestamp_seconds"); err != nil {
		t.Fatal(err)
	}
	// Before the first diagnosis: nothing, not zeros that would look like
	// "no findings".
	if n := testutil.CollectAndCount(newFindingsCollector(&fake{})); n != 0 {
		t.Fatalf("%d series before the first diagnosis", n)
	}
}

func TestPoolsCollector(t *testing.T) {
	f := fakeState()
	want := `
# HELP phpfpm_up Could the pool be reached (1: it answered the last status read or probe completely).
# TYPE phpfpm_up gauge
phpfpm_up{pool="shop",scrape_uri="127.0.0.1:9001"} 0
phpfpm_up{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock"} 1
# HELP phpfpm_accepted_connections The number of requests accepted by the pool.
# TYPE phpfpm_accepted_connections untyped
phpfpm_accepted_connections{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock"} 10
# HELP phpfpm_pm_max_children_config The pool's pm.max_children, as php-fpm reads its config.
# TYPE phpfpm_pm_max_children_config gauge
phpfpm_pm_max_children_config{pool="shop",scrape_uri="127.0.0.1:9001"} 2
phpfpm_pm_max_children_config{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock"} 5
# HELP phpfpm_pm_start_servers_config The pool's pm.start_servers (computed default for pm = dynamic).
# TYPE phpfpm_pm_start_servers_config gauge
phpfpm_pm_start_servers_config{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock"} 2
# HELP phpfpm_request_terminate_timeout_seconds_config The pool's request_terminate_timeout (0: none).
# TYPE phpfpm_request_terminate_timeout_seconds_config gauge
phpfpm_request_terminate_timeout_seconds_config{pool="shop",scrape_uri="127.0.0.1:9001"} 0
phpfpm_request_terminate_timeout_seconds_config{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock"} 30
# HELP fpmdoctor_socket_backlog Connections waiting in the listening socket's accept queue, read from the kernel (sock_diag): unix and TCP.
# TYPE fpmdoctor_socket_backlog gauge
fpmdoctor_socket_backlog{address="127.0.0.1:9001"} 7
fpmdoctor_socket_backlog{address="unix:/run/php/php8.2-fpm.sock"} 0
# HELP fpmdoctor_socket_backlog_limit The listening socket's effective backlog (listen.backlog capped by net.core.somaxconn); connections beyond it are refused (502).
# TYPE fpmdoctor_socket_backlog_limit gauge
fpmdoctor_socket_backlog_limit{address="127.0.0.1:9001"} 511
fpmdoctor_socket_backlog_limit{address="unix:/run/php/php8.2-fpm.sock"} 4096
# HELP fpmdoctor_pool_worker_pss_average_bytes Average proportional set size (PSS) of the pool's measured workers, at the last diagnosis.
# TYPE fpmdoctor_pool_worker_pss_average_bytes gauge
fpmdoctor_pool_worker_pss_average_bytes{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock"} 2.097152e+07
# HELP fpmdoctor_probe_duration_seconds Duration of the watcher's FastCGI reads of the pool (status page, ping or the probe diagnose sends), timeouts included.
# TYPE fpmdoctor_probe_duration_seconds histogram
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="0.001"} 0
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="0.005"} 0
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="0.01"} 0
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="0.05"} 0
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="0.1"} 0
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="0.25"} 0
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="0.5"} 0
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="1"} 0
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="2.5"} 1
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="5"} 1
fpmdoctor_probe_duration_seconds_bucket{pool="shop",scrape_uri="127.0.0.1:9001",le="+Inf"} 1
fpmdoctor_probe_duration_seconds_sum{pool="shop",scrape_uri="127.0.0.1:9001"} 2
fpmdoctor_probe_duration_seconds_count{pool="shop",scrape_uri="127.0.0.1:9001"} 1
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="0.001"} 1
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="0.005"} 2
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="0.01"} 2
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="0.05"} 2
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="0.1"} 2
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="0.25"} 2
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="0.5"} 2
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="1"} 2
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="2.5"} 2
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="5"} 2
fpmdoctor_probe_duration_seconds_bucket{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock",le="+Inf"} 2
fpmdoctor_probe_duration_seconds_sum{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock"} 0.003
fpmdoctor_probe_duration_seconds_count{pool="www",scrape_uri="unix:/run/php/php8.2-fpm.sock"} 2
`
	names := []string{"phpfpm_up", "phpfpm_accepted_connections", "phpfpm_pm_max_children_config", "phpfpm_pm_start_servers_config",
		"phpfpm_request_terminate_timeout_seconds_config", "fpmdoctor_socket_backlog", "fpmdoctor_socket_backlog_limit",
		"fpmdoctor_pool_worker_pss_average_bytes", "fpmdoctor_probe_duration_seconds"}
	if err := testutil.CollectAndCompare(newPoolsCollector(f), strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
	// A saturated pool whose status page was never read exports no status
	// gauges (no made-up zeros), only up 0 and its probe durations.
	if n := testutil.CollectAndCount(newPoolsCollector(f), "phpfpm_active_processes"); n != 1 {
		t.Fatalf("phpfpm_active_processes: %d series, want 1 (www only)", n)
	}
}

func TestLogsCollector(t *testing.T) {
	want := `
# HELP fpmdoctor_upstream_failures_total nginx upstream failures (502/504 lines in its error log) since the watcher started, by the cause diagnose gives the line ("unclassified" when only correlation decides), site and pool. A failed try nginx made good on another server of the upstream is no failure: it counts in fpmdoctor_log_entries_total only.
# TYPE fpmdoctor_upstream_failures_total counter
fpmdoctor_upstream_failures_total{cause="fpm-down",pool="www (/etc/php/8.2/fpm/php-fpm.conf)",site="a.test /etc/nginx/sites-enabled/a:7"} 3
# HELP fpmdoctor_log_lines_total Log lines read by the followers since the watcher started, by source.
# TYPE fpmdoctor_log_lines_total counter
fpmdoctor_log_lines_total{source="nginx"} 5
`
	if err := testutil.CollectAndCompare(newLogsCollector(fakeState()), strings.NewReader(want), "fpmdoctor_upstream_failures_total", "fpmdoctor_log_lines_total"); err != nil {
		t.Fatal(err)
	}
}

// TestLint runs promlint over everything the collectors export from a full
// fake state (names, units, help texts, counter suffixes).
func TestLint(t *testing.T) {
	f := fakeState()
	for _, c := range append(Collectors(f), BuildInfo()) {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

// TestRegistryGathers: the whole registry gathers without a duplicate or
// inconsistent series from a state where labels collide (two findings,
// one series; sites folded into "other").
func TestRegistryGathers(t *testing.T) {
	reg := NewRegistry(fakeState(), Options{})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		got = append(got, mf.GetName())
	}
	for _, want := range []string{"fpmdoctor_build_info", "go_goroutines", "process_resident_memory_bytes", "fpmdoctor_collector_success"} {
		if !slices.Contains(got, want) {
			t.Errorf("registry lacks %s", want)
		}
	}
	reg = NewRegistry(fakeState(), Options{NoExporterMetrics: true})
	if n, _ := testutil.GatherAndCount(reg, "go_goroutines"); n != 0 {
		t.Error("NoExporterMetrics still exports go_goroutines")
	}
}

// TestNamesCoverContract: every name DESIGN.md's metrics contract and
// issue 9 promise is described by a collector.
func TestNamesCoverContract(t *testing.T) {
	names := Names()
	for _, want := range []string{
		"phpfpm_up", "phpfpm_accepted_connections", "phpfpm_active_processes", "phpfpm_idle_processes",
		"phpfpm_total_processes", "phpfpm_listen_queue", "phpfpm_max_listen_queue", "phpfpm_max_children_reached",
		"phpfpm_slow_requests", "phpfpm_start_since", "phpfpm_pm_max_children_config",
		"fpmdoctor_finding", "fpmdoctor_upstream_failures_total", "fpmdoctor_probe_duration_seconds",
		"fpmdoctor_socket_backlog", "fpmdoctor_socket_backlog_limit", "fpmdoctor_last_check_timestamp_seconds",
		"fpmdoctor_build_info",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("no collector describes %s", want)
		}
	}
}

// BenchmarkScrape100Pools: one /metrics scrape of a host with 100 pools
// (status read, histogram, config gauges, a finding and failures each),
// through the real handler; the scrape only reads memory.
func BenchmarkScrape100Pools(b *testing.B) {
	f := fakeState()
	base := f.pools[0]
	f.pools = nil
	f.state.Report.Findings = nil
	for i := range 100 {
		ps := base
		ps.Pool.ID = fmt.Sprintf("site%d (/etc/php/8.2/fpm/php-fpm.conf)", i)
		ps.Pool.Name = fmt.Sprintf("site%d", i)
		ps.Pool.Address = fmt.Sprintf("unix:/run/php/site%d.sock", i)
		f.pools = append(f.pools, ps)
		site := fmt.Sprintf("site%d.test /etc/nginx/sites-enabled/site%d:12", i, i)
		f.state.SiteLabels[site] = site
		f.state.Report.Findings = append(f.state.Report.Findings, report.Finding{Cause: "pool-exhausted", Severity: report.Error, Site: site, Pool: ps.Pool.ID})
		f.failures = append(f.failures, watch.Failure{FailureKey: watch.FailureKey{Cause: "upstream-timeout", Site: site, Pool: ps.Pool.ID}, Count: uint64(i)})
	}
	h := Handler(NewRegistry(f, Options{}), Options{})
	req := httptest.NewRequest("GET", "/metrics", nil)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}
