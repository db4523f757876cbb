package logscan

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

const (
	seekProbe   = 16 << 10 // bytes read per probe
	seekMaxSkip = 1 << 20  // how far a probe looks for a head line before giving up
	seekHeadLen = 48       // bytes a head-line time parser needs
)

// seekTime returns the offset of a head line from which reading finds every
// line with time >= target (target already includes the slack), searching
// by bisection over byte offsets. Each probe reads a few KiB at the middle
// offset, skips to the next line start and parses that line's time.
//
// Out-of-order lines: the search only moves its lower bound to a line whose
// time is before target. When disorder is at most the slack already taken
// off target, every line before such a line is older than the window, so
// nothing inside the window is skipped; a misleading probe can only make
// the search start earlier than needed. Probes that find no parseable head
// (binary garbage, a huge line) move the upper bound down, which is also
// only conservative.
func seekTime(ctx context.Context, f io.ReaderAt, size, target int64, clock func([]byte) (int64, bool), read *int64) (int64, error) {
	buf := make([]byte, seekProbe)
	lo, hi := int64(0), size
	for hi-lo > 2*seekProbe {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		mid := lo + (hi-lo)/2
		off, t, ok, err := nextHead(f, mid, hi, buf, clock, read)
		if err != nil {
			return 0, err
		}
		if !ok {
			hi = mid
			continue
		}
		if t < target {
			lo = off
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// nextHead finds the first head line starting after from (and before
// limit) and returns its offset and time.
func nextHead(f io.ReaderAt, from, limit int64, buf []byte, clock func([]byte) (int64, bool), read *int64) (int64, int64, bool, error) {
	pos := from
	for pos < limit && pos-from < seekMaxSkip {
		n, err := f.ReadAt(buf, pos)
		*read += int64(n)
		if err != nil && err != io.EOF {
			return 0, 0, false, fmt.Errorf("read at %d: %w", pos, err)
		}
		if n == 0 {
			return 0, 0, false, nil
		}
		chunk := buf[:n]
		i := 0
		for {
			j := bytes.IndexByte(chunk[i:], '\n')
			if j < 0 {
				pos += int64(n)
				break
			}
			start := i + j + 1
			if start+seekHeadLen > n && n == len(buf) {
				// The head may continue past this chunk: read again from the newline.
				pos += int64(i + j)
				break
			}
			if pos+int64(start) >= limit {
				return 0, 0, false, nil
			}
			if t, ok := clock(chunk[start:]); ok {
				return pos + int64(start), t, true, nil
			}
			i = start
		}
		if err == io.EOF {
			return 0, 0, false, nil
		}
	}
	return 0, 0, false, nil
}
