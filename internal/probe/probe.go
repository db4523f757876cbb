package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/fastcgi"
)

// DefaultPingResponse is php-fpm's default ping.response.
const DefaultPingResponse = "pong"

// Options says what is known about the pool and how long to wait.
type Options struct {
	Timeout        time.Duration // the whole probe; 0: fastcgi.DefaultTimeout
	ConnectTimeout time.Duration // 0: the whole Timeout
	PingPath       string        // the pool's ping.path, if set
	PingResponse   string        // the pool's ping.response; "" means "pong"
	StatusPath     string        // the pool's pm.status_path, if set
	Thresholds     Thresholds
	// As, when set, connects to a unix socket with these credentials
	// (needs root), from a thread that takes their filesystem identity for
	// the connect, the way nginx's workers would (connect.go).
	As *Credentials
}

// Thresholds turn a status page into a verdict. A nil field is not checked.
// They need Options.StatusPath.
type Thresholds struct {
	MaxListenQueue *int64 // unhealthy when "listen queue" is above
	MinIdle        *int64 // unhealthy when "idle processes" is below
	MaxActive      *int64 // unhealthy when "active processes" (the probe's own included) is above
}

func (t Thresholds) any() bool {
	return t.MaxListenQueue != nil || t.MinIdle != nil || t.MaxActive != nil
}

// Validate reports option combinations a probe cannot honour.
func (o Options) Validate() error {
	if o.Thresholds.any() && o.StatusPath == "" {
		return errors.New("status thresholds need the pool's status page: set the status path (pm.status_path)")
	}
	for _, p := range []string{o.PingPath, o.StatusPath} {
		if p != "" && !strings.HasPrefix(p, "/") {
			return fmt.Errorf("path %q must start with / (php-fpm requires it)", p)
		}
	}
	if o.As != nil && os.Geteuid() != 0 && uint32(os.Geteuid()) != o.As.UID {
		return fmt.Errorf("connecting as %s needs root", o.As.User)
	}
	return nil
}

// Method is the request a probe sent.
type Method string

// Probe methods, in order of preference.
const (
	MethodPing          Method = "ping"
	MethodStatus        Method = "status"
	MethodUnknownScript Method = "unknown-script"
)

// Probe sends one request to t and judges the answer. It picks the status
// page when thresholds are set, else the ping page when known, else the
// status page when known, else a request for a script that cannot exist.
// None of them runs application code. It returns within opts.Timeout (or
// ctx's deadline, if sooner).
func Probe(ctx context.Context, t Target, opts Options) Result {
	r := Result{Target: t}
	if err := opts.Validate(); err != nil {
		return r.usage(err)
	}
	if opts.As != nil && t.Network == "unix" {
		r.AsUser = opts.As.User
	}
	req, method, script := plan(opts)
	r.Method = method
	client := &fastcgi.Client{Network: t.Network, Address: t.Address, Options: fastcgi.Options{
		Timeout:        opts.Timeout,
		ConnectTimeout: opts.ConnectTimeout,
		MaxStdout:      256 << 10,
		MaxStderr:      8 << 10,
	}}
	if r.AsUser != "" {
		client.Options.Dial = dialAs(opts.As)
	}
	start := time.Now()
	resp, err := client.Do(ctx, req)
	r.Latency = time.Since(start)
	if resp != nil {
		r.Timing = resp.Timing
		r.HTTPStatus = resp.Status
		r.Stderr = trim(strings.TrimSpace(string(resp.Stderr)), 500)
	}
	if err != nil {
		return r.failed(err, opts)
	}
	return r.judge(resp, opts, script)
}

