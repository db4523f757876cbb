package fastcgi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slack is how late a deadline may fire on a loaded machine (2 CPUs shared
// with other packages' tests saw timers fire over a second late); every test
// that checks a deadline holds the peer for much longer than this.
const slack = 3 * time.Second

// rec builds one raw record with explicit padding, as a scripted server
// would send it.
func rec(typ uint8, id uint16, content string, pad int) []byte {
	var h [headerLen]byte
	header{Version: 1, Type: typ, RequestID: id, ContentLength: uint16(len(content)), PaddingLength: uint8(pad)}.encode(h[:])
	b := append(h[:], content...)
	return append(b, bytes.Repeat([]byte{0xAA}, pad)...) // junk padding must be ignored
}

func endReq(app uint32, status ProtocolStatus) []byte {
	c := make([]byte, 8)
	binary.BigEndian.PutUint32(c, app)
	c[4] = byte(status)
	return rec(typeEndRequest, 1, string(c), 0)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestHeaderRoundTrip(t *testing.T) {
	h := header{Version: 1, Type: typeStdout, RequestID: 0xBEEF, ContentLength: 0xFFFF, PaddingLength: 7}
	var b [headerLen]byte
	h.encode(b[:])
	want := []byte{1, 6, 0xBE, 0xEF, 0xFF, 0xFF, 7, 0}
	if !bytes.Equal(b[:], want) {
		t.Fatalf("encoded % x, want % x", b, want)
	}
	if got := decodeHeader(b[:]); got != h {
		t.Fatalf("decoded %+v, want %+v", got, h)
	}
}

func TestRecordPadding(t *testing.T) {
	for n := range 20 {
		b := appendRecord(nil, typeStdin, bytes.Repeat([]byte{'x'}, n))
		if len(b)%8 != 0 {
			t.Fatalf("content %d: record length %d is not a multiple of 8", n, len(b))
		}
		h := decodeHeader(b)
		if int(h.ContentLength) != n || int(h.PaddingLength) != len(b)-headerLen-n {
			t.Fatalf("content %d: header %+v, total %d", n, h, len(b))
		}
	}
}

func TestParamsLengthEncoding(t *testing.T) {
	cases := []struct {
		n    int
		want []byte
	}{
		{0, []byte{0}},
		{127, []byte{127}},
		{128, []byte{0x80, 0, 0, 128}},
		{70000, []byte{0x80, 0x01, 0x11, 0x70}},
	}
	for _, c := range cases {
		if got := appendLength(nil, c.n); !bytes.Equal(got, c.want) {
			t.Errorf("length %d: % x, want % x", c.n, got, c.want)
		}
	}
}

func TestParamsLongNamesAndValues(t *testing.T) {
	params := map[string]string{
		"SCRIPT_FILENAME":          "/x.php",
		strings.Repeat("N", 127):   "short name-length edge",
		strings.Repeat("M", 128):   strings.Repeat("v", 128),
		"HTTP_X_BIG":               strings.Repeat("b", 200000), // needs several PARAMS records
		"EMPTY":                    "",
		strings.Repeat("L", 70000): "long name",
	}
	wire, err := encodeRequest(&Request{Params: params, Stdin: []byte("body")})
	if err != nil {
		t.Fatal(err)
	}
	got, flags, stdin, err := readRequest(bytes.NewReader(wire))
	if err != nil {
		t.Fatal(err)
	}
	if flags&flagKeepConn != 0 {
		t.Fatal("keep-conn flag is set; a probe must not pin a worker")
	}
	if string(stdin) != "body" {
		t.Fatalf("stdin %q", stdin)
	}
	if len(got) != len(params) {
		t.Fatalf("got %d params, want %d", len(got), len(params))
	}
	for k, v := range params {
		if got[k] != v {
			t.Fatalf("param %.20q: got %d bytes, want %d", k, len(got[k]), len(v))
		}
	}
}

func TestEncodeParamsRejectsEmptyName(t *testing.T) {
	if _, err := encodeParams(map[string]string{"": "x"}); err == nil {
		t.Fatal("empty name accepted")
	}
}

// readRequest is the server half: it reads BEGIN_REQUEST, the PARAMS stream
// and the STDIN stream, checking the framing on the way.
func readRequest(r io.Reader) (params map[string]string, flags byte, stdin []byte, err error) {
	var hb [headerLen]byte
	var paramBytes []byte
	gotBegin, paramsDone := false, false
	for {
		if _, err := io.ReadFull(r, hb[:]); err != nil {
			return nil, 0, nil, err
		}
		h := decodeHeader(hb[:])
		body := make([]byte, int(h.ContentLength)+int(h.PaddingLength))
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, 0, nil, err
		}
		if h.Version != 1 || h.RequestID != requestID {
			return nil, 0, nil, errors.New("bad version or request id")
		}
		content := body[:h.ContentLength]
		switch h.Type {
		case typeBeginRequest:
			if gotBegin || len(content) != 8 || binary.BigEndian.Uint16(content) != roleResponder {
				return nil, 0, nil, errors.New("bad BEGIN_REQUEST")
			}
			gotBegin, flags = true, content[2]
		case typeParams:
			if !gotBegin || paramsDone {
				return nil, 0, nil, errors.New("PARAMS out of order")
			}
			if len(content) == 0 {
				paramsDone = true
				if params, err = decodeParams(paramBytes); err != nil {
					return nil, 0, nil, err
				}
				continue
			}
			paramBytes = append(paramBytes, content...)
		case typeStdin:
			if !paramsDone {
				return nil, 0, nil, errors.New("STDIN before the end of PARAMS")
			}
			if len(content) == 0 {
				return params, flags, stdin, nil
			}
			stdin = append(stdin, content...)
		default:
			return nil, 0, nil, errors.New("unexpected record " + typeName(h.Type))
		}
	}
}

// fakeServer listens on a unix socket and runs serve for each connection
// after reading the request. It returns the socket path.
func fakeServer(t *testing.T, serve func(c net.Conn, params map[string]string)) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fcgi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				params, _, _, err := readRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				serve(c, params)
			}()
		}
	}()
	return path
}

