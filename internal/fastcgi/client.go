package fastcgi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// DefaultTimeout bounds a whole exchange when Options.Timeout is zero.
const DefaultTimeout = 3 * time.Second

// Request is what the client sends: CGI params and an optional body.
type Request struct {
	// Params are the CGI variables (SCRIPT_FILENAME, SCRIPT_NAME,
	// REQUEST_METHOD, QUERY_STRING, …), sent in name order.
	Params map[string]string
	// Stdin is the request body; usually empty.
	Stdin []byte
}

// DialFunc connects to network/address. Supplying one lets a caller make
// the connection another way, e.g. with another user's credentials.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Options bounds an exchange. Zero values mean "the default": every phase
// timeout defaults to the total, the total to DefaultTimeout. A phase never
// outlives the total, nor the context's deadline.
type Options struct {
	Timeout          time.Duration // the whole exchange, connect included
	ConnectTimeout   time.Duration
	WriteTimeout     time.Duration
	FirstByteTimeout time.Duration // after the write, until the first response byte
	MaxStdout        int           // cap on kept STDOUT bytes (default DefaultMaxStdout)
	MaxStderr        int           // cap on kept STDERR bytes (default DefaultMaxStderr)
	Dial             DialFunc      // nil: a plain net.Dialer
}

func (o Options) total() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

func orTotal(d, total time.Duration) time.Duration {
	if d > 0 && d < total {
		return d
	}
	return total
}

// Client sends one request per connection to a FastCGI server.
type Client struct {
	Network string // "unix" or "tcp"
	Address string // socket path or host:port
	Options Options
}

// Do connects, sends req and reads the whole response under the deadlines
// in c.Options. The error is a *ConnectError, *TimeoutError, *ClosedError,
// *EndRequestError, *ProtocolError or a context error, each saying in which
// phase it happened; when the exchange got as far as reading, the partial
// response is returned alongside the error.
func (c *Client) Do(ctx context.Context, req *Request) (*Response, error) {
	start := time.Now()
	deadline := start.Add(c.Options.total())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// The connect's budget: its own timeout, cut short by the total or
	// the context's deadline.
	connectBy := earliest(start.Add(orTotal(c.Options.ConnectTimeout, c.Options.total())), deadline)
	dialCtx, cancel := context.WithDeadline(ctx, connectBy)
	defer cancel()
	dial := c.Options.Dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	conn, err := dial(dialCtx, c.Network, c.Address)
	if err != nil {
		return nil, c.dialError(ctx, dialCtx, err, start, connectBy.Sub(start))
	}
	defer conn.Close()
	x := exchange{conn: conn, opts: c.Options, start: start, deadline: deadline}
	x.timing.Connect = time.Since(start)
	return x.run(ctx, req)
}

func (c *Client) dialError(ctx, dialCtx context.Context, err error, start time.Time, limit time.Duration) error {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return err // a custom dialer already classified it
	}
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("fastcgi: connect to %s: %w", displayAddr(c.Network, c.Address), ctx.Err())
	}
	// A system error is the connect's own answer, even one that Go calls a
	// timeout: EAGAIN is a unix socket's full backlog, not a slow peer.
	errno := errnoOf(err)
	if dialCtx.Err() != nil || errno == 0 && isTimeout(err) {
		return &TimeoutError{Phase: PhaseConnect, Limit: limit, Elapsed: time.Since(start), Err: err}
	}
	return &ConnectError{Network: c.Network, Address: c.Address, Errno: errno, Err: err}
}

// exchange is the state of one request on one connection.
type exchange struct {
	conn     net.Conn
	opts     Options
	start    time.Time
	deadline time.Time // the total deadline
	phase    Phase
	limit    time.Duration // the budget of the current phase, for errors
	timing   Timing
}

// setPhase enters a phase whose own budget is d (0: only the total applies)
// and arms the connection's deadline for it.
func (x *exchange) setPhase(ctx context.Context, p Phase, d time.Duration, set func(time.Time) error) {
	x.phase = p
	dl := x.deadline
	x.limit = x.opts.total()
	if d > 0 && time.Now().Add(d).Before(dl) {
		dl = time.Now().Add(d)
		x.limit = d
	}
	_ = set(dl)
	if ctx.Err() != nil {
		// The context fired before (or while) we re-armed: keep it fired.
		_ = x.conn.SetDeadline(time.Unix(1, 0))
	}
}

func (x *exchange) run(ctx context.Context, req *Request) (*Response, error) {
	wire, err := encodeRequest(req)
	if err != nil {
		return nil, err
	}
	// Cancelling ctx must unblock any read or write at once.
	stop := context.AfterFunc(ctx, func() { _ = x.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	x.setPhase(ctx, PhaseWrite, x.opts.WriteTimeout, x.conn.SetWriteDeadline)
	writeStart := time.Now()
	if _, err := x.conn.Write(wire); err != nil {
		return nil, x.fail(ctx, err)
	}
	x.timing.Write = time.Since(writeStart)

	x.setPhase(ctx, PhaseFirstByte, x.opts.FirstByteTimeout, x.conn.SetReadDeadline)
	readStart := time.Now()
	fr := &firstByteReader{r: x.conn, first: func() {
		x.timing.FirstByte = time.Since(readStart)
		x.setPhase(ctx, PhaseRead, 0, x.conn.SetReadDeadline)
	}}
	resp, err := ReadResponse(bufio.NewReaderSize(fr, 8<<10), x.opts.MaxStdout, x.opts.MaxStderr)
	x.timing.Total = time.Since(x.start)
	resp.Timing = x.timing
	if err != nil {
		return resp, x.fail(ctx, err)
	}
	return resp, nil
}

// fail turns an I/O error into the typed error for the current phase.
// Protocol-level errors from ReadResponse pass through unchanged.
func (x *exchange) fail(ctx context.Context, err error) error {
	var pe *ProtocolError
	var ee *EndRequestError
	if errors.As(err, &pe) || errors.As(err, &ee) {
		return err
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if errors.Is(ctxErr, context.DeadlineExceeded) {
			return &TimeoutError{Phase: x.phase, Limit: time.Until(x.deadline) + time.Since(x.start), Elapsed: time.Since(x.start), Err: ctxErr}
		}
		return fmt.Errorf("fastcgi: %s phase: %w", x.phase, ctxErr)
	}
	if isTimeout(err) {
		return &TimeoutError{Phase: x.phase, Limit: x.limit, Elapsed: time.Since(x.start), Err: err}
	}
	if isClosed(err) {
		var ce *ClosedError
		if errors.As(err, &ce) {
			err = ce.Err
		}
		return &ClosedError{Phase: x.phase, Err: err}
	}
	return fmt.Errorf("fastcgi: %s phase: %w", x.phase, err)
}

// firstByteReader calls first once, when the first byte arrives, so the
// first-byte deadline can give way to the total one.
type firstByteReader struct {
	r     interface{ Read([]byte) (int, error) }
	first func()
	got   bool
}

func (f *firstByteReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 && !f.got {
		f.got = true
		f.first()
	}
	return n, err
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
