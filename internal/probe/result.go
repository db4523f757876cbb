package probe

import (
	"encoding/json"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/fastcgi"
)

// Verdict is the overall outcome of a probe.
type Verdict string

// Verdicts, each with its exit code (see ExitCode).
const (
	VerdictHealthy     Verdict = "healthy"     // 0: answered as expected, within thresholds
	VerdictUnhealthy   Verdict = "unhealthy"   // 1: answered, but wrongly: error status, threshold, wrong ping response
	VerdictError       Verdict = "error"       // 2: the probe could not be run: usage, identity switch failure
	VerdictUnreachable Verdict = "unreachable" // 3: connect failed: no socket, refused, permission denied, backlog full, timeout
	VerdictSaturated   Verdict = "saturated"   // 4: accepted, but no worker answered before the deadline
	VerdictFailed      Verdict = "failed"      // 5: the exchange broke: early close, protocol error, read timeout
)

// Exit codes for `fpmdoctor probe`; documented in docs/probe.md.
const (
	ExitHealthy     = 0
	ExitUnhealthy   = 1
	ExitUsage       = 2
	ExitUnreachable = 3
	ExitSaturated   = 4
	ExitFailed      = 5
)

// Result is what a probe found. It is evidence for diagnose: Reason is a
// stable token, Detail a sentence for people.
type Result struct {
	Target  Target
	Method  Method
	AsUser  string // the user the connect ran as, when not ourselves
	Verdict Verdict
	// Reason: ok, no-socket, refused, permission-denied, backlog-full,
	// connect-failed, connect-timeout, saturated, write-timeout,
	// read-timeout, early-close, request-refused, protocol-error, not-fastcgi, error,
	// error-status, unexpected-response, ping-not-configured,
	// status-not-configured, threshold, identity-failed, usage.
	Reason     string
	Detail     string
	Errno      string // the connect errno's text, when a connect failed
	Latency    time.Duration
	Timing     fastcgi.Timing
	HTTPStatus int      // from the CGI Status header, when a response came
	Stderr     string   // the FastCGI stderr stream, trimmed
	Status     *Status  // when the status page was read
	Problems   []string // threshold violations
	Err        error    // the underlying error, when the exchange failed
}

// OK reports whether the pool is healthy.
func (r Result) OK() bool { return r.Verdict == VerdictHealthy }

// ExitCode maps the verdict to the command's exit status.
func (r Result) ExitCode() int {
	switch r.Verdict {
	case VerdictHealthy:
		return ExitHealthy
	case VerdictUnhealthy:
		return ExitUnhealthy
	case VerdictUnreachable:
		return ExitUnreachable
	case VerdictSaturated:
		return ExitSaturated
	case VerdictFailed:
		return ExitFailed
	}
	return ExitUsage
}

func (r Result) healthy(detail string) Result {
	r.Verdict, r.Reason, r.Detail = VerdictHealthy, "ok", detail
	return r
}

func (r Result) unhealthy(reason, detail string) Result {
	r.Verdict, r.Reason, r.Detail = VerdictUnhealthy, reason, detail
	return r
}

func (r Result) usage(err error) Result {
	r.Verdict, r.Reason, r.Detail, r.Err = VerdictError, "usage", err.Error(), err
	return r
}

// MarshalJSON writes the stable JSON form used by `probe --format json`.
func (r Result) MarshalJSON() ([]byte, error) {
	type timing struct {
		ConnectMS   float64 `json:"connect_ms"`
		WriteMS     float64 `json:"write_ms"`
		FirstByteMS float64 `json:"first_byte_ms"`
		TotalMS     float64 `json:"total_ms"`
	}
	out := struct {
		Target     string   `json:"target"`
		Method     Method   `json:"method"`
		AsUser     string   `json:"as_user,omitempty"`
		Verdict    Verdict  `json:"verdict"`
		ExitCode   int      `json:"exit_code"`
		Reason     string   `json:"reason"`
		Detail     string   `json:"detail"`
		Errno      string   `json:"errno,omitempty"`
		LatencyMS  float64  `json:"latency_ms"`
		Timing     timing   `json:"timing"`
		HTTPStatus int      `json:"http_status,omitempty"`
		Stderr     string   `json:"stderr,omitempty"`
		Status     *Status  `json:"status,omitempty"`
		Problems   []string `json:"problems,omitempty"`
		Error      string   `json:"error,omitempty"`
	}{
		Target: r.Target.String(), Method: r.Method, AsUser: r.AsUser, Verdict: r.Verdict, ExitCode: r.ExitCode(),
		Reason: r.Reason, Detail: r.Detail, Errno: r.Errno, LatencyMS: ms(r.Latency),
		Timing:     timing{ms(r.Timing.Connect), ms(r.Timing.Write), ms(r.Timing.FirstByte), ms(r.Timing.Total)},
		HTTPStatus: r.HTTPStatus, Stderr: r.Stderr, Status: r.Status, Problems: r.Problems,
	}
	if r.Err != nil {
		out.Error = r.Err.Error()
	}
	return json.Marshal(out)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