// scripted answers every request with the given bytes, then closes.
func scripted(b []byte) func(net.Conn, map[string]string) {
	return func(c net.Conn, _ map[string]string) { c.Write(b) }
}

func do(t *testing.T, path string, opts Options) (*Response, error) {
	t.Helper()
	c := &Client{Network: "unix", Address: path, Options: opts}
	return c.Do(context.Background(), &Request{Params: map[string]string{"SCRIPT_FILENAME": "/x.php", "REQUEST_METHOD": "GET"}})
}

func TestInterleavedStdoutStderr(t *testing.T) {
	path := fakeServer(t, scripted(cat(
		rec(typeStdout, 1, "Status: 404 Not Found\r\nContent-type: text/html\r\n", 3),
		rec(typeStderr, 1, "Primary script ", 1),
		rec(typeStdout, 1, "\r\nFile not ", 0),
		rec(typeStderr, 1, "unknown", 7),
		rec(typeStdout, 1, "found.\n", 1),
		rec(typeStdout, 1, "", 0),
		rec(typeStderr, 1, "", 0),
		endReq(0, RequestComplete),
	)))
	resp, err := do(t, path, Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 404 || string(resp.Body) != "File not found.\n" || string(resp.Stderr) != "Primary script unknown" {
		t.Fatalf("got status %d body %q stderr %q", resp.Status, resp.Body, resp.Stderr)
	}
	if resp.Header.Get("Content-Type") != "text/html" {
		t.Fatalf("header %v", resp.Header)
	}
	if resp.Timing.Total <= 0 || resp.Timing.Total < resp.Timing.FirstByte {
		t.Fatalf("timing %+v", resp.Timing)
	}
}

func TestReadResponseStatusDefaults(t *testing.T) {
	cases := []struct {
		stdout string
		status int
		body   string
	}{
		{"Content-type: text/plain\r\n\r\npong", 200, "pong"},
		{"Location: /x\n\n", 302, ""},
		{"Status: 503 Busy\nX: y\n\nbusy", 503, "busy"},
		{"\r\nno headers", 200, "no headers"},
	}
	for _, c := range cases {
		resp, err := ReadResponse(bytes.NewReader(cat(rec(typeStdout, 1, c.stdout, 0), endReq(0, 0))), 0, 0)
		if err != nil {
			t.Fatalf("%q: %v", c.stdout, err)
		}
		if resp.Status != c.status || string(resp.Body) != c.body {
			t.Fatalf("%q: status %d body %q", c.stdout, resp.Status, resp.Body)
		}
	}
}

func TestReadResponseAppStatus(t *testing.T) {
	resp, err := ReadResponse(bytes.NewReader(cat(rec(typeStdout, 1, "A: b\r\n\r\n", 0), endReq(255, 0))), 0, 0)
	if err != nil || resp.AppStatus != 255 {
		t.Fatalf("app status %v, err %v", resp.AppStatus, err)
	}
}

func TestEndRequestStatuses(t *testing.T) {
	for _, st := range []ProtocolStatus{CantMpxConn, Overloaded, UnknownRole, 9} {
		path := fakeServer(t, scripted(endReq(1, st)))
		_, err := do(t, path, Options{Timeout: time.Second})
		var ee *EndRequestError
		if !errors.As(err, &ee) || ee.ProtocolStatus != st || ee.AppStatus != 1 {
			t.Fatalf("%s: err %v, want *EndRequestError", st, err)
		}
		if !strings.Contains(err.Error(), st.String()) {
			t.Fatalf("error %q does not name %s", err, st)
		}
	}
}

func TestMalformedResponses(t *testing.T) {
	badVersion := rec(typeStdout, 1, "x", 0)
	badVersion[0] = 2
	shortEnd := rec(typeEndRequest, 1, "1234", 0)
	cases := map[string][]byte{
		"version":          badVersion,
		"request id":       rec(typeStdout, 2, "x", 0),
		"management":       rec(typeUnknownType, 0, "\x09\x00\x00\x00\x00\x00\x00\x00", 0),
		"unknown type":     rec(42, 1, "", 0),
		"end length":       shortEnd,
		"after stdout end": cat(rec(typeStdout, 1, "", 0), rec(typeStdout, 1, "late", 0)),
		"no stdout":        endReq(0, 0),
		"no header end":    cat(rec(typeStdout, 1, "Status: 200\r\nbody", 0), endReq(0, 0)),
		"bad header line":  cat(rec(typeStdout, 1, "garbage line\r\n\r\n", 0), endReq(0, 0)),
		"bad status":       cat(rec(typeStdout, 1, "Status: abc\r\n\r\n", 0), endReq(0, 0)),
	}
	for name, wire := range cases {
		wire = cat(wire, endReq(0, 0)) // a valid end after the fault must not rescue it
		_, err := ReadResponse(bytes.NewReader(wire), 0, 0)
		var pe *ProtocolError
		if !errors.As(err, &pe) {
			t.Errorf("%s: err %v, want *ProtocolError", name, err)
		}
	}
}

func TestEarlyCloseIsAnError(t *testing.T) {
	cases := map[string]struct {
		wire  []byte
		phase Phase
	}{
		"nothing":         {nil, PhaseFirstByte},
		"stdout, no end":  {rec(typeStdout, 1, "Status: 200\r\n\r\nok", 0), PhaseRead},
		"half a header":   {rec(typeStdout, 1, "ok", 0)[:5], PhaseRead},
		"half a record":   {rec(typeStdout, 1, "okokok", 2)[:10], PhaseRead},
		"empty stdout":    {cat(rec(typeStdout, 1, "X: y\r\n\r\n", 0), rec(typeStdout, 1, "", 0)), PhaseRead},
		"stderr then eof": {rec(typeStderr, 1, "PHP Fatal", 0), PhaseRead},
	}
	for name, c := range cases {
		path := fakeServer(t, scripted(c.wire))
		resp, err := do(t, path, Options{Timeout: time.Second})
		var ce *ClosedError
		if !errors.As(err, &ce) {
			t.Fatalf("%s: err %v, want *ClosedError", name, err)
		}
		if ce.Phase != c.phase {
			t.Errorf("%s: phase %q, want %q", name, ce.Phase, c.phase)
		}
		if name == "stderr then eof" && (resp == nil || string(resp.Stderr) != "PHP Fatal") {
			t.Errorf("partial stderr lost: %+v", resp)
		}
	}
}

func TestServerThatNeverAnswers(t *testing.T) {
	// Like a saturated pool: the connection is accepted, the request read,
	// nothing ever comes back.
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	path := fakeServer(t, func(net.Conn, map[string]string) { <-hold })
	start := time.Now()
	_, err := do(t, path, Options{Timeout: 2 * time.Second, FirstByteTimeout: 150 * time.Millisecond})
	elapsed := time.Since(start)
	var te *TimeoutError
	if !errors.As(err, &te) || te.Phase != PhaseFirstByte || te.Limit != 150*time.Millisecond {
		t.Fatalf("err %v, want first-byte timeout of 150ms", err)
	}
	if elapsed > 150*time.Millisecond+slack {
		t.Fatalf("took %s, deadline was 150ms", elapsed)
	}
}

func TestServerThatNeverReads(t *testing.T) {
	// A request too big for the socket buffer to a server that does not
	// read: the write phase must time out.
	dir, _ := os.MkdirTemp("", "fcgi")
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err == nil {
			time.Sleep(10 * time.Second)
			c.Close()
		}
	}()
	c := &Client{Network: "unix", Address: filepath.Join(dir, "s"), Options: Options{Timeout: 2 * time.Second, WriteTimeout: 100 * time.Millisecond}}
	start := time.Now()
	_, err = c.Do(context.Background(), &Request{Stdin: make([]byte, 8<<20)})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Phase != PhaseWrite {
		t.Fatalf("err %v, want write timeout", err)
	}
	if time.Since(start) > 100*time.Millisecond+slack {
		t.Fatalf("took %s", time.Since(start))
	}
}

