package logscan

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
	"unsafe"
)

// A php-fpm slowlog (request_slowlog_timeout) is a series of blocks the
// master writes after stopping a slow worker with ptrace
// (fpm_php_trace.c), each one line of head, the script and up to
// request_slowlog_trace_depth frames, innermost first:
//
//	(empty line)
//	[04-Dec-2026 11:09:32]  [pool www] pid 21916
//	script_filename = /var/www/shop/slow.php
//	[0x00007fa10fc15200] usleep() /var/www/shop/slow.php:3
//	[0x00007fa10fc15170] wait_for_backend() /var/www/shop/slow.php:6
//
// A frame names a function and the place it was called from, so the
// first frame is what the request was waiting in and the second frame's
// function is the code that called it. When a read of the worker's
// memory fails midway the master appends "+++ dump failed", after a
// whole line or right after a frame's "name()". Several masters sharing
// one file, a disk filling up or a rotation can leave blocks cut short or
// lines of one block inside another: the reader keeps what each block
// says and never joins lines of two heads.

// maxSlowFrames bounds the frames kept per entry (php-fpm's default depth
// is 20, and it may be raised); deeper frames are counted as cut.
const maxSlowFrames = 64

// SlowEntry is one slow request php-fpm logged in its slowlog.
type SlowEntry struct {
	Time   time.Time
	Pool   string
	PID    int
	Script string  // script_filename, "" when the dump failed before it
	Frames []Frame // innermost first
	// DumpFailed: php-fpm wrote "+++ dump failed": the trace is incomplete.
	DumpFailed bool
	// Truncated: the block ended before php-fpm's last line of it (another
	// block's head, the end of the file, our frame cap, a cut line).
	Truncated bool
	File      string
	Offset    int64 // byte offset of the head line in the (uncompressed) stream
	Line      int64 // 1-based line of the head, 0 when unknown (after a seek)
}

// Frame is one line of a slowlog trace: Func was called at File:Line.
// File is "unknown" and Line 0 for internal callers; Func is "???" when
// php-fpm could not read it and "[INCLUDE_OR_EVAL]" for include/eval.
type Frame struct {
	Func string
	File string
	Line int
}

// Top is the frame the request was waiting in, or nil without frames.
func (e *SlowEntry) Top() *Frame {
	if len(e.Frames) == 0 {
		return nil
	}
	return &e.Frames[0]
}

// Caller is the function the top frame was called from ("" when the top
// frame is the script's main code or unknown).
func (e *SlowEntry) Caller() string {
	if len(e.Frames) < 2 {
		return ""
	}
	return e.Frames[1].Func
}

// SlowFunc receives each slowlog entry; the entry owns its strings.
type SlowFunc func(e *SlowEntry) error

// ScanSlowlog reads one slowlog file and calls fn for every entry whose
// head time is inside opt.Window. Plain files are searched by time as
// Scan does (the head lines carry php-fpm's timestamp); .gz files are
// streamed and reading stops past the window's end. Only opt's Window,
// Location, Slack and MaxEntry are used.
func ScanSlowlog(ctx context.Context, path string, opt Options, fn SlowFunc) (Stats, error) {
	var st Stats
	f, fi, cr, zr, err := openLog(path, &st)
	if err != nil {
		return st, err
	}
	defer f.Close()
	opt = opt.withDefaults()
	if zr != nil {
		defer zr.Close()
		err = scanSlow(ctx, zr, path, 0, true, opt, fn, &st)
		return st, err
	}
	var start int64
	if !opt.Window.Since.IsZero() && fi.Size() >= seekMinSize {
		loc := opt.Location
		clock := func(b []byte) (int64, bool) {
			t, _, ok := slowHead(string(b[:min(len(b), 48)]), loc)
			return t.Unix(), ok
		}
		start, err = seekTime(ctx, f, fi.Size(), opt.Window.Since.Add(-opt.Slack).Unix(), clock, &st.BytesRead)
		if err != nil {
			return st, fmt.Errorf("logscan: seek in %s: %w", path, err)
		}
	}
	st.StartOffset = start
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return st, fmt.Errorf("logscan: seek in %s: %w", path, err)
	}
	err = scanSlow(ctx, cr, path, start, start == 0, opt, fn, &st)
	return st, err
}

