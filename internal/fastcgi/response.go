package fastcgi

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// Default output caps. A status page with ?full for a few hundred workers
// is well under DefaultMaxStdout; stderr from a probe is one line.
const (
	DefaultMaxStdout = 1 << 20
	DefaultMaxStderr = 64 << 10
)

// Response is one completed FastCGI exchange.
type Response struct {
	// Status is the HTTP status from the CGI "Status:" header; 200 when the
	// header is absent (302 with a Location header), as nginx decides it.
	Status int
	Header textproto.MIMEHeader
	// Body is the CGI output after the header block.
	Body []byte
	// Stdout is the raw STDOUT stream: headers and body.
	Stdout []byte
	// Stderr is the STDERR stream, never mixed into Stdout. php-fpm writes
	// "Primary script unknown" and PHP messages here.
	Stderr []byte
	// The caps in Options were reached; the rest was read and dropped.
	StdoutTruncated, StderrTruncated bool
	AppStatus                        uint32
	ProtocolStatus                   ProtocolStatus
	Timing                           Timing
}

// Timing splits an exchange's latency by phase.
type Timing struct {
	Connect   time.Duration // dial
	Write     time.Duration // writing the request
	FirstByte time.Duration // from the end of the write to the first response byte
	Total     time.Duration // the whole exchange, connect included
}

// ReadResponse reads records for request 1 from r until END_REQUEST and
// returns the parsed response. Memory stays bounded: one record buffer plus
// at most maxStdout and maxStderr bytes of output (<= 0 means the default).
//
// It is strict like nginx: a wrong version or request id, a record type
// other than STDOUT, STDERR or END_REQUEST, output after the end of its
// stream, or a malformed END_REQUEST is a *ProtocolError; EOF before
// END_REQUEST is a *ClosedError; a protocol status other than
// REQUEST_COMPLETE is an *EndRequestError. On those errors the partial
// response is returned too, because what arrived (stderr above all) is
// evidence.
func ReadResponse(r io.Reader, maxStdout, maxStderr int) (*Response, error) {
	if maxStdout <= 0 {
		maxStdout = DefaultMaxStdout
	}
	if maxStderr <= 0 {
		maxStderr = DefaultMaxStderr
	}
	resp := &Response{}
	var (
		hdr                   [headerLen]byte
		buf                   []byte // one record's content and padding; grown to the largest seen
		stdout, stderr        bytes.Buffer
		stdoutDone, stderrEnd bool
	)
	finish := func() {
		resp.Stdout = stdout.Bytes()
		resp.Stderr = stderr.Bytes()
	}
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			finish()
			return resp, readErr(err)
		}
		h := decodeHeader(hdr[:])
		if h.Version != version1 {
			finish()
			return resp, &ProtocolError{Msg: fmt.Sprintf("record version %d, want 1", h.Version), Head: bytes.Clone(hdr[:])}
		}
		if h.RequestID != requestID {
			finish()
			return resp, protoErrorf("%s record for request %d, want %d", typeName(h.Type), h.RequestID, requestID)
		}
		n := int(h.ContentLength) + int(h.PaddingLength)
		if n > cap(buf) {
			buf = make([]byte, max(n, 4<<10))
		}
		body := buf[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			finish()
			return resp, readErr(err)
		}
		content := body[:h.ContentLength]
		switch h.Type {
		case typeStdout:
			if len(content) == 0 {
				stdoutDone = true
				continue
			}
			if stdoutDone {
				finish()
				return resp, protoErrorf("STDOUT data after the end of the stdout stream")
			}
			resp.StdoutTruncated = appendCapped(&stdout, content, maxStdout) || resp.StdoutTruncated
		case typeStderr:
			if len(content) == 0 {
				stderrEnd = true
				continue
			}
			if stderrEnd {
				finish()
				return resp, protoErrorf("STDERR data after the end of the stderr stream")
			}
			resp.StderrTruncated = appendCapped(&stderr, content, maxStderr) || resp.StderrTruncated
		case typeEndRequest:
			finish()
			if len(content) != 8 {
				return resp, protoErrorf("END_REQUEST body is %d bytes, want 8", len(content))
			}
			resp.AppStatus = binary.BigEndian.Uint32(content[0:4])
			resp.ProtocolStatus = ProtocolStatus(content[4])
			if resp.ProtocolStatus != RequestComplete {
				return resp, &EndRequestError{ProtocolStatus: resp.ProtocolStatus, AppStatus: resp.AppStatus}
			}
			return resp, parseCGI(resp)
		default:
			finish()
			return resp, protoErrorf("unexpected %s record from the server", typeName(h.Type))
		}
	}
}

