package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
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
		Long: `probe sends one FastCGI request to TARGET (unix:/path, /path, host:port,
[v6]:port, or a pool or nginx upstream name found on the host) and says
whether a worker answered. As root it connects to a unix socket as the
running nginx workers do (--as-user auto). It asks the pool's ping page
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
	fl.StringVar(&f.asUser, "as-user", "auto", "connect to a unix socket as this user (needs root); auto: as the running nginx workers, self: as fpmdoctor")
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
	ctx := cmd.Context()
	target, err := resolveTarget(ctx, raw, &f, cmd.Flags().Changed)
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
	switch f.asUser {
	case "self", "":
	case "auto":
		if os.Geteuid() == 0 && target.Network == "unix" {
			opts.As = workerCredentials(ctx)
		}
	default:
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
	r := probe.Probe(ctx, target, opts)
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

// resolveTarget turns the TARGET argument into an address: an address as
// written (unix:/path, /path, host:port, [v6]:port), else a pool name or an
// nginx upstream name found by discovering the host's configs. For a pool,
// its ping.path, ping.response and pm.status_path fill the flags not given.
func resolveTarget(ctx context.Context, raw string, f *probeFlags, changed func(string) bool) (probe.Target, error) {
	t, err := probe.ParseTarget(raw)
	if err == nil {
		return t, nil
	}
	s, gerr := snapshot.Gather(ctx, snapshot.Options{NoProbe: true})
	if gerr != nil {
		return probe.Target{}, fmt.Errorf("%q is not an address, and looking it up as a pool failed: %w", raw, gerr)
	}
	var matches []*snapshot.Pool
	for _, fpm := range s.FPM {
		for _, p := range fpm.Pools {
			if strings.EqualFold(p.Name, raw) && p.ListenErr == nil {
				matches = append(matches, p)
			}
		}
	}
	switch {
	case len(matches) == 1:
		p := matches[0]
		if !changed("ping-path") {
			f.pingPath = p.Pool.Value("ping.path")
		}
		if !changed("ping-response") && p.Pool.Value("ping.response") != "" {
			f.pingResponse = p.Pool.Value("ping.response")
		}
		if !changed("status-path") {
			f.statusPath = p.Pool.Value("pm.status_path")
		}
		return probe.ParseTarget(p.NginxAddress())
	case len(matches) > 1:
		var ids []string
		for _, p := range matches {
			ids = append(ids, p.ID())
		}
		return probe.Target{}, fmt.Errorf("pool %q is defined by several php-fpm configs (%s): pass its listen address", raw, strings.Join(ids, "; "))
	}
	for _, n := range s.Nginx {
		if n.Model == nil {
			continue
		}
		if u := n.Model.Upstream(raw); u != nil && len(u.Servers) > 0 {
			return probe.ParseTarget(u.Servers[0].Target.Address())
		}
	}
	return probe.Target{}, fmt.Errorf("%q is not an address (unix:/path, /path, host:port) and no pool or nginx upstream has that name", raw)
}

// workerCredentials are the running nginx workers' uid and groups: as root,
// probe connects as they would, so a permission problem shows as nginx
// sees it. nil when no nginx worker runs.
func workerCredentials(ctx context.Context) *probe.Credentials {
	procs, err := host.New("").Processes(ctx)
	if err != nil {
		return nil
	}
	users, _ := host.New("").Users()
	for _, p := range procs {
		if p.Role() != host.RoleNginxWorker || p.UID == 0 {
			continue
		}
		return probe.CredentialsOf(users.UserName(p.UID), host.Cred{UID: p.UID, GID: p.GID, Groups: p.Groups})
	}
	return nil
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
