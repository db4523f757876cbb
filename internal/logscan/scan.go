package logscan

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"
)

// Format selects the parser for a stream.
type Format int

const (
	FormatAuto    Format = iota // decided from the first line
	FormatNginx                 // nginx error_log
	FormatFPM                   // php-fpm error_log (also PHP's error_log lines)
	FormatKernel                // dmesg, kern.log, journalctl -k
	FormatJournal               // journalctl -o json
)

func (f Format) String() string {
	switch f {
	case FormatNginx:
		return "nginx"
	case FormatFPM:
		return "php-fpm"
	case FormatKernel:
		return "kernel"
	case FormatJournal:
		return "journal"
	}
	return "auto"
}

// Window is a time range; a zero bound is open.
type Window struct {
	Since, Until time.Time
}

// DefaultSlack is how far out of order timestamps may be without the seek
// or the early stop losing entries of the window. nginx workers each keep
// their own cached clock, so lines from different workers can be a second
// or two out of order; a minute leaves room for a busy worker.
const DefaultSlack = time.Minute

// DefaultMaxEntry caps one logical entry, continuation lines included.
const DefaultMaxEntry = 64 << 10

// Options controls a scan. The zero value scans everything, auto-detects
// the format and uses time.Local.
type Options struct {
	Format   Format
	Window   Window
	Location *time.Location // zone of nginx and php-fpm timestamps; nil is time.Local
	// Slack is the tolerated disorder of timestamps (DefaultSlack when 0,
	// none when negative). Guarantee: if no line is more than Slack older
	// than a line before it, seeking to Since and stopping after Until
	// never drop an entry inside the window. Larger disorder (a clock
	// stepped back) may lose entries near the edges, never crash.
	Slack time.Duration
	// All delivers unclassified entries too, with Kind KindOther.
	All bool
	// MaxEntry caps a logical entry in bytes (DefaultMaxEntry when 0).
	MaxEntry int
	// Now is the reference for syslog timestamps without a year; zero means
	// time.Now().
	Now time.Time
}

// Stats tells what a scan did.
type Stats struct {
	Files       int   // files opened
	Size        int64 // total size of those files on disk
	BytesRead   int64 // bytes read from disk (compressed bytes for .gz), seek probes included
	StartOffset int64 // where reading began in the last plain file (after seeking)
	Lines       int64 // physical lines looked at
	Entries     int64 // entries delivered to the callback
	Cut         int64 // lines or entries cut by MaxEntry
	Stopped     bool  // reading stopped early because the window's end was passed
}

func (s *Stats) add(o Stats) {
	s.Files += o.Files
	s.Size += o.Size
	s.BytesRead += o.BytesRead
	s.StartOffset = o.StartOffset
	s.Lines += o.Lines
	s.Entries += o.Entries
	s.Cut += o.Cut
	s.Stopped = s.Stopped || o.Stopped
}

// ErrStop may be returned by a callback to end a scan early without error.
var ErrStop = errors.New("logscan: stop")

// Func receives each entry. The entry and its strings are only valid until
// fn returns: they may point into a read buffer that the scan reuses, the
// way bufio.Scanner.Bytes does, because copying every entry cost more than
// classifying it. Keep an entry with e.Clone().
type Func func(e *Entry) error

// seekMinSize: below this a plain file is read from the start; a seek
// would save nothing.
const seekMinSize = 1 << 20

// openLog opens one log for a scan and counts it in st (files, size; the
// returned reader counts the bytes read). For a .gz file zr is the stream
// to read instead; the caller closes both.
func openLog(path string, st *Stats) (f *os.File, fi os.FileInfo, cr countingReader, zr *gzip.Reader, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, nil, cr, nil, fmt.Errorf("logscan: open %s: %w", path, err)
	}
	if fi, err = f.Stat(); err != nil {
		f.Close()
		return nil, nil, cr, nil, fmt.Errorf("logscan: stat %s: %w", path, err)
	}
	st.Files, st.Size = 1, fi.Size()
	cr = countingReader{r: f, n: &st.BytesRead}
	if strings.HasSuffix(path, ".gz") {
		if zr, err = gzip.NewReader(cr); err != nil {
			f.Close()
			return nil, nil, cr, nil, fmt.Errorf("logscan: %s: %w", path, err)
		}
	}
	return f, fi, cr, zr, nil
}

