package logscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
)

// chunkSize is the unit of parallel work: big enough that hand-off costs
// vanish, small enough that the chunks in flight stay a few MiB.
const chunkSize = 1 << 20

type chunk struct {
	data    []byte
	off     int64 // stream offset of data[0]
	midLine bool  // data starts inside a line longer than a chunk
	// mapped: data is a view of a memory-mapped file, which the consumer
	// must never touch (a file truncated under the mapping faults on
	// access), so entries are copied out into text.
	mapped bool
	text   []byte // copy-out space for the entries of a mapped chunk
	res    chan chunkResult
}

type chunkResult struct {
	entries []Entry
	st      Stats
	err     error
}

// chunkProducer cuts a stream into chunks that start at a head line and
// hands them to emit in stream order, until emit returns false or the
// stream ends. It runs on its own goroutine.
type chunkProducer func(ctx context.Context, emit func(*chunk) bool) error

// scanParallel is scanStream for nginx logs on several CPUs, reading r.
func scanParallel(ctx context.Context, r io.Reader, name string, off int64, fromStart bool, opt Options, fn Func, st *Stats) error {
	// Chunk buffers are recycled once their entries are delivered: the
	// entries point into them.
	free := make(chan []byte, 16)
	produce := func(ctx context.Context, emit func(*chunk) bool) error {
		var left []byte
		mid := false
		for {
			var buf []byte
			select {
			case buf = <-free:
			default:
				buf = make([]byte, chunkSize)
			}
			n := copy(buf, left)
			k, err := io.ReadFull(r, buf[n:])
			n += k
			eof := err == io.EOF || err == io.ErrUnexpectedEOF
			if err != nil && !eof {
				return err
			}
			if n == 0 {
				return nil
			}
			data := buf[:n]
			cut, nextMid := n, false
			if !eof {
				cut, nextMid = cutAtHead(data)
			}
			left = append(left[:0], data[cut:]...)
			if !emit(&chunk{data: data[:cut], off: off, midLine: mid}) {
				return nil
			}
			off += int64(cut)
			mid = nextMid
			if eof {
				return nil // the chunk took everything
			}
		}
	}
	release := func(c *chunk) {
		select {
		case free <- c.data[:cap(c.data)]:
		default:
		}
	}
	return runChunks(ctx, name, fromStart, opt, fn, st, produce, release)
}

// runChunks drives the parallel scan: produce cuts chunks, workers
// classify them, and the caller's goroutine delivers entries in file
// order. At most a fixed number of chunks is in flight, so memory stays
// bounded; the callback is never called concurrently. release gets each
// chunk, in stream order, once its entries are delivered.
func runChunks(ctx context.Context, name string, fromStart bool, opt Options, fn Func, st *Stats, produce chunkProducer, release func(*chunk)) error {
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := min(runtime.GOMAXPROCS(0), 4)
	inFlight := 2 * workers
	order := make(chan *chunk, inFlight)
	work := make(chan *chunk, workers)
	// Entry slices are reused too: growing fresh ones per chunk cost more
	// than classifying. A reused slice may pin a few old entries' strings
	// until overwritten; bounded by the pool size.
	spare := make(chan []Entry, inFlight+workers+2)
	var readErr error

	go func() { // producer
		defer close(work)
		defer close(order)
		readErr = produce(ctx, func(c *chunk) bool {
			c.res = make(chan chunkResult, 1)
			select {
			case order <- c:
			case <-ctx.Done():
				return false
			}
			select {
			case work <- c:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()

	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				var ents []Entry
				select {
				case ents = <-spare:
				default:
				}
				c.res <- scanChunk(ctx, c, name, opt, ents[:0])
			}
		}()
	}

	var err error
	var lineBase int64
	for c := range order {
		if err != nil {
			continue // draining after a stop: the chunk may never reach a worker
		}
		var res chunkResult
		select {
		case res = <-c.res:
		case <-ctx.Done(): // cancelled by the caller: this chunk may never reach a worker
			err = fmt.Errorf("logscan: %s: %w", name, context.Cause(ctx))
			continue
		}
		st.Lines += res.st.Lines
		st.Cut += res.st.Cut
		if res.err != nil {
			err = res.err
			cancel()
			continue
		}
		for i := range res.entries {
			e := &res.entries[i]
			if fromStart {
				e.Line += lineBase
			} else {
				e.Line = 0 // after a seek, line numbers are unknown
			}
			st.Entries++
			if err = fn(e); err != nil {
				cancel()
				break
			}
		}
		lineBase += res.st.Lines
		release(c)
		select {
		case spare <- res.entries:
		default:
		}
		if err == nil && res.st.Stopped {
			st.Stopped = true
			err = ErrStop
			cancel()
		}
	}
	wg.Wait()
	if errors.Is(err, ErrStop) {
		err = nil
	}
	if err == nil && parent.Err() != nil {
		return fmt.Errorf("logscan: %s: %w", name, parent.Err())
	}
	if err == nil && readErr != nil {
		return readErrf(name, readErr)
	}
	return err
}

// cutAtHead returns where to end a chunk: just after the last newline that
// is followed by a head line, else after the last newline (a run of
// continuation lines longer than a chunk), else the whole buffer, in which
// case the next chunk starts inside a line.
func cutAtHead(data []byte) (cut int, midLine bool) {
	end := len(data)
	lastNL := -1
	for end > 0 {
		i := bytes.LastIndexByte(data[:end], '\n')
		if i < 0 {
			break
		}
		if lastNL < 0 {
			lastNL = i
		}
		if len(data)-(i+1) >= 22 && isNginxHead(data[i+1:]) {
			return i + 1, false
		}
		end = i
	}
	if lastNL >= 0 {
		return lastNL + 1, false
	}
	return len(data), true
}

// scanChunk classifies one chunk; entries keep chunk-relative line numbers.
func scanChunk(ctx context.Context, c *chunk, name string, opt Options, ents []Entry) (res chunkResult) {
	res.entries = ents
	var st Stats
	sc := newScanner(name, true, opt, nil, &st)
	sc.sink = &res.entries
	sc.src, sc.srcOff = c.data, c.off
	if c.mapped {
		sc.copyOut = &c.text
		defer func() {
			if res.err == errFileChanged {
				res.err = fmt.Errorf("logscan: %s: %w", name, errFileChanged)
			}
		}()
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer recoverFault(&res.err)
	}
	lr := newBytesLineReader(c.data, c.off, opt.MaxEntry)
	lr.skipping = c.midLine
	res.err = sc.run(ctx, lr)
	res.st = st
	return res
}