// ScanSlowlogReader reads slowlog entries from a stream.
func ScanSlowlogReader(ctx context.Context, r io.Reader, name string, opt Options, fn SlowFunc) (Stats, error) {
	var st Stats
	opt = opt.withDefaults()
	err := scanSlow(ctx, countingReader{r: r, n: &st.BytesRead}, name, 0, true, opt, fn, &st)
	return st, err
}

// ScanSlowlogRotated reads path and its rotated and .gz siblings in time
// order, skipping files last written before the window (as ScanRotated).
func ScanSlowlogRotated(ctx context.Context, path string, opt Options, fn SlowFunc) (Stats, error) {
	return scanFamily(path, opt, nil, func(name string) (Stats, error) { return ScanSlowlog(ctx, name, opt, fn) })
}

// slowHead parses "[time]  [pool NAME] pid N" (any number of spaces
// between the parts).
func slowHead(s string, loc *time.Location) (t time.Time, rest string, ok bool) {
	t, n, ok := fpmClock(s, loc)
	if !ok {
		return t, "", false
	}
	rest = strings.TrimLeft(s[n:], " ")
	if !strings.HasPrefix(rest, "[pool ") {
		return t, "", false
	}
	return t, rest, true
}

// parseSlowHead fills the pool and pid of a head line's rest
// ("[pool www] pid 1234").
func parseSlowHead(rest string, e *SlowEntry) {
	v := rest[len("[pool "):]
	j := strings.LastIndex(v, "] pid ")
	if j < 0 {
		e.Pool = strings.TrimSuffix(v, "]")
		e.Truncated = true
		return
	}
	e.Pool = v[:j]
	pid, tail, ok := leadingInt(v[j+6:])
	if !ok || strings.TrimSpace(tail) != "" {
		e.Truncated = true
	}
	e.PID = pid
}

// parseFrame reads "[0x00007f…] name() /path/file.php:88". It returns
// dumpFailed when the line ends with php-fpm's "+++ dump failed" marker
// after the name, and complete when the line has its file:line.
func parseFrame(s string) (fr Frame, ok, dumpFailed, complete bool) {
	if !strings.HasPrefix(s, "[0x") {
		return fr, false, false, false
	}
	i := strings.Index(s, "] ")
	if i < 0 {
		return fr, false, false, false
	}
	rest := s[i+2:]
	if name, found := strings.CutSuffix(rest, "()+++ dump failed"); found {
		return Frame{Func: name}, true, true, false
	}
	j := strings.LastIndex(rest, "() ")
	if j < 0 {
		name, found := strings.CutSuffix(rest, "()")
		if !found {
			return fr, false, false, false
		}
		return Frame{Func: name}, true, false, false
	}
	fr.Func = rest[:j]
	loc := rest[j+3:]
	k := strings.LastIndexByte(loc, ':')
	if k < 0 {
		fr.File = loc
		return fr, true, false, false
	}
	n, good := atoi(loc[k+1:])
	if !good {
		fr.File = loc
		return fr, true, false, false
	}
	fr.File, fr.Line = loc[:k], n
	return fr, true, false, true
}

// slowScanner builds entries from lines.
type slowScanner struct {
	opt  Options
	fn   SlowFunc
	file string
	st   *Stats
	win  bounds
	cur  *SlowEntry
	done bool
	// names holds one copy of each script, function, file and pool name
	// seen: lines are read as views of the read buffer, and a busy slowlog
	// repeats the same few names in every block.
	names map[string]string
}

// maxNames bounds the names one scan shares; past it names are copied.
const maxNames = 8192

// keep returns s (a view of the read buffer) as a string of its own.
func (sc *slowScanner) keep(s string) string {
	if v, ok := sc.names[s]; ok {
		return v
	}
	c := strings.Clone(s)
	if len(sc.names) < maxNames {
		sc.names[c] = c
	}
	return c
}