// Scan reads one log file and calls fn for every classified entry inside
// opt.Window. Plain files are searched by time first, so a short window at
// the end of a huge file costs a few probes, not a full read; .gz files
// are streamed and reading stops once past the window's end. Long nginx
// scans use every CPU, and read big plain files through a memory mapping
// (see scanMapped); a file truncated meanwhile ends the scan with an error.
func Scan(ctx context.Context, path string, opt Options, fn Func) (Stats, error) {
	var st Stats
	f, fi, cr, zr, err := openLog(path, &st)
	if err != nil {
		return st, err
	}
	defer f.Close()
	opt = opt.withDefaults()
	if zr != nil {
		defer zr.Close()
		err = scanStream(ctx, zr, path, 0, true, opt, fn, &st)
		return st, err
	}

	format := opt.Format
	if format == FormatAuto {
		format = detectFormat(f, &st.BytesRead)
	}
	opt.Format = format
	var start int64
	if !opt.Window.Since.IsZero() && fi.Size() >= seekMinSize && (format == FormatNginx || format == FormatFPM) {
		start, err = seekTime(ctx, f, fi.Size(), opt.Window.Since.Add(-opt.Slack).Unix(), headClock(format, opt.Location), &st.BytesRead)
		if err != nil {
			return st, fmt.Errorf("logscan: seek in %s: %w", path, err)
		}
	}
	st.StartOffset = start
	if canMap(fi, start, opt) {
		if mapped, err := scanMapped(ctx, f, fi.Size(), start, path, opt, fn, &st); mapped {
			return st, err
		}
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return st, fmt.Errorf("logscan: seek in %s: %w", path, err)
	}
	err = scanStream(ctx, cr, path, start, start == 0, opt, fn, &st)
	return st, err
}

// ScanReader scans a stream that cannot seek (a pipe, journalctl's output).
func ScanReader(ctx context.Context, r io.Reader, name string, opt Options, fn Func) (Stats, error) {
	var st Stats
	opt = opt.withDefaults()
	cr := countingReader{r: r, n: &st.BytesRead}
	err := scanStream(ctx, cr, name, 0, true, opt, fn, &st)
	return st, err
}

func (o Options) withDefaults() Options {
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Slack == 0 {
		o.Slack = DefaultSlack
	} else if o.Slack < 0 {
		o.Slack = 0
	}
	if o.MaxEntry <= 0 {
		o.MaxEntry = DefaultMaxEntry
	}
	if o.MaxEntry < 4096 {
		o.MaxEntry = 4096
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return o
}

// detectFormat looks at the first bytes of f and rewinds it.
func detectFormat(f *os.File, n *int64) Format {
	buf := make([]byte, 4096)
	k, _ := f.ReadAt(buf, 0)
	*n += int64(k)
	return detectFormatBytes(buf[:k])
}

func detectFormatBytes(b []byte) Format {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		switch {
		case isNginxHead(line):
			return FormatNginx
		case line[0] == '{':
			return FormatJournal
		}
		if _, _, ok := fpmClock(string(line[:min(len(line), 64)]), time.UTC); ok {
			return FormatFPM
		}
		if _, _, ok := cutFPMLevel(string(line[:min(len(line), 16)])); ok {
			return FormatFPM
		}
		return FormatKernel
	}
	return FormatNginx
}

// headClock returns a function reading the Unix time of a head line of the
// given format, for the seek.
func headClock(f Format, loc *time.Location) func([]byte) (int64, bool) {
	var mc minuteCache
	mc.loc = loc
	if f == FormatFPM {
		return func(b []byte) (int64, bool) {
			t, _, ok := fpmClock(string(b[:min(len(b), 48)]), loc)
			return t.Unix(), ok
		}
	}
	return func(b []byte) (int64, bool) {
		if !isNginxHead(b) {
			return 0, false
		}
		y, mo, d, h, mi, s, ok := nginxClock(b)
		if !ok {
			return 0, false
		}
		return mc.unix(y, mo, d, h, mi, s), true
	}
}

// scanner turns lines into entries.
type scanner struct {
	opt  Options
	fn   Func
	file string
	st   *Stats
	mc   minuteCache
	win  bounds

	pend   []byte // the pending nginx entry, capped at MaxEntry
	pendOn bool
	// When the lines come from one in-memory chunk (src), a pending entry
	// that lies there verbatim (continuation lines joined by a bare "\n",
	// nothing cut) is kept as src[pendStart:pendEnd] and never copied.
	src        []byte
	srcOff     int64 // stream offset of src[0]
	pendDirect bool
	// copyOut, when set, receives the text of every entry: src is a file
	// mapping that only this goroutine may touch.
	copyOut   *[]byte
	pendMsg   int // where the message starts in the head line, -1 when not looked for
	pendStart int
	pendEnd   int
	pendCut   bool
	pendOff   int64
	pendLine  int64
	pendTime  int64
	lastTime  time.Time // for lines without their own time
	lineKnown bool
	cur       Entry
	done      bool
	// sink, when set, receives entries instead of fn: nginx entries are
	// parsed straight into their slot, saving a copy of the large Entry.
	sink *[]Entry
}

