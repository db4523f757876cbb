// Package fastcgi is a strict, single-request FastCGI client for talking to
// php-fpm the way nginx does: one request per connection (keep-conn off, so
// no worker is pinned), a deadline on every phase, stdout and stderr kept
// apart, and the end-request record checked. Anything short of a complete
// END_REQUEST with REQUEST_COMPLETE is an error, never a success.
//
// The wire format follows the FastCGI 1.0 specification. Where the spec
// leaves room, the reader is as strict as nginx's fastcgi module, because a
// response nginx rejects is a 502 for the user.
package fastcgi

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Record types (FastCGI 1.0, section 8).
const (
	typeBeginRequest    uint8 = 1
	typeAbortRequest    uint8 = 2
	typeEndRequest      uint8 = 3
	typeParams          uint8 = 4
	typeStdin           uint8 = 5
	typeStdout          uint8 = 6
	typeStderr          uint8 = 7
	typeData            uint8 = 8
	typeGetValues       uint8 = 9
	typeGetValuesResult uint8 = 10
	typeUnknownType     uint8 = 11
)

const (
	version1      = 1
	headerLen     = 8
	maxContentLen = 65535
	roleResponder = 1
	// requestID is the only request we ever send on a connection. Zero is
	// reserved for management records.
	requestID = 1
	// flagKeepConn is deliberately never set: the server closes the
	// connection after END_REQUEST, so a probe cannot hold a worker.
	flagKeepConn = 1
	// maxNameValueLen is the largest length the 4-byte encoding can carry.
	maxNameValueLen = 1<<31 - 1
)

// ProtocolStatus is the protocolStatus field of END_REQUEST.
type ProtocolStatus uint8

// Protocol status values (FastCGI 1.0, section 5.5).
const (
	RequestComplete ProtocolStatus = 0
	CantMpxConn     ProtocolStatus = 1
	Overloaded      ProtocolStatus = 2
	UnknownRole     ProtocolStatus = 3
)

func (s ProtocolStatus) String() string {
	switch s {
	case RequestComplete:
		return "REQUEST_COMPLETE"
	case CantMpxConn:
		return "CANT_MPX_CONN"
	case Overloaded:
		return "OVERLOADED"
	case UnknownRole:
		return "UNKNOWN_ROLE"
	}
	return fmt.Sprintf("protocol status %d", uint8(s))
}

// header is the fixed 8-byte record header.
type header struct {
	Version       uint8
	Type          uint8
	RequestID     uint16
	ContentLength uint16
	PaddingLength uint8
}

func (h header) encode(b []byte) {
	b[0] = h.Version
	b[1] = h.Type
	binary.BigEndian.PutUint16(b[2:4], h.RequestID)
	binary.BigEndian.PutUint16(b[4:6], h.ContentLength)
	b[6] = h.PaddingLength
	b[7] = 0
}

func decodeHeader(b []byte) header {
	return header{
		Version:       b[0],
		Type:          b[1],
		RequestID:     binary.BigEndian.Uint16(b[2:4]),
		ContentLength: binary.BigEndian.Uint16(b[4:6]),
		PaddingLength: b[6],
	}
}

// appendRecord appends one record carrying content (at most maxContentLen
// bytes), padded to a multiple of 8 as the spec recommends.
func appendRecord(dst []byte, typ uint8, content []byte) []byte {
	if len(content) > maxContentLen {
		panic("fastcgi: record content too long") // callers split; a bug if reached
	}
	pad := (8 - len(content)%8) % 8
	var h [headerLen]byte
	header{Version: version1, Type: typ, RequestID: requestID, ContentLength: uint16(len(content)), PaddingLength: uint8(pad)}.encode(h[:])
	dst = append(dst, h[:]...)
	dst = append(dst, content...)
	return append(dst, make([]byte, pad)...)
}

// appendStream appends data as a stream of records of type typ, split at
// maxContentLen, terminated by the empty record that closes a stream.
func appendStream(dst []byte, typ uint8, data []byte) []byte {
	for len(data) > 0 {
		n := min(len(data), maxContentLen)
		dst = appendRecord(dst, typ, data[:n])
		data = data[n:]
	}
	return appendRecord(dst, typ, nil)
}