// plan builds the request. SCRIPT_FILENAME always names a file that cannot
// exist, so even a wrong ping or status path can only ever produce php-fpm's
// "Primary script unknown", never run a script.
func plan(o Options) (req *fastcgi.Request, m Method, script string) {
	// The name only has to be one no site has: math/rand/v2's generator
	// (randomly initialised by the runtime) suffices, and unlike crypto/rand it adds no
	// package init to every start of fpmdoctor-probe.
	h := strconv.FormatUint(rand.Uint64(), 16)
	script = "/fpmdoctor-probe-" + strings.Repeat("0", 16-len(h)) + h + ".php"
	name, query := script, ""
	switch {
	case o.Thresholds.any():
		m, name, query = MethodStatus, o.StatusPath, "json"
	case o.PingPath != "":
		m, name = MethodPing, o.PingPath
	case o.StatusPath != "":
		m, name, query = MethodStatus, o.StatusPath, "json"
	default:
		m = MethodUnknownScript
	}
	uri := name
	if query != "" {
		uri += "?" + query
	}
	return &fastcgi.Request{Params: map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "fpmdoctor",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"REQUEST_METHOD":    "GET",
		"SCRIPT_NAME":       name,
		"SCRIPT_FILENAME":   script,
		"REQUEST_URI":       uri,
		"DOCUMENT_URI":      name,
		"QUERY_STRING":      query,
		"REMOTE_ADDR":       "127.0.0.1",
	}}, m, script
}

// judge decides on a complete response.
func (r Result) judge(resp *fastcgi.Response, o Options, script string) Result {
	body := strings.TrimSpace(string(resp.Body))
	scriptUnknown := resp.Status == 404 && strings.Contains(string(resp.Stderr), "Primary script unknown")
	switch r.Method {
	case MethodPing:
		want := o.PingResponse
		if want == "" {
			want = DefaultPingResponse
		}
		switch {
		case scriptUnknown:
			return r.unhealthy("ping-not-configured", fmt.Sprintf("the pool answered, but %s is not its ping.path (php-fpm looked for a script)", o.PingPath))
		case resp.Status != 200:
			return r.unhealthy("error-status", fmt.Sprintf("ping %s answered status %d", o.PingPath, resp.Status))
		case body != strings.TrimSpace(want):
			return r.unhealthy("unexpected-response", fmt.Sprintf("ping %s answered %q, want %q (ping.response)", o.PingPath, trim(body, 80), want))
		}
		return r.healthy(fmt.Sprintf("ping %s answered %q", o.PingPath, body))
	case MethodStatus:
		switch {
		case scriptUnknown:
			return r.unhealthy("status-not-configured", fmt.Sprintf("the pool answered, but %s is not its pm.status_path (php-fpm looked for a script)", o.StatusPath))
		case resp.Status != 200:
			return r.unhealthy("error-status", fmt.Sprintf("status page %s answered status %d", o.StatusPath, resp.Status))
		}
		st, err := ParseStatus(resp.Body)
		if err != nil {
			return r.unhealthy("unexpected-response", err.Error())
		}
		r.Status = st
		if problems := o.Thresholds.check(st); len(problems) > 0 {
			r.Problems = problems
			return r.unhealthy("threshold", strings.Join(problems, "; "))
		}
		return r.healthy(fmt.Sprintf("status %s: pool %s, %d active, %d idle, listen queue %d", o.StatusPath, st.Pool, st.ActiveProcesses, st.IdleProcesses, st.ListenQueue))
	default:
		switch {
		case scriptUnknown:
			return r.healthy("a worker answered 404 \"Primary script unknown\" for " + script)
		case resp.Status >= 500:
			return r.unhealthy("error-status", fmt.Sprintf("status %d for a missing script", resp.Status))
		}
		return r.unhealthy("unexpected-response", fmt.Sprintf("status %d for %s, want 404 \"Primary script unknown\"", resp.Status, script))
	}
}

func (t Thresholds) check(s *Status) []string {
	var p []string
	if t.MaxListenQueue != nil && s.ListenQueue > *t.MaxListenQueue {
		p = append(p, fmt.Sprintf("listen queue %d > %d", s.ListenQueue, *t.MaxListenQueue))
	}
	if t.MinIdle != nil && s.IdleProcesses < *t.MinIdle {
		p = append(p, fmt.Sprintf("idle processes %d < %d", s.IdleProcesses, *t.MinIdle))
	}
	if t.MaxActive != nil && s.ActiveProcesses > *t.MaxActive {
		p = append(p, fmt.Sprintf("active processes %d > %d", s.ActiveProcesses, *t.MaxActive))
	}
	return p
}