func scanStream(ctx context.Context, r io.Reader, name string, off int64, fromStart bool, opt Options, fn Func, st *Stats) error {
	if parallelNginx(opt) {
		return scanParallel(ctx, r, name, off, fromStart, opt, fn, st)
	}
	sc := newScanner(name, fromStart, opt, fn, st)
	lr := newLineReader(r, off, opt.MaxEntry)
	return sc.run(ctx, lr)
}

// parallelNginx reports whether a scan runs on several CPUs: nginx logs
// read to the end (the read-ahead of a few chunks would waste reads on a
// window that ends early), on a machine with more than one.
func parallelNginx(opt Options) bool {
	return opt.Format == FormatNginx && opt.Window.Until.IsZero() && runtime.GOMAXPROCS(0) > 1
}

func newScanner(name string, fromStart bool, opt Options, fn Func, st *Stats) *scanner {
	sc := &scanner{opt: opt, fn: fn, file: name, st: st, lineKnown: fromStart}
	sc.mc.loc = opt.Location
	sc.win = newBounds(opt)
	return sc
}

// run feeds every line of lr to the scanner.
func (sc *scanner) run(ctx context.Context, lr *lineReader) error {
	st, opt := sc.st, sc.opt
	w := newLineWalk(ctx, lr, sc.file, sc.lineKnown, st)
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
		if sc.opt.Format == FormatAuto {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			sc.opt.Format = detectFormatBytes(line)
		}
		switch sc.opt.Format {
		case FormatNginx:
			err = sc.nginxLine(line, loff, ln, cut)
		case FormatFPM:
			err = sc.fpmLine(line, loff, ln, cut)
		case FormatKernel:
			if kernelMaybeRelevant(line) || sc.opt.All {
				e, ok := ParseKernel(string(line), opt.Location, opt.Now)
				if !ok {
					e = Entry{Source: SourceKernel, Raw: string(line), Message: string(line)}
				}
				err = sc.deliver(&e, loff, ln, cut, true)
			}
		case FormatJournal:
			if e, ok := ParseJournal(line, opt.Location); ok {
				err = sc.deliver(&e, loff, ln, cut, false)
			}
		}
		if err == nil && sc.done {
			st.Stopped = true
			break
		}
		if err != nil {
			break
		}
	}
	if err == nil && w.err == nil {
		err = sc.flush()
	}
	return w.end(err)
}

// nginxLine is the hot path: most lines end after a few byte compares.
func (sc *scanner) nginxLine(line []byte, off, ln int64, cut bool) error {
	if !isNginxHead(line) {
		if sc.pendOn {
			if sc.pendDirect {
				start := int(off - sc.srcOff)
				if start == sc.pendEnd+1 && !cut && start+len(line)-sc.pendStart <= sc.opt.MaxEntry {
					sc.pendEnd = start + len(line)
					return nil
				}
				sc.pend = append(sc.pend[:0], sc.src[sc.pendStart:sc.pendEnd]...)
				sc.pendDirect = false
			}
			room := sc.opt.MaxEntry - len(sc.pend) - 1
			switch {
			case room >= len(line) && !cut:
				sc.pend = append(sc.pend, '\n')
				sc.pend = append(sc.pend, line...)
			case room > 0:
				sc.pend = append(sc.pend, '\n')
				sc.pend = append(sc.pend, line[:min(room, len(line))]...)
				sc.pendCut = true
			default:
				sc.pendCut = true
			}
		}
		return nil
	}
	if err := sc.flush(); err != nil {
		return err
	}
	// Without a window the time only matters for relevant lines: test
	// relevance first, it rejects most lines.
	msg := -1
	if !sc.win.windowed() && !sc.opt.All {
		if msg = lineMessageStart(line); !nginxRelevantAt(line, msg) {
			return nil
		}
	}
	y, mo, d, h, mi, s, ok := nginxClock(line)
	if !ok {
		return nil
	}
	ts := sc.mc.unix(y, mo, d, h, mi, s)
	if sc.win.past(ts) {
		sc.done = true
		return nil
	}
	if sc.win.outside(ts) {
		return nil
	}
	if sc.win.windowed() && !sc.opt.All {
		if msg = lineMessageStart(line); !nginxRelevantAt(line, msg) {
			return nil
		}
	}
	sc.pendMsg = msg
	if sc.src != nil {
		sc.pendDirect = true
		sc.pendStart = int(off - sc.srcOff)
		sc.pendEnd = sc.pendStart + len(line)
	} else {
		sc.pend = append(sc.pend[:0], line...)
	}
	sc.pendOn, sc.pendCut = true, cut
	sc.pendOff, sc.pendLine, sc.pendTime = off, ln, ts
	return nil
}

