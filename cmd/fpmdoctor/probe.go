package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/internal/probe"
)

type probeFlags struct {
	timeout, connectTimeout time.Duration
	pingPath, pingResponse  string
	statusPath              string
	maxListenQueue          int64
	minIdle, maxActive      int64
	asUser                  string
	format                  string
}

func newProbeCmd() *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe TARGET",
		Short: "Ask a PHP-FPM pool over FastCGI whether it answers, without running application code",
		Long: `probe sends one FastCGI request to TARGET (unix:/path, /path, host:port or
[v6]:port) and says whether a worker answered. It asks the pool's ping page
(--ping-path), else its status page (--status-path), else a script that cannot
exist, which php-fpm answers with 404 "Primary script unknown".

Exit status: 0 healthy, 1 unhealthy (answered wrongly, error status, threshold),
2 usage or the probe could not run, 3 cannot connect (no socket, refused,
permission denied, backlog full, connect timeout), 4 saturated (accepted, no
worker answered in time), 5 the exchange broke (early close, protocol error).
See docs/probe.md.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runProbe(cmd, args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&f.timeout, "timeout", 3*time.Second, "hard limit on the whole probe")
	fl.DurationVar(&f.connectTimeout, "connect-timeout", 0, "limit on connecting (default: --timeout)")
	fl.StringVar(&f.pingPath, "ping-path", "", "the pool's ping.path, e.g. /ping")
	fl.StringVar(&f.pingResponse, "ping-response", probe.DefaultPingResponse, "the pool's ping.response")
	fl.StringVar(&f.statusPath, "status-path", "", "the pool's pm.status_path, e.g. /status")
	fl.Int64Var(&f.maxListenQueue, "max-listen-queue", 0, "unhealthy when the status page's listen queue is above N (needs --status-path)")
	fl.Int64Var(&f.minIdle, "min-idle", 0, "unhealthy when fewer than N processes are idle (needs --status-path)")
	fl.Int64Var(&f.maxActive, "max-active", 0, "unhealthy when more than N processes are active, the probe's own included (needs --status-path)")
	fl.StringVar(&f.asUser, "as-user", "", "connect to a unix socket as this user (nginx's worker user; needs root)")
	fl.StringVar(&f.format, "format", "text", "output format: text or json")
	return cmd
}

func runProbe(cmd *cobra.Command, raw string, f probeFlags) error {
	if f.format != "text" && f.format != "json" {
		return fmt.Errorf("--format %q: want text or json", f.format)
	}
	if f.timeout <= 0 {
		return fmt.Errorf("--timeout must be positive")
	}
	target, err := resolveTarget(raw)
	if err != nil {
		return err
	}
	opts := probe.Options{
		Timeout:        f.timeout,
		ConnectTimeout: f.connectTimeout,
		PingPath:       f.pingPath,
		PingResponse:   f.pingResponse,
		StatusPath:     f.statusPath,
	}
	fl := cmd.Flags()
	if fl.Changed("max-listen-queue") {
		opts.Thresholds.MaxListenQueue = &f.maxListenQueue
	}
	if fl.Changed("min-idle") {
		opts.Thresholds.MinIdle = &f.minIdle
	}
	if fl.Changed("max-active") {
		opts.Thresholds.MaxActive = &f.maxActive
	}
	if f.asUser != "" {
		if opts.As, err = probe.LookupUser(f.asUser); err != nil {
			return err
		}
		if target.Network != "unix" {
			fmt.Fprintf(cmd.ErrOrStderr(), "fpmdoctor: note: --as-user only matters for unix sockets; %s is TCP\n", target)
		}
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	r := probe.Probe(cmd.Context(), target, opts)
	out := cmd.OutOrStdout()
	if f.format == "json" {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		writeProbeText(out, r)
	}
	if code := r.ExitCode(); code != 0 {
		return exitError{code: code}
	}
	return nil
}

// resolveTarget turns the TARGET argument into an address. For now it
// accepts addresses only (unix:/path, /path, host:port, [v6]:port); pool
// names and fastcgi_pass upstream names will be looked up through host
// discovery (internal/discover) here.
func resolveTarget(raw string) (probe.Target, error) {
	t, err := probe.ParseTarget(raw)
	if err != nil {
		return probe.Target{}, fmt.Errorf("%w (pool and upstream names are not resolved yet: pass the pool's listen address)", err)
	}
	return t, nil
}

func writeProbeText(w io.Writer, r probe.Result) {
	who := ""
	if r.AsUser != "" {
		who = " as " + r.AsUser
	}
	fmt.Fprintf(w, "%s: %s%s, %s probe, %s: %s\n", r.Verdict, r.Target, who, r.Method, r.Latency.Round(10*time.Microsecond), r.Detail)
	if s := r.Status; s != nil {
		fmt.Fprintf(w, "  pool %s (%s): %d active, %d idle, %d total; listen queue %d (max %d, len %d); max children reached %d; slow requests %d\n",
			s.Pool, s.ProcessManager, s.ActiveProcesses, s.IdleProcesses, s.TotalProcesses,
			s.ListenQueue, s.MaxListenQueue, s.ListenQueueLen, s.MaxChildrenReached, s.SlowRequests)
	}
	if r.Stderr != "" && r.Verdict != probe.VerdictHealthy {
		fmt.Fprintf(w, "  FastCGI stderr: %s\n", strings.ReplaceAll(r.Stderr, "\n", "\n    "))
	}
}
