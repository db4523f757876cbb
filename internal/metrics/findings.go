package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// findingsCollector exports the current findings, one series per cause,
// severity, site and pool while a finding holds. A finding that is gone
// leaves no series: alert rules see it resolve.
type findingsCollector struct {
	src         Source
	finding     *prometheus.Desc
	lastCheck   *prometheus.Desc
	checkDur    *prometheus.Desc
	sitesCapped *prometheus.Desc
}

func newFindingsCollector(src Source) *findingsCollector {
	return &findingsCollector{
		src: src,
		finding: prometheus.NewDesc("fpmdoctor_finding",
			"1 while a finding of the last diagnosis holds: its cause (fpmdoctor explain CAUSE), severity, site and pool.",
			[]string{"cause", "severity", "site", "pool"}, nil),
		lastCheck: prometheus.NewDesc("fpmdoctor_last_check_timestamp_seconds",
			"When the last successful diagnosis finished (Unix time).", nil, nil),
		checkDur: prometheus.NewDesc("fpmdoctor_check_duration_seconds",
			"How long the last successful diagnosis took.", nil, nil),
		sitesCapped: prometheus.NewDesc("fpmdoctor_sites_capped",
			"Sites beyond --max-sites, whose findings and failures share site=\"other\".", nil, nil),
	}
}

func (c *findingsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.finding
	ch <- c.lastCheck
	ch <- c.checkDur
	ch <- c.sitesCapped
}

func (c *findingsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.src.State()
	if st == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.lastCheck, prometheus.GaugeValue, float64(st.Time.UnixNano())/1e9)
	ch <- prometheus.MustNewConstMetric(c.checkDur, prometheus.GaugeValue, st.Duration.Seconds())
	ch <- prometheus.MustNewConstMetric(c.sitesCapped, prometheus.GaugeValue, float64(st.SitesCapped))
	// Several findings can share the labels (a cause found by a check and
	// by a probe, sites folded into "other"): one series each.
	seen := map[[4]string]bool{}
	for _, f := range st.Report.Findings {
		k := [4]string{f.Cause, string(f.Severity), st.SiteLabel(f.Site), f.Pool}
		if seen[k] {
			continue
		}
		seen[k] = true
		ch <- prometheus.MustNewConstMetric(c.finding, prometheus.GaugeValue, 1, k[:]...)
	}
}

// selfCollector exports how the watcher's own refreshers do, the
// scrape_collector_* metrics of node_exporter adapted to a refresh loop.
type selfCollector struct {
	src                                       Source
	success, duration, lastSuccess, stuck, pn *prometheus.Desc
}

func newSelfCollector(src Source) *selfCollector {
	l := []string{"collector"}
	return &selfCollector{
		src:         src,
		success:     prometheus.NewDesc("fpmdoctor_collector_success", "1 when the collector's last refresh succeeded.", l, nil),
		duration:    prometheus.NewDesc("fpmdoctor_collector_duration_seconds", "How long the collector's last refresh took.", l, nil),
		lastSuccess: prometheus.NewDesc("fpmdoctor_collector_last_success_timestamp_seconds", "When the collector last refreshed successfully (Unix time; 0: never).", l, nil),
		stuck:       prometheus.NewDesc("fpmdoctor_collector_stuck", "1 while the collector's refresh runs past its deadline.", l, nil),
		pn:          prometheus.NewDesc("fpmdoctor_collector_panics_total", "Refreshes that ended in a recovered panic (an internal error; the previous state was kept).", l, nil),
	}
}

func (c *selfCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.success
	ch <- c.duration
	ch <- c.lastSuccess
	ch <- c.stuck
	ch <- c.pn
}

func (c *selfCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.src.Collectors() {
		if s.Runs == 0 && !s.Stuck {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.success, prometheus.GaugeValue, b2f(s.Success), s.Name)
		ch <- prometheus.MustNewConstMetric(c.duration, prometheus.GaugeValue, s.Duration.Seconds(), s.Name)
		last := 0.0
		if !s.LastSuccess.IsZero() {
			last = float64(s.LastSuccess.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, last, s.Name)
		ch <- prometheus.MustNewConstMetric(c.stuck, prometheus.GaugeValue, b2f(s.Stuck), s.Name)
		ch <- prometheus.MustNewConstMetric(c.pn, prometheus.CounterValue, float64(s.Panics), s.Name)
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
