// Package watchcmd is the `fpmdoctor watch` command. It is the one command
// that links Prometheus' client library, whose package initialisation costs
// every process that links it several milliseconds (measured: an empty
// static program 4.5 ms, the same importing promhttp 11.0 ms). So it is
// built into its own binary, fpmdoctor-watch (cmd/fpmdoctor-watch), which
// `fpmdoctor watch` runs: probe and diagnose, which must start fast, never
// pay for it.
package watchcmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/metrics"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
	"github.com/fpmdoctor/fpmdoctor/internal/watch"
)

// watchFlags are watch's own flags; discovery flags are diagnose's.
type watchFlags struct {
	nginxConf    string
	fpmConfs     []string
	since        time.Duration
	noProbe      bool
	probeWait    time.Duration
	probeMax     int
	listen       string
	interval     time.Duration
	checkTimeout time.Duration
	poolInterval time.Duration
	poolTimeout  time.Duration
	maxSites     int
	logLevel     string
	logFormat    string
	maxRequests  int
	noExporter   bool
}

// New returns the watch command.
func New() *cobra.Command {
	var f watchFlags
	cmd := &cobra.Command{
		Use:   "fpmdoctor watch",
		Short: "Keep the diagnosis current and serve it as Prometheus metrics",
		Long: `watch runs in the foreground (for systemd or a supervisor): it discovers
nginx and php-fpm the way diagnose does, re-runs the diagnosis every
--interval and soon after a relevant line in their error logs, follows the
logs to count nginx's 502/504 by cause, reads each pool's status page in
the background, and serves:

  /metrics        Prometheus metrics (OpenMetrics when asked)
  /api/findings   the current report (diagnose --format json)
  /               a page with the findings and a per-minute timeline
  /-/healthy      liveness

It logs to stderr. SIGTERM and SIGINT stop it; SIGHUP re-discovers and
reopens the logs. See docs/watch.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWatch(cmd.Context(), &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.nginxConf, "nginx-conf", "", "nginx main config (default: discovered from the running master or the usual paths)")
	fl.StringArrayVar(&f.fpmConfs, "fpm-conf", nil, "php-fpm main config; repeat for several (default: discovered)")
	fl.DurationVar(&f.since, "since", watch.DefaultSince, "log window each diagnosis reads")
	fl.BoolVar(&f.noProbe, "no-probe", false, "do not talk FastCGI to the pools (diagnosis and status reads)")
	fl.DurationVar(&f.probeWait, "probe-timeout", snapshot.DefaultProbeTimeout, "deadline of each FastCGI probe of a diagnosis")
	fl.IntVar(&f.probeMax, "probe-limit", snapshot.DefaultProbeLimit, "a diagnosis probes at most this many fastcgi_pass targets (-1: all)")
	fl.StringVar(&f.listen, "listen", "127.0.0.1:9254", "`ADDRESS` to serve on (host:port; the data names paths and users: keep it local unless protected)")
	fl.DurationVar(&f.interval, "interval", watch.DefaultInterval, "time between diagnoses")
	fl.DurationVar(&f.checkTimeout, "check-timeout", 0, "deadline of one diagnosis (default: --interval, at most 1m)")
	fl.DurationVar(&f.poolInterval, "pool-interval", watch.DefaultPoolInterval, "time between reads of each pool's status page and of the kernel's accept queues")
	fl.DurationVar(&f.poolTimeout, "pool-timeout", watch.DefaultPoolTimeout, "deadline of one pool status read")
	fl.IntVar(&f.maxSites, "max-sites", watch.DefaultMaxSites, "label at most this many sites; the rest share site=\"other\" (-1: no cap)")
	fl.StringVar(&f.logLevel, "log.level", "info", "log level: debug, info, warn or error")
	fl.StringVar(&f.logFormat, "log.format", "logfmt", "log format: logfmt or json")
	fl.IntVar(&f.maxRequests, "web.max-requests", 40, "concurrent /metrics scrapes served at most (0: no limit)")
	fl.BoolVar(&f.noExporter, "web.disable-exporter-metrics", false, "leave out the Go runtime and process metrics")
	return cmd
}

func (f *watchFlags) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log.level %q: want debug, info, warn or error", f.logLevel)
	}
	ho := &slog.HandlerOptions{Level: lvl}
	switch f.logFormat {
	case "logfmt":
		return slog.New(slog.NewTextHandler(os.Stderr, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, ho)), nil
	}
	return nil, fmt.Errorf("--log.format %q: want logfmt or json", f.logFormat)
}

// watchMemoryLimit is the watcher's soft memory limit, lower than the
// one-shot commands': it runs all the time beside the servers it watches,
// and a diagnosis' transient memory (the log window) is given back to the
// system sooner. The garbage collector works harder only near it, and Go
// caps that work rather than fail. GOMEMLIMIT overrides it.
const watchMemoryLimit = 28 << 20

func runWatch(ctx context.Context, f *watchFlags) error {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(watchMemoryLimit)
	}
	log, err := f.logger()
	if err != nil {
		return err
	}
	if f.interval <= 0 || f.poolInterval <= 0 || f.poolTimeout <= 0 || f.checkTimeout < 0 {
		return errors.New("--interval, --pool-interval and --pool-timeout must be positive")
	}
	if _, _, err := net.SplitHostPort(f.listen); err != nil {
		return fmt.Errorf("--listen %q: %w", f.listen, err)
	}
	limit := f.probeMax
	if limit == 0 {
		limit = -1
	}
	w := watch.New(watch.Options{
		Doctor: doctor.Options{NginxConf: f.nginxConf, FPMConfs: f.fpmConfs, Since: f.since,
			NoProbe: f.noProbe || f.probeMax == 0, ProbeTimeout: f.probeWait, ProbeLimit: limit},
		Interval:     f.interval,
		CheckTimeout: f.checkTimeout,
		PoolInterval: f.poolInterval,
		PoolTimeout:  f.poolTimeout,
		MaxSites:     f.maxSites,
		Logger:       log,
	})
	// Listen before anything else, so a taken port is a plain error
	// (exit 2) and not a log line after start-up.
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", f.listen, err)
	}
	mo := metrics.Options{NoExporterMetrics: f.noExporter, MaxRequestsInFlight: f.maxRequests, Timeout: 10 * time.Second, Logger: log}
	srv := watch.NewServer(f.listen, w.Handler(metrics.Handler(metrics.NewRegistry(w, mo), mo)), log)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: discovering again and reopening the logs")
				w.Rediscover()
			}
		}
	}()

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	log.Info("watching", "listen", ln.Addr().String(), "interval", f.interval)

	select {
	case err = <-serveErr:
		stop()
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if serr := srv.Shutdown(shutdown); serr != nil {
		log.Warn("http shutdown", "err", serr)
	}
	<-done
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", f.listen, err)
	}
	log.Info("stopped")
	return nil
}

// Main runs the watch command with args (without the program name) and
// returns the process's exit status: 0 when it stopped cleanly, 2 when it
// could not run.
func Main(args []string) int {
	cmd := New()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "fpmdoctor watch:", err)
		return 2
	}
	return 0
}
