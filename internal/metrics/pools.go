package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fpmdoctor/fpmdoctor/internal/watch"
)

// poolsCollector exports each pool's status page under the names of the
// de-facto exporter (hipages/php-fpm_exporter: phpfpm_*, labelled pool and
// scrape_uri, so Grafana dashboard 4912 keeps working), its configuration
// as *_config gauges, the kernel's accept queue of its socket, its
// workers' memory and the probe durations.
//
// The exporter's counters (accepted connections, max children reached,
// slow requests, start since) are exposed untyped: in the OpenMetrics
// format a counter's name gains "_total", which would rename them for
// every dashboard that knows them.
type poolsCollector struct {
	src Source

	up, statusAge                                    *prometheus.Desc
	accepted, startSince, maxChildren, slow          *prometheus.Desc
	active, idle, total, listenQ, maxListenQ, qLen   *prometheus.Desc
	maxActive                                        *prometheus.Desc
	cfgMaxChildren, cfgStart, cfgMinSpare, cfgMaxSpr *prometheus.Desc
	cfgMaxReq, cfgIdle, cfgTerminate, cfgBacklog     *prometheus.Desc
	backlog, backlogLimit                            *prometheus.Desc
	pssAvg, pssMax, workers                          *prometheus.Desc
	probeDur                                         *prometheus.Desc
}

func newPoolsCollector(src Source) *poolsCollector {
	pl := []string{"pool", "scrape_uri"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, pl, nil) }
	return &poolsCollector{
		src:         src,
		up:          d("phpfpm_up", "Could the pool be reached (1: it answered the last status read or probe completely)."),
		statusAge:   d("fpmdoctor_pool_status_age_seconds", "Age of the status values exported for the pool (the last successful status page read)."),
		accepted:    d("phpfpm_accepted_connections", "The number of requests accepted by the pool."),
		startSince:  d("phpfpm_start_since", "The number of seconds since FPM has started."),
		maxChildren: d("phpfpm_max_children_reached", "The number of times, the process limit has been reached, when pm tries to start more children (works only for pm 'dynamic' and 'ondemand')."),
		slow:        d("phpfpm_slow_requests", "The number of requests that exceeded your 'request_slowlog_timeout' value."),
		active:      d("phpfpm_active_processes", "The number of active processes."),
		idle:        d("phpfpm_idle_processes", "The number of idle processes."),
		total:       d("phpfpm_total_processes", "The number of idle + active processes."),
		listenQ:     d("phpfpm_listen_queue", "The number of requests in the queue of pending connections (always 0 on Linux unix sockets: see fpmdoctor_socket_backlog)."),
		maxListenQ:  d("phpfpm_max_listen_queue", "The maximum number of requests in the queue of pending connections since FPM has started."),
		qLen:        d("phpfpm_listen_queue_length", "The size of the socket queue of pending connections."),
		maxActive:   d("phpfpm_max_active_processes", "The maximum number of active processes since FPM has started."),

		cfgMaxChildren: d("phpfpm_pm_max_children_config", "The pool's pm.max_children, as php-fpm reads its config."),
		cfgStart:       d("phpfpm_pm_start_servers_config", "The pool's pm.start_servers (computed default for pm = dynamic)."),
		cfgMinSpare:    d("phpfpm_pm_min_spare_servers_config", "The pool's pm.min_spare_servers."),
		cfgMaxSpr:      d("phpfpm_pm_max_spare_servers_config", "The pool's pm.max_spare_servers."),
		cfgMaxReq:      d("phpfpm_pm_max_requests_config", "The pool's pm.max_requests (0: never respawn)."),
		cfgIdle:        d("phpfpm_pm_process_idle_timeout_seconds_config", "The pool's pm.process_idle_timeout (pm = ondemand)."),
		cfgTerminate:   d("phpfpm_request_terminate_timeout_seconds_config", "The pool's request_terminate_timeout (0: none)."),
		cfgBacklog:     d("phpfpm_listen_backlog_config", "The pool's listen.backlog as configured (-1: the system's maximum)."),

		backlog:      prometheus.NewDesc("fpmdoctor_socket_backlog", "Connections waiting in the listening socket's accept queue, read from the kernel (sock_diag): unix and TCP.", []string{"address"}, nil),
		backlogLimit: prometheus.NewDesc("fpmdoctor_socket_backlog_limit", "The listening socket's effective backlog (listen.backlog capped by net.core.somaxconn); connections beyond it are refused (502).", []string{"address"}, nil),

		pssAvg:  d("fpmdoctor_pool_worker_pss_average_bytes", "Average proportional set size (PSS) of the pool's measured workers, at the last diagnosis."),
		pssMax:  d("fpmdoctor_pool_worker_pss_max_bytes", "Largest proportional set size (PSS) of the pool's measured workers, at the last diagnosis."),
		workers: d("fpmdoctor_pool_workers", "Worker processes of the pool seen in /proc at the last diagnosis."),

		probeDur: d("fpmdoctor_probe_duration_seconds", "Duration of the watcher's FastCGI reads of the pool (status page, ping or the probe diagnose sends), timeouts included."),
	}
}