func scanSlow(ctx context.Context, r io.Reader, name string, off int64, fromStart bool, opt Options, fn SlowFunc, st *Stats) error {
	sc := &slowScanner{opt: opt, fn: fn, file: name, st: st, names: map[string]string{}, win: newBounds(opt)}
	w := newLineWalk(ctx, newLineReader(r, off, opt.MaxEntry), name, fromStart, st)
	var err error
	for {
		if w.cancelled() {
			break
		}
		line, loff, cut, ok := w.lr.next()
		if !ok {
			break
		}
		ln := w.counted(cut)
		if sc.cur == nil && !maybeSlowHead(line) {
			continue // outside the window, or stray text: no string made
		}
		// A view, not a copy: line keeps only what it copies with keep.
		s := unsafe.String(unsafe.SliceData(line), len(line))
		if err = sc.line(s, loff, ln, cut); err != nil || sc.done {
			break
		}
	}
	if err == nil && w.err == nil {
		err = sc.flush()
	}
	if sc.done {
		st.Stopped = true
	}
	return w.end(err)
}

// maybeSlowHead is a cheap test that a line may be a block's head
// ("[04-Dec-…"), not a frame ("[0x…").
func maybeSlowHead[T string | []byte](b T) bool {
	return len(b) > 22 && b[0] == '[' && b[1] >= '0' && b[1] <= '3' && b[3] == '-'
}

func (sc *slowScanner) line(s string, off, ln int64, cut bool) error {
	if s == "" {
		return nil
	}
	if maybeSlowHead(s) {
		if t, rest, ok := slowHead(s, sc.opt.Location); ok {
			return sc.head(t, rest, off, ln, cut)
		}
	}
	e := sc.cur
	if e == nil {
		return nil // the rest of a block outside the window, or stray text
	}
	if v, ok := strings.CutPrefix(s, "script_filename = "); ok {
		if e.Script != "" || len(e.Frames) > 0 {
			e.Truncated = true // a second block's line without its head
			return nil
		}
		e.Script = sc.keep(v)
		e.Truncated = e.Truncated || cut
		return nil
	}
	if s == "+++ dump failed" {
		e.DumpFailed = true
		return nil
	}
	fr, ok, dumpFailed, complete := parseFrame(s)
	if !ok {
		// A frame cut before its "()" (the disk filled, a copy of a file
		// being written); other text is not php-fpm's.
		e.Truncated = e.Truncated || strings.HasPrefix(s, "[0x")
		return nil
	}
	if len(e.Frames) >= maxSlowFrames {
		e.Truncated = true
		return nil
	}
	fr.Func, fr.File = sc.keep(fr.Func), sc.keep(fr.File)
	e.Frames = append(e.Frames, fr)
	e.DumpFailed = e.DumpFailed || dumpFailed
	if !complete && !dumpFailed {
		e.Truncated = true
	}
	return nil
}

func (sc *slowScanner) head(t time.Time, rest string, off, ln int64, cut bool) error {
	if err := sc.flush(); err != nil {
		return err
	}
	ts := t.Unix()
	if sc.win.past(ts) {
		sc.done = true
		return nil
	}
	if sc.win.outside(ts) {
		return nil
	}
	// Room for a typical trace at once: growing by appends cost more
	// allocations than the rest of the entry.
	e := &SlowEntry{Time: t, File: sc.file, Offset: off, Line: ln, Truncated: cut, Frames: make([]Frame, 0, 12)}
	parseSlowHead(rest, e)
	e.Pool = sc.keep(e.Pool)
	sc.cur = e
	return nil
}

func (sc *slowScanner) flush() error {
	e := sc.cur
	if e == nil {
		return nil
	}
	sc.cur = nil
	if e.Script == "" && !e.DumpFailed {
		e.Truncated = true
	}
	sc.st.Entries++
	return sc.fn(e)
}
