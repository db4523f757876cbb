// Package metrics exposes what `fpmdoctor watch` knows as Prometheus
// metrics. Every collector only reads the watcher's last state (Source):
// a scrape never talks to php-fpm, reads a log or waits for a diagnosis,
// so a saturated or stopped pool can never make a scrape hang.
//
// This package and internal/watch are the only ones importing
// client_golang: the one-shot commands (probe, diagnose) must not pay its
// start-up cost.
package metrics

import (
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/version"
	"github.com/fpmdoctor/fpmdoctor/internal/watch"
)

// Source is what the collectors read: *watch.Watcher, or a fake in tests.
type Source interface {
	State() *watch.State
	PoolStatuses() []watch.PoolStatus
	Failures() []watch.Failure
	SlowRequests() []watch.Slow
	Entries() []watch.Entry
	Lines() map[logscan.Source]uint64
	Collectors() []watch.CollectorStats
}

// Options of the registry and handler.
type Options struct {
	// NoExporterMetrics leaves out the Go runtime and process metrics.
	NoExporterMetrics bool
	// MaxRequestsInFlight bounds concurrent scrapes (0: no bound).
	MaxRequestsInFlight int
	// Timeout bounds one scrape's gathering (0: none). Gathering only
	// reads memory; the bound is a guard, not a need.
	Timeout time.Duration
	Logger  *slog.Logger
}

// Collectors lists every collector over src, explicitly (no init()
// registration): one per file of this package.
func Collectors(src Source) []prometheus.Collector {
	return []prometheus.Collector{
		newFindingsCollector(src),
		newPoolsCollector(src),
		newLogsCollector(src),
		newSelfCollector(src),
	}
}

// NewRegistry returns a registry of its own (never the global default)
// holding the collectors over src, the build info and, unless turned off,
// the Go and process metrics.
func NewRegistry(src Source, opts Options) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collectors(src)...)
	reg.MustRegister(BuildInfo())
	if !opts.NoExporterMetrics {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return reg
}

// BuildInfo is fpmdoctor_build_info, labelled as the exporters' build_info
// (version, revision, goversion, goos, goarch) from internal/version, the
// same source as `fpmdoctor --version`.
func BuildInfo() prometheus.Collector {
	in := version.Get()
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "fpmdoctor_build_info",
		Help: "A metric with a constant '1' value labelled by the version, revision and Go version fpmdoctor was built from, and its goos and goarch.",
		ConstLabels: prometheus.Labels{
			"version": in.Version, "revision": in.Commit, "goversion": runtime.Version(),
			"goos": runtime.GOOS, "goarch": runtime.GOARCH,
		},
	}, func() float64 { return 1 })
}

// Handler serves reg, in the OpenMetrics format when the scraper asks for
// it, and logs gathering errors instead of failing the whole scrape.
func Handler(reg *prometheus.Registry, opts Options) http.Handler {
	ho := promhttp.HandlerOpts{
		EnableOpenMetrics:   true,
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: opts.MaxRequestsInFlight,
		Timeout:             opts.Timeout,
		Registry:            reg,
	}
	if opts.Logger != nil {
		ho.ErrorLog = slog.NewLogLogger(opts.Logger.Handler(), slog.LevelError)
	}
	return promhttp.HandlerFor(reg, ho)
}

// Names lists every metric name fpmdoctor's own collectors can export
// (not the Go runtime and process metrics), sorted: the list the shipped
// alert rules and dashboard are checked against.
func Names() []string {
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range append(Collectors(nil), BuildInfo()) {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		// Desc keeps its name private; its String form is stable:
		// Desc{fqName: "name", help: ...}.
		s := d.String()
		if _, rest, ok := strings.Cut(s, `fqName: "`); ok {
			if name, _, ok := strings.Cut(rest, `"`); ok {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