func (c *poolsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.statusAge, c.accepted, c.startSince, c.maxChildren, c.slow,
		c.active, c.idle, c.total, c.listenQ, c.maxListenQ, c.qLen, c.maxActive,
		c.cfgMaxChildren, c.cfgStart, c.cfgMinSpare, c.cfgMaxSpr, c.cfgMaxReq, c.cfgIdle, c.cfgTerminate, c.cfgBacklog,
		c.backlog, c.backlogLimit, c.pssAvg, c.pssMax, c.workers, c.probeDur} {
		ch <- d
	}
}

func (c *poolsCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	seen := map[[2]string]bool{}
	seenAddr := map[string]bool{}
	for _, ps := range c.src.PoolStatuses() {
		p := ps.Pool
		if p.Address == "" {
			continue // no valid listen: no scrape_uri to name it by
		}
		l := []string{p.Name, p.Address}
		if seen[[2]string{l[0], l[1]}] {
			continue // two pools of one name on one address: one php-fpm refuses the second
		}
		seen[[2]string{l[0], l[1]}] = true
		g := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
		}
		u := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.UntypedValue, float64(v), l...)
		}
		cfg := p.Config
		g(c.cfgMaxChildren, float64(cfg.MaxChildren))
		if cfg.PM == "dynamic" {
			g(c.cfgStart, float64(cfg.StartServers))
			g(c.cfgMinSpare, float64(cfg.MinSpareServers))
			g(c.cfgMaxSpr, float64(cfg.MaxSpareServers))
		}
		if cfg.PM == "ondemand" {
			g(c.cfgIdle, cfg.ProcessIdleTimeout.Seconds())
		}
		g(c.cfgMaxReq, float64(cfg.MaxRequests))
		g(c.cfgTerminate, cfg.RequestTerminateTimeout.Seconds())
		g(c.cfgBacklog, float64(cfg.ListenBacklog))
		if p.Workers.Measured > 0 {
			g(c.pssAvg, float64(p.Workers.AvgPSS))
			g(c.pssMax, float64(p.Workers.MaxPSS))
		}
		g(c.workers, float64(p.Workers.Running))

		if q := ps.Queue; q != nil && !seenAddr[p.Address] {
			seenAddr[p.Address] = true
			ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(q.Len), p.Address)
			ch <- prometheus.MustNewConstMetric(c.backlogLimit, prometheus.GaugeValue, float64(q.Backlog), p.Address)
		}
		if ps.Time.IsZero() {
			continue // not read yet (or php-fpm does not run): up is unknown
		}
		g(c.up, b2f(ps.Up))
		if h := ps.Probes; h.Count > 0 {
			buckets := make(map[float64]uint64, len(watch.ProbeBuckets))
			for i, b := range watch.ProbeBuckets {
				buckets[b] = h.Buckets[i]
			}
			ch <- prometheus.MustNewConstHistogram(c.probeDur, h.Count, h.Sum, buckets, l...)
		}
		if st := ps.Status; st != nil {
			g(c.statusAge, now.Sub(ps.StatusTime).Seconds())
			u(c.accepted, st.AcceptedConn)
			u(c.startSince, st.StartSince)
			u(c.maxChildren, st.MaxChildrenReached)
			u(c.slow, st.SlowRequests)
			g(c.active, float64(st.ActiveProcesses))
			g(c.idle, float64(st.IdleProcesses))
			g(c.total, float64(st.TotalProcesses))
			g(c.listenQ, float64(st.ListenQueue))
			g(c.maxListenQ, float64(st.MaxListenQueue))
			g(c.qLen, float64(st.ListenQueueLen))
			g(c.maxActive, float64(st.MaxActiveProcesses))
		}
	}
}