// failed classifies an exchange that did not complete.
func (r Result) failed(err error, o Options) Result {
	r.Err = err
	var (
		ce *fastcgi.ConnectError
		te *fastcgi.TimeoutError
		cl *fastcgi.ClosedError
		ee *fastcgi.EndRequestError
		pe *fastcgi.ProtocolError
		ie *IdentityError
	)
	who := ""
	if r.AsUser != "" {
		who = " as " + r.AsUser
	}
	switch {
	case errors.As(err, &ie):
		r.Verdict, r.Reason, r.Detail = VerdictError, "identity-failed", err.Error()
	case errors.As(err, &ce):
		r.Verdict, r.Errno = VerdictUnreachable, ce.Errno.Error()
		switch ce.Errno {
		case syscall.ENOENT:
			r.Reason, r.Detail = "no-socket", fmt.Sprintf("connect%s: no such socket file (2: No such file or directory): php-fpm is not running or listens elsewhere", who)
		case syscall.ECONNREFUSED:
			r.Reason, r.Detail = "refused", fmt.Sprintf("connect%s: nothing listens there (111: Connection refused)", who)
		case syscall.EACCES, syscall.EPERM:
			r.Reason, r.Detail = "permission-denied", fmt.Sprintf("connect%s: permission denied (13: Permission denied): socket mode/owner or a parent directory", who)
		case syscall.EAGAIN:
			r.Reason, r.Detail = "backlog-full", fmt.Sprintf("connect%s: the socket's listen backlog is full (11: Resource temporarily unavailable)", who)
		default:
			r.Reason, r.Detail = "connect-failed", err.Error()
		}
		if ce.Errno == 0 {
			r.Errno = ""
		}
	case errors.As(err, &te):
		switch te.Phase {
		case fastcgi.PhaseConnect:
			r.Verdict, r.Reason = VerdictUnreachable, "connect-timeout"
			r.Detail = fmt.Sprintf("connect did not complete within %s (TCP backlog full, or packets dropped)", te.Limit)
		case fastcgi.PhaseFirstByte:
			r.Verdict, r.Reason = VerdictSaturated, "saturated"
			r.Detail = fmt.Sprintf("the connection was accepted but no worker answered within %s: every worker is busy", te.Limit)
		default:
			r.Verdict, r.Reason, r.Detail = VerdictFailed, string(te.Phase)+"-timeout", err.Error()
		}
	case errors.As(err, &cl):
		r.Verdict, r.Reason = VerdictFailed, "early-close"
		r.Detail = fmt.Sprintf("the connection closed before the end of the response (%s phase: %v): a worker died, php-fpm stopped, or it dropped the client (listen.allowed_clients)", cl.Phase, cl.Err)
	case errors.As(err, &ee):
		r.Verdict, r.Reason, r.Detail = VerdictUnhealthy, "request-refused", fmt.Sprintf("php-fpm refused the request: %s", ee.ProtocolStatus)
	case errors.As(err, &pe) && pe.Head != nil:
		// A wrong version in the very header is not a broken php-fpm but
		// another protocol: nginx logs it as "upstream sent unsupported
		// FastCGI protocol version: 72" (72 is the 'H' of "HTTP/1.1").
		r.Verdict, r.Reason = VerdictFailed, "not-fastcgi"
		r.Detail = fmt.Sprintf("the server does not speak FastCGI: it answered %s (FastCGI version byte %d, want 1)%s", quoteHead(pe.Head), pe.Head[0], notFastCGIKind(pe.Head))
	case errors.As(err, &pe):
		r.Verdict, r.Reason, r.Detail = VerdictFailed, "protocol-error", err.Error()
	default:
		r.Verdict, r.Reason, r.Detail = VerdictFailed, "error", err.Error()
	}
	return r
}

// quoteHead shows the first bytes of a foreign answer: text as text
// ("HTTP/1.1"), anything else in hex.
func quoteHead(b []byte) string {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\r' && c != '\n' {
			return fmt.Sprintf("bytes % x", b)
		}
	}
	return strconv.Quote(string(b))
}

// notFastCGIKind names the kind of server the first bytes betray.
func notFastCGIKind(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("HTTP/")):
		return ": an HTTP server"
	case bytes.HasPrefix(b, []byte("SSH-")):
		return ": an SSH server"
	case len(b) > 0 && (b[0] == '-' || b[0] == '+'):
		return ": a Redis-like server"
	}
	return ""
}