// appendCapped appends as much of p as fits under limit and reports whether
// anything was dropped.
func appendCapped(b *bytes.Buffer, p []byte, limit int) bool {
	room := limit - b.Len()
	if room >= len(p) {
		b.Write(p)
		return false
	}
	if room > 0 {
		b.Write(p[:room])
	}
	return true
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &ClosedError{Phase: PhaseRead, Err: err}
	}
	return err
}

// parseCGI splits resp.Stdout into header and body and sets Status. The CGI
// header block ends at the first empty line; php-fpm uses CRLF, plain LF is
// accepted as nginx does.
func parseCGI(resp *Response) error {
	out := resp.Stdout
	if len(out) == 0 {
		// nginx: "upstream prematurely closed FastCGI stdout" → 502.
		return protoErrorf("END_REQUEST without any STDOUT (no CGI header)")
	}
	end, next := headerEnd(out)
	if end < 0 {
		if resp.StdoutTruncated {
			return protoErrorf("CGI header larger than the stdout cap (%d bytes)", len(out))
		}
		return protoErrorf("STDOUT has no end of CGI header: %q", trimForError(string(out[:min(len(out), 80)])))
	}
	resp.Header = textproto.MIMEHeader{}
	for line := range strings.SplitSeq(string(out[:end]), "\n") {
		if end == 0 {
			break // no header lines at all
		}
		line = strings.TrimSuffix(line, "\r")
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return protoErrorf("malformed CGI header line %q", trimForError(line))
		}
		key := canonicalKey(name)
		resp.Header[key] = append(resp.Header[key], strings.TrimSpace(value))
	}
	resp.Body = out[next:]
	resp.Status = 200
	if s := first(resp.Header["Status"]); s != "" {
		code, err := strconv.Atoi(strings.SplitN(s, " ", 2)[0])
		if err != nil || code < 100 || code > 999 {
			return protoErrorf("bad CGI Status header %q", trimForError(s))
		}
		resp.Status = code
	} else if first(resp.Header["Location"]) != "" {
		resp.Status = 302
	}
	return nil
}

// canonicalKey is textproto.CanonicalMIMEHeaderKey ("content-type" →
// "Content-Type"; a name with a byte outside the token characters stays as
// it is) without its table of common header names, which that function
// builds on its first call: 40 entries, a few page faults, in every probe
// process (FuzzCanonicalKey compares the two).
func canonicalKey(s string) string {
	for i := 0; i < len(s); i++ {
		if !tokenByte(s[i]) {
			return s
		}
	}
	b := []byte(s)
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
		upper = c == '-'
	}
	return string(b)
}

// tokenByte reports whether c may appear in a header name (RFC 7230 tchar).
func tokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// headerEnd finds the empty line ending the header block: it returns the
// offset where the last header line ends and where the body begins, or -1.
func headerEnd(b []byte) (end, body int) {
	switch {
	case bytes.HasPrefix(b, []byte("\n")):
		return 0, 1
	case bytes.HasPrefix(b, []byte("\r\n")):
		return 0, 2
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		// b[i] ends a line; the header block ends if the next line is empty.
		j := i + 1
		if j < len(b) && b[j] == '\r' {
			j++
		}
		if j < len(b) && b[j] == '\n' {
			return i, j + 1
		}
	}
	return -1, 0
}

// String is a one-line summary for logs and error messages.
func (r *Response) String() string {
	return fmt.Sprintf("status %d, %d bytes stdout, %d bytes stderr, %s", r.Status, len(r.Stdout), len(r.Stderr), r.ProtocolStatus)
}
