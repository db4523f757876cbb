package metrics

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// logsCollector exports what the log followers counted since the watcher
// started: nginx's 502/504 lines by cause, site and pool, and every
// classified entry by source and kind.
type logsCollector struct {
	src                            Source
	failures, entries, lines, slow *prometheus.Desc
}

func newLogsCollector(src Source) *logsCollector {
	return &logsCollector{
		src: src,
		failures: prometheus.NewDesc("fpmdoctor_upstream_failures_total",
			"nginx upstream failures (502/504 lines in its error log) since the watcher started, by the cause diagnose gives the line (\"unclassified\" when only correlation decides), site and pool. A failed try nginx made good on another server of the upstream is no failure: it counts in fpmdoctor_log_entries_total only.",
			[]string{"cause", "site", "pool"}, nil),
		entries: prometheus.NewDesc("fpmdoctor_log_entries_total",
			"Classified log entries read by the followers since the watcher started, by source and kind (the stable kinds of the report).",
			[]string{"source", "kind"}, nil),
		slow: prometheus.NewDesc("fpmdoctor_slow_requests_total",
			"Slow requests php-fpm logged in the pools' slowlogs since the watcher started, by pool and script (at most 10 scripts per pool, the rest script=\"other\"; \"\" when the trace failed before the script).",
			[]string{"pool", "script"}, nil),
		lines: prometheus.NewDesc("fpmdoctor_log_lines_total",
			"Log lines read by the followers since the watcher started, by source.",
			[]string{"source"}, nil),
	}
}

func (c *logsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.failures
	ch <- c.slow
	ch <- c.entries
	ch <- c.lines
}

func (c *logsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, f := range c.src.Failures() {
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(f.Count), f.Cause, f.Site, f.Pool)
	}
	for _, sl := range c.src.SlowRequests() {
		ch <- prometheus.MustNewConstMetric(c.slow, prometheus.CounterValue, float64(sl.Count), sl.Pool, sl.Script)
	}
	for _, e := range c.src.Entries() {
		ch <- prometheus.MustNewConstMetric(c.entries, prometheus.CounterValue, float64(e.Count), string(e.Source), string(e.Kind))
	}
	lines := c.src.Lines()
	srcs := make([]logscan.Source, 0, len(lines))
	for s := range lines {
		srcs = append(srcs, s)
	}
	slices.Sort(srcs)
	for _, s := range srcs {
		ch <- prometheus.MustNewConstMetric(c.lines, prometheus.CounterValue, float64(lines[s]), string(s))
	}
}
