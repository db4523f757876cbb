// Package probecli is the command line of `fpmdoctor probe` and of the
// standalone fpmdoctor-probe binary: one set of flags, one help text and one
// runner, so the two cannot drift apart. It imports only what a probe needs
// (pflag, internal/probe, internal/ident), never cobra, procfs or the config
// parsers, because fpmdoctor-probe runs as a container health check every
// few seconds and its start-up time is most of its cost (docs/probe.md,
// "Start-up").
package probecli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fpmdoctor/fpmdoctor/internal/ident"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
)

// Short and Long are the help texts of both commands.
const (
	Short = "Ask a PHP-FPM pool over FastCGI whether it answers, without running application code"
	Long  = `probe sends one FastCGI request to TARGET (unix:/path, /path, host:port,
[v6]:port, or a pool or nginx upstream name found on the host) and says
whether a worker answered. As root it connects to a unix socket as the
running nginx workers do (--as-user auto). It asks the pool's ping page
(--ping-path), else its status page (--status-path), else a script that cannot
exist, which php-fpm answers with 404 "Primary script unknown".

Exit status: 0 healthy, 1 unhealthy (answered wrongly, error status, threshold),
2 usage or the probe could not run, 3 cannot connect (no socket, refused,
permission denied, backlog full, connect timeout), 4 saturated (accepted, no
worker answered in time), 5 the exchange broke (early close, protocol error).
See docs/probe.md.`
)

// Flags are the probe's options as given on the command line.
type Flags struct {
	Timeout, ConnectTimeout time.Duration
	PingPath, PingResponse  string
	StatusPath              string
	MaxListenQueue          int64
	MinIdle, MaxActive      int64
	AsUser                  string
	Format                  string
}

// Register defines the probe's flags on fs, bound to f.
func (f *Flags) Register(fs *pflag.FlagSet) {
	fs.DurationVar(&f.Timeout, "timeout", 3*time.Second, "hard limit on the whole probe")
	fs.DurationVar(&f.ConnectTimeout, "connect-timeout", 0, "limit on connecting (default: --timeout)")
	fs.StringVar(&f.PingPath, "ping-path", "", "the pool's ping.path, e.g. /ping")
	fs.StringVar(&f.PingResponse, "ping-response", probe.DefaultPingResponse, "the pool's ping.response")
	fs.StringVar(&f.StatusPath, "status-path", "", "the pool's pm.status_path, e.g. /status")
	fs.Int64Var(&f.MaxListenQueue, "max-listen-queue", 0, "unhealthy when the status page's listen queue is above N (needs --status-path)")
	fs.Int64Var(&f.MinIdle, "min-idle", 0, "unhealthy when fewer than N processes are idle (needs --status-path)")
	fs.Int64Var(&f.MaxActive, "max-active", 0, "unhealthy when more than N processes are active, the probe's own included (needs --status-path)")
	fs.StringVar(&f.AsUser, "as-user", "auto", "connect to a unix socket as this user (needs root); auto: as the running nginx workers, self: as fpmdoctor")
	fs.StringVar(&f.Format, "format", "text", "output format: text or json")
}

// Resolver turns a TARGET that is not an address (a pool or nginx upstream
// name) into one. It may fill the ping and status flags the user did not
// set (changed reports which were set) from the pool's config.
type Resolver func(ctx context.Context, name string, f *Flags, changed func(string) bool) (probe.Target, error)

// Env is what the runner needs from its command.
type Env struct {
	Stdout, Stderr io.Writer
	// Resolve looks names up; nil when the command only takes addresses
	// (fpmdoctor-probe: discovering the host's configs would cost it the
	// config parsers at every start).
	Resolve Resolver
	// Prog names the command in notes on Stderr.
	Prog string
}

// Run probes target with f and returns the exit status of docs/probe.md.
// An error is a usage error or a probe that could not run (status 2); the
// caller prints it. changed reports which flags were given.
func Run(ctx context.Context, arg string, f Flags, changed func(string) bool, env Env) (int, error) {
	if f.Format != "text" && f.Format != "json" {
		return 2, fmt.Errorf("--format %q: want text or json", f.Format)
	}
	if f.Timeout <= 0 {
		return 2, errors.New("--timeout must be positive")
	}
	target, err := probe.ParseTarget(arg)
	if err != nil {
		if env.Resolve == nil {
			return 2, fmt.Errorf("%q is not an address (unix:/path, /path, host:port, [v6]:port): %s takes the pool's listen address; `fpmdoctor probe` also looks up pool and upstream names", arg, env.Prog)
		}
		if target, err = env.Resolve(ctx, arg, &f, changed); err != nil {
			return 2, err
		}
	}
	opts := probe.Options{
		Timeout:        f.Timeout,
		ConnectTimeout: f.ConnectTimeout,
		PingPath:       f.PingPath,
		PingResponse:   f.PingResponse,
		StatusPath:     f.StatusPath,
	}
	if changed("max-listen-queue") {
		opts.Thresholds.MaxListenQueue = &f.MaxListenQueue
	}
	if changed("min-idle") {
		opts.Thresholds.MinIdle = &f.MinIdle
	}
	if changed("max-active") {
		opts.Thresholds.MaxActive = &f.MaxActive
	}
	switch f.AsUser {
	case "self", "":
	case "auto":
		// Only root can take another identity, and only a unix socket's
		// permissions depend on it: skip the /proc scan otherwise.
		if os.Geteuid() == 0 && target.Network == "unix" {
			opts.As = workerCredentials(ctx)
		}
	default:
		if opts.As, err = probe.LookupUser(f.AsUser); err != nil {
			return 2, err
		}
		if target.Network != "unix" {
			fmt.Fprintf(env.Stderr, "%s: note: --as-user only matters for unix sockets; %s is TCP\n", env.Prog, target)
		}
	}
	if err := opts.Validate(); err != nil {
		return 2, err
	}
	r := probe.Probe(ctx, target, opts)
	if f.Format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return 2, err
		}
	} else {
		WriteText(env.Stdout, r)
	}
	return r.ExitCode(), nil
}

// workerCredentials are a running nginx worker's uid and groups: as root,
// probe connects as it would, so a permission problem shows as nginx sees
// it. nil when no nginx worker runs.
func workerCredentials(ctx context.Context) *probe.Credentials {
	_, c, ok, err := ident.FindNginxWorker(ctx, "/proc")
	if err != nil || !ok {
		return nil
	}
	users, _ := ident.LoadUsers("/etc/passwd", "/etc/group")
	return probe.CredentialsOf(users.UserName(c.UID), c)
}

// WriteText prints r as the text format of docs/probe.md.
func WriteText(w io.Writer, r probe.Result) {
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

// Main is the whole of fpmdoctor-probe: it parses args (without the
// program name) and returns the exit status.
func Main(ctx context.Context, prog string, args []string, stdout, stderr io.Writer) int {
	var f Flags
	fs := pflag.NewFlagSet(prog, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	f.Register(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nUsage:\n  %s TARGET [flags]\n\n%s\n\nFlags:\n%s", Short, prog, strings.Replace(Long, "probe sends", prog+" sends", 1), fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "%s: want one TARGET (unix:/path, /path, host:port), got %d arguments; see %s --help\n", prog, fs.NArg(), prog)
		return 2
	}
	code, err := Run(ctx, fs.Arg(0), f, fs.Changed, Env{Stdout: stdout, Stderr: stderr, Prog: prog})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	}
	return code
}