// appendLength appends a name-value length: one byte below 128, else four
// bytes with the high bit set.
func appendLength(dst []byte, n int) []byte {
	if n < 128 {
		return append(dst, byte(n))
	}
	return binary.BigEndian.AppendUint32(dst, uint32(n)|1<<31)
}

// encodeParams encodes params as FastCGI name-value pairs in sorted name
// order, so a request's bytes are reproducible.
func encodeParams(params map[string]string) ([]byte, error) {
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	size := 0
	for name, value := range params {
		size += 8 + len(name) + len(value)
	}
	b := make([]byte, 0, size)
	for _, name := range names {
		value := params[name]
		if name == "" {
			return nil, errors.New("fastcgi: empty param name")
		}
		if len(name) > maxNameValueLen || len(value) > maxNameValueLen {
			return nil, fmt.Errorf("fastcgi: param %.32q too long", name)
		}
		b = appendLength(b, len(name))
		b = appendLength(b, len(value))
		b = append(b, name...)
		b = append(b, value...)
	}
	return b, nil
}

// decodeParams is the inverse of encodeParams. The client never receives
// params; it exists so tests (and fake servers) can check what was sent.
func decodeParams(b []byte) (map[string]string, error) {
	out := map[string]string{}
	readLen := func() (int, error) {
		if len(b) == 0 {
			return 0, io.ErrUnexpectedEOF
		}
		if b[0]&0x80 == 0 {
			n := int(b[0])
			b = b[1:]
			return n, nil
		}
		if len(b) < 4 {
			return 0, io.ErrUnexpectedEOF
		}
		n := int(binary.BigEndian.Uint32(b) &^ (1 << 31))
		b = b[4:]
		return n, nil
	}
	for len(b) > 0 {
		nl, err := readLen()
		if err != nil {
			return nil, fmt.Errorf("fastcgi: params: name length: %w", err)
		}
		vl, err := readLen()
		if err != nil {
			return nil, fmt.Errorf("fastcgi: params: value length: %w", err)
		}
		if nl > len(b) || vl > len(b)-nl {
			return nil, fmt.Errorf("fastcgi: params: pair longer than record: %w", io.ErrUnexpectedEOF)
		}
		out[string(b[:nl])] = string(b[nl : nl+vl])
		b = b[nl+vl:]
	}
	return out, nil
}

// encodeRequest builds the whole request: BEGIN_REQUEST (responder, keep-conn
// off), PARAMS stream, STDIN stream. It is written in one go so the server
// sees a complete request or nothing.
func encodeRequest(req *Request) ([]byte, error) {
	params, err := encodeParams(req.Params)
	if err != nil {
		return nil, err
	}
	begin := []byte{0, roleResponder, 0, 0, 0, 0, 0, 0} // flags byte (index 2) stays 0: keep-conn off
	// One allocation of the final size: a fresh process pays a page fault
	// for each new size class it touches, so growing by appends costs more
	// than the copying.
	streamSize := func(n int) int { return n + (n/maxContentLen+1)*(headerLen+8) + headerLen + 8 }
	b := make([]byte, 0, 2*headerLen+streamSize(len(params))+streamSize(len(req.Stdin)))
	b = appendRecord(b, typeBeginRequest, begin)
	b = appendStream(b, typeParams, params)
	b = appendStream(b, typeStdin, req.Stdin)
	return b, nil
}

func typeName(t uint8) string {
	names := []string{1: "BEGIN_REQUEST", "ABORT_REQUEST", "END_REQUEST", "PARAMS", "STDIN", "STDOUT", "STDERR", "DATA", "GET_VALUES", "GET_VALUES_RESULT", "UNKNOWN_TYPE"}
	if int(t) < len(names) && t > 0 {
		return names[t]
	}
	return fmt.Sprintf("type %d", t)
}

// trimForError shortens server-supplied text quoted in errors.
func trimForError(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
