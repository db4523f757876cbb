package fastcgi

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
)

// Phase names the part of an exchange an error happened in. A saturated
// pool accepts the connection (the kernel queues it) but no worker ever
// reads it, so it shows up as a timeout in PhaseFirstByte.
type Phase string

// Phases of one exchange, in order.
const (
	PhaseConnect   Phase = "connect"
	PhaseWrite     Phase = "write"
	PhaseFirstByte Phase = "first byte"
	PhaseRead      Phase = "read"
)

// ConnectError is a failed connect. Errno keeps the system error (ENOENT: no
// socket file, ECONNREFUSED: nothing listening, EACCES: permission, EAGAIN:
// a unix socket's backlog is full) so callers can name the cause the way
// nginx's error log does.
type ConnectError struct {
	Network, Address string
	Errno            syscall.Errno // 0 when the failure was not a system call error
	Err              error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("fastcgi: connect to %s: %v", displayAddr(e.Network, e.Address), e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// TimeoutError is a deadline that passed. Limit is the budget that ran out
// (the phase's own timeout, or what was left of the total), Elapsed the time
// since the exchange began.
type TimeoutError struct {
	Phase   Phase
	Limit   time.Duration
	Elapsed time.Duration
	Err     error
}

func (e *TimeoutError) Error() string {
	what := map[Phase]string{
		PhaseConnect:   "connect did not complete",
		PhaseWrite:     "request could not be written",
		PhaseFirstByte: "no response byte arrived",
		PhaseRead:      "response did not complete",
	}[e.Phase]
	return fmt.Sprintf("fastcgi: timeout in %s phase: %s within %s", e.Phase, what, e.Limit)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// Timeout reports true, so TimeoutError satisfies net.Error's test.
func (e *TimeoutError) Timeout() bool { return true }

// ClosedError is a connection the server closed or reset before the
// END_REQUEST record: a worker that died, or php-fpm dropping the client
// (listen.allowed_clients). It is never a success, even when some output
// had arrived.
type ClosedError struct {
	Phase Phase
	Err   error // io.EOF, io.ErrUnexpectedEOF, ECONNRESET, EPIPE
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("fastcgi: connection closed by the server before END_REQUEST (%s phase): %v", e.Phase, e.Err)
}

func (e *ClosedError) Unwrap() error { return e.Err }

// EndRequestError is an END_REQUEST whose protocol status is not
// REQUEST_COMPLETE: the server refused the request.
type EndRequestError struct {
	ProtocolStatus ProtocolStatus
	AppStatus      uint32
}

func (e *EndRequestError) Error() string {
	return fmt.Sprintf("fastcgi: request not completed: %s (app status %d)", e.ProtocolStatus, e.AppStatus)
}

// ProtocolError is a response that breaks the FastCGI or CGI format, one
// nginx would reject with a 502.
type ProtocolError struct {
	Msg string
	// Head is the 8-byte record header that broke the protocol when its
	// version was wrong: the first bytes of a server that does not speak
	// FastCGI ("HTTP/1.1" from an HTTP server).
	Head []byte
}

func (e *ProtocolError) Error() string { return "fastcgi: protocol error: " + e.Msg }

func protoErrorf(format string, args ...any) error {
	return &ProtocolError{Msg: fmt.Sprintf(format, args...)}
}

// errnoOf digs the system error number out of err, or 0.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}

// isClosed reports whether err means the peer went away.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

func displayAddr(network, address string) string {
	if network == "unix" {
		return "unix:" + address
	}
	return address
}