func TestTrickleCannotBeatTotalDeadline(t *testing.T) {
	// One byte every 20 ms forever: every read makes progress, only the
	// total deadline can stop it.
	path := fakeServer(t, func(c net.Conn, _ map[string]string) {
		wire := rec(typeStdout, 1, strings.Repeat("x", 60000), 0)
		for i := 0; ; i = (i + 1) % len(wire) {
			if _, err := c.Write(wire[i : i+1]); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	start := time.Now()
	_, err := do(t, path, Options{Timeout: 300 * time.Millisecond})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Phase != PhaseRead {
		t.Fatalf("err %v, want read-phase timeout", err)
	}
	if d := time.Since(start); d > 300*time.Millisecond+slack {
		t.Fatalf("took %s past a 300ms total", d)
	}
}

func TestContextCancelStopsExchange(t *testing.T) {
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	path := fakeServer(t, func(net.Conn, map[string]string) { <-hold })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	c := &Client{Network: "unix", Address: path, Options: Options{Timeout: 5 * time.Second}}
	start := time.Now()
	_, err := c.Do(ctx, &Request{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if time.Since(start) > 100*time.Millisecond+slack {
		t.Fatalf("cancel took %s", time.Since(start))
	}
	// A context deadline is a timeout in the phase it hit.
	ctx, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_, err = c.Do(ctx, &Request{})
	var te *TimeoutError
	if !errors.As(err, &te) || te.Phase != PhaseFirstByte {
		t.Fatalf("err %v, want first-byte timeout", err)
	}
	// One that expires during the connect names its own budget, not the
	// client's total.
	c.Options.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	ctx, cancel3 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel3()
	_, err = c.Do(ctx, &Request{})
	if !errors.As(err, &te) || te.Phase != PhaseConnect || te.Limit > 100*time.Millisecond {
		t.Fatalf("err %v (limit %v), want a connect timeout within the context's 100ms", err, te.Limit)
	}
}

func TestHugeStdoutIsCapped(t *testing.T) {
	const total = 5 << 20
	path := fakeServer(t, func(c net.Conn, _ map[string]string) {
		w := bufio.NewWriter(c)
		w.Write(rec(typeStdout, 1, "Content-type: text/plain\r\n\r\n", 0))
		chunk := strings.Repeat("y", maxContentLen)
		for sent := 0; sent < total; sent += maxContentLen {
			w.Write(rec(typeStdout, 1, chunk, 1))
			w.Write(rec(typeStderr, 1, "noise ", 2))
		}
		w.Write(rec(typeStdout, 1, "", 0))
		w.Write(endReq(0, 0))
		w.Flush()
	})
	resp, err := do(t, path, Options{Timeout: 5 * time.Second, MaxStdout: 64 << 10, MaxStderr: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Stdout) != 64<<10 || !resp.StdoutTruncated {
		t.Fatalf("stdout %d bytes, truncated %v", len(resp.Stdout), resp.StdoutTruncated)
	}
	if len(resp.Stderr) != 100 || !resp.StderrTruncated {
		t.Fatalf("stderr %d bytes, truncated %v", len(resp.Stderr), resp.StderrTruncated)
	}
}

func TestConnectErrorsKeepErrno(t *testing.T) {
	dir, _ := os.MkdirTemp("", "fcgi")
	t.Cleanup(func() { os.RemoveAll(dir) })

	_, err := do(t, filepath.Join(dir, "missing.sock"), Options{Timeout: time.Second})
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Errno != syscall.ENOENT || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("missing socket: %v", err)
	}

	// A socket file nobody listens on any more: what a killed php-fpm leaves.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	_, err = do(t, stale, Options{Timeout: time.Second})
	if !errors.As(err, &ce) || ce.Errno != syscall.ECONNREFUSED {
		t.Fatalf("stale socket: %v", err)
	}

	c := &Client{Network: "tcp", Address: "127.0.0.1:1", Options: Options{Timeout: time.Second}}
	_, err = c.Do(context.Background(), &Request{})
	if !errors.As(err, &ce) || ce.Errno != syscall.ECONNREFUSED {
		t.Fatalf("tcp refused: %v", err)
	}
}

func TestCustomDialerConnection(t *testing.T) {
	// The dial hook can hand over a connection made elsewhere.
	server, client := net.Pipe()
	go func() {
		defer server.Close()
		if _, _, _, err := readRequest(server); err != nil {
			return
		}
		server.Write(cat(rec(typeStdout, 1, "\r\npong", 0), endReq(0, 0)))
	}()
	c := &Client{Network: "unix", Address: "/nowhere", Options: Options{Timeout: time.Second,
		Dial: func(context.Context, string, string) (net.Conn, error) { return client, nil }}}
	resp, err := c.Do(context.Background(), &Request{})
	if err != nil || string(resp.Body) != "pong" {
		t.Fatalf("resp %v err %v", resp, err)
	}
	// And a dialer's own *ConnectError is passed through untouched.
	want := &ConnectError{Network: "unix", Address: "/x", Errno: syscall.EACCES, Err: syscall.EACCES}
	c.Options.Dial = func(context.Context, string, string) (net.Conn, error) { return nil, want }
	if _, err := c.Do(context.Background(), &Request{}); err != want {
		t.Fatalf("err %v", err)
	}
}
