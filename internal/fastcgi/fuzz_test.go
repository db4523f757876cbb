package fastcgi

import (
	"bytes"
	"errors"
	"net/textproto"
	"testing"
)

// FuzzCanonicalKey: parseCGI's canonicalKey names headers exactly as
// textproto.CanonicalMIMEHeaderKey does.
func FuzzCanonicalKey(f *testing.F) {
	for _, s := range []string{"status", "STATUS", "content-TYPE", "x-powered-by", "X-Powered-By", "a--b", "-x", "", "with space", "ümlaut", "x_y", "Location", "www-authenticate", "1a-2b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := canonicalKey(s), textproto.CanonicalMIMEHeaderKey(s); got != want {
			t.Fatalf("canonicalKey(%q) = %q, want %q", s, got, want)
		}
	})
}

// FuzzReadResponse feeds arbitrary bytes to the response reader: it must not
// panic, must stop (the input is finite and every record consumes at least
// its header), must keep output under the caps, and may only succeed with a
// complete END_REQUEST.
func FuzzReadResponse(f *testing.F) {
	f.Add(cat(rec(typeStdout, 1, "Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nFile not found.\n", 1),
		rec(typeStderr, 1, "Primary script unknown", 2), rec(typeStdout, 1, "", 0), endReq(0, 0)))
	f.Add(cat(rec(typeStdout, 1, "Content-type: text/plain\r\n\r\npong", 0), endReq(0, 0)))
	f.Add(endReq(0, Overloaded))
	f.Add(rec(typeStdout, 1, "partial", 0))
	f.Add(rec(typeStdout, 1, string(make([]byte, 300)), 255))
	f.Add([]byte{1, 6, 0, 1, 0xff, 0xff, 0xff, 0})
	const maxOut, maxErr = 4096, 512
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := ReadResponse(bytes.NewReader(data), maxOut, maxErr)
		if resp == nil {
			t.Fatal("nil response")
		}
		if len(resp.Stdout) > maxOut || len(resp.Stderr) > maxErr {
			t.Fatalf("caps exceeded: stdout %d stderr %d", len(resp.Stdout), len(resp.Stderr))
		}
		if err != nil {
			var (
				pe *ProtocolError
				ce *ClosedError
				ee *EndRequestError
			)
			if !errors.As(err, &pe) && !errors.As(err, &ce) && !errors.As(err, &ee) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if resp.ProtocolStatus != RequestComplete || resp.Status < 100 || resp.Header == nil {
			t.Fatalf("success without a complete response: %+v", resp)
		}
		if len(data) < 2*headerLen+8 {
			t.Fatalf("success from %d bytes: too short for STDOUT + END_REQUEST", len(data))
		}
	})
}
