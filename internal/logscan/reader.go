package logscan

import (
	"bytes"
	"fmt"
	"io"
)

// lineReader splits a stream into lines with a fixed buffer. A line longer
// than max is returned cut to max bytes and the rest is skipped without
// being buffered, so an endless line costs no memory. Returned slices are
// valid until the next call.
type lineReader struct {
	r          io.Reader
	buf        []byte
	start, end int
	off        int64 // stream offset of buf[start]
	max        int
	eof        bool
	err        error
	skipping   bool
	zeroReads  int
}

func newLineReader(r io.Reader, off int64, max int) *lineReader {
	size := 256 << 10
	if size < 2*max {
		size = 2 * max
	}
	return &lineReader{r: r, buf: make([]byte, size), off: off, max: max}
}

// newBytesLineReader splits data in place, without copying it.
func newBytesLineReader(data []byte, off int64, max int) *lineReader {
	return &lineReader{buf: data, end: len(data), off: off, max: max, eof: true}
}

// next returns the next line without its "\n" and without a trailing "\r",
// the stream offset where it starts, and whether it was cut.
func (lr *lineReader) next() (line []byte, off int64, cut, ok bool) {
	for {
		data := lr.buf[lr.start:lr.end]
		if lr.skipping {
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				lr.start += i + 1
				lr.off += int64(i + 1)
				lr.skipping = false
				continue
			}
			lr.off += int64(len(data))
			lr.start, lr.end = 0, 0
			if lr.eof {
				return nil, 0, false, false
			}
			lr.fill()
			continue
		}
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, off = data[:i], lr.off
			lr.start += i + 1
			lr.off += int64(i + 1)
			if i > 0 && line[i-1] == '\r' {
				line = line[:i-1]
			}
			return line, off, false, true
		}
		if len(data) >= lr.max {
			line, off = data[:lr.max], lr.off
			lr.start += lr.max
			lr.off += int64(lr.max)
			lr.skipping = true
			return line, off, true, true
		}
		if lr.eof {
			if len(data) == 0 {
				return nil, 0, false, false
			}
			line, off = data, lr.off
			lr.start = lr.end
			lr.off += int64(len(data))
			if n := len(line); line[n-1] == '\r' {
				line = line[:n-1]
			}
			return line, off, false, true
		}
		lr.fill()
	}
}

func (lr *lineReader) fill() {
	if lr.start > 0 {
		copy(lr.buf, lr.buf[lr.start:lr.end])
		lr.end -= lr.start
		lr.start = 0
	}
	n, err := lr.r.Read(lr.buf[lr.end:])
	lr.end += n
	switch {
	case err == io.EOF:
		lr.eof = true
	case err != nil:
		lr.err, lr.eof = err, true
	case n == 0:
		lr.zeroReads++
		if lr.zeroReads > 100 {
			lr.err, lr.eof = io.ErrNoProgress, true
		}
	default:
		lr.zeroReads = 0
	}
}

// countingReader counts the bytes read from storage, so callers can see
// that a seek avoided reading the whole file.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

func readErrf(name string, err error) error {
	return fmt.Errorf("logscan: read %s: %w", name, err)
}