func (sc *scanner) flush() error {
	if !sc.pendOn {
		return nil
	}
	sc.pendOn = false
	var s string
	switch {
	case sc.copyOut != nil && sc.pendDirect:
		s = sc.copyText(sc.src[sc.pendStart:sc.pendEnd])
	case sc.copyOut != nil:
		s = sc.copyText(sc.pend)
	case sc.pendDirect:
		s = unsafe.String(&sc.src[sc.pendStart], sc.pendEnd-sc.pendStart)
	case sc.sink != nil:
		// A chunk's entries wait for delivery while pend is reused; rare:
		// only entries with "\r\n" or cut lines are not verbatim in src.
		s = string(sc.pend)
	default:
		// Delivered right away; valid until the next entry (see Func).
		s = unsafe.String(unsafe.SliceData(sc.pend), len(sc.pend))
	}
	e := &sc.cur
	if sc.sink != nil {
		*sc.sink = append(*sc.sink, Entry{})
		e = &(*sc.sink)[len(*sc.sink)-1]
	} else {
		*e = Entry{}
	}
	if !parseNginxHinted(s, time.Unix(sc.pendTime, 0).In(sc.opt.Location), sc.pendMsg, e) || (e.Kind == KindOther && !sc.opt.All) {
		if sc.sink != nil {
			*e = Entry{} // drop the slot's strings
			*sc.sink = (*sc.sink)[:len(*sc.sink)-1]
		}
		return nil
	}
	if sc.pendCut {
		sc.st.Cut++
	}
	e.Truncated = e.Truncated || sc.pendCut
	e.File, e.Offset, e.Line = sc.file, sc.pendOff, sc.pendLine
	sc.st.Entries++
	if sc.sink != nil {
		return nil
	}
	return sc.fn(e)
}

// copyText copies p to the end of *sc.copyOut and returns it as a string.
// The space never moves once handed out: strings point into it.
func (sc *scanner) copyText(p []byte) string {
	t := *sc.copyOut
	if cap(t)-len(t) < len(p) { // not expected: a chunk's entries fit in its size
		return string(p)
	}
	n := len(t)
	t = append(t, p...)
	*sc.copyOut = t
	return unsafe.String(&t[n], len(p))
}

func (sc *scanner) fpmLine(line []byte, off, ln int64, cut bool) error {
	if len(line) == 0 {
		return nil
	}
	e, ok := ParseFPM(string(line), sc.opt.Location)
	if !ok {
		if !sc.opt.All {
			return nil
		}
		e = Entry{Source: SourceFPM, Raw: string(line), Message: string(line)}
	}
	return sc.deliver(&e, off, ln, cut, true)
}

// deliver applies the window to a single-line entry and passes it on.
// ordered says the stream is in time order, so a time past the window's
// end stops the scan.
func (sc *scanner) deliver(e *Entry, off, ln int64, cut, ordered bool) error {
	if e.Time.IsZero() && !sc.lastTime.IsZero() {
		e.Time, e.TimeInherited = sc.lastTime, true
	}
	// Entries with no time at all (plain dmesg) are kept: Time is zero.
	if !e.Time.IsZero() {
		ts := e.Time.Unix()
		if !e.TimeInherited {
			sc.lastTime = e.Time
			if ordered && sc.win.past(ts) {
				sc.done = true
				return nil
			}
		}
		if sc.win.outside(ts) {
			return nil
		}
	}
	if e.Kind == KindOther && !sc.opt.All {
		return nil
	}
	e.File, e.Offset, e.Line = sc.file, off, ln
	e.Truncated = e.Truncated || cut
	sc.st.Entries++
	if sc.sink != nil {
		*sc.sink = append(*sc.sink, *e)
		return nil
	}
	sc.cur = *e
	return sc.fn(&sc.cur)
}
