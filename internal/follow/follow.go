// Package follow follows a log file by its path, as `tail -F` does, for
// `fpmdoctor watch`: it delivers every complete line once and in order,
// across the ways logs get rotated.
//
// A Follower is polled: Poll reads what was appended since the last call
// and never waits for data, so the caller owns the schedule (a ticker, and
// optionally Wake's inotify hint). Between polls the follower keeps, per
// open file, its offset, the partial last line and a fingerprint: the up
// to 512 bytes just before the offset. That is more than a log line, so it
// holds a line's time and connection number, which tell otherwise equal
// lines apart. Every read starts with those bytes and its first bytes are
// read again after it, so that a truncation, even one during the read, is
// seen before new bytes are taken for old ones.
//
// Rotations:
//
//   - Rename (logrotate's default `create`, then nginx's USR1 or php-fpm's
//     reopen): the path names another inode. The old file stays open and
//     is read to its end at every Poll, because the writer appends to it
//     until it reopens. The new file is read from its start. Once a Poll
//     sees the new file non-empty the writer has moved on: the old file is
//     read before the new one, so a writer's lines stay in order, and it
//     is closed at the first later Poll that finds nothing new in it. A
//     file deleted and recreated is the same case. A deleted file that
//     nobody recreates stays open and followed, since a writer that holds
//     it still writes there; its disk space is freed when the path has a
//     new file. At most 4 rotated-away files stay open; beyond that the
//     quietest are closed (Stats.Abandoned). When two rotations came
//     between two Polls, the file that had the path in between is found by
//     its rotated name: a sibling newer than the old file's new name by
//     logrotate's naming (path.1 is newer than path.2), modified since the
//     last Poll; it is read from its start, between the two.
//   - Copytruncate (logrotate's `copytruncate`, or `> file`): the same
//     inode is shorter than the offset, or its bytes before the offset no
//     longer match the fingerprint (it grew back past the offset between
//     two polls). Lines appended between the last Poll and the copy are
//     only in the copy. The follower looks for a sibling (path.1,
//     path-20261204, any path.* path-* path_* that is not compressed)
//     modified no earlier than the live file was last seen, whose bytes
//     before the offset match the fingerprint. It reads that copy from the
//     offset to its end, then the live file from 0 (Stats.Recovered). When
//     no sibling matches (the copy was already compressed or removed, or
//     it was a plain truncation), Stats.Unmatched counts it: lines
//     appended since the last Poll may be lost. No line is read twice.
//   - Compressed siblings (.gz, .bz2, .xz, .zst, .lz4, .Z, .zip) are never
//     read: a file is compressed after it is rotated and done.
//
// What cannot be guaranteed, because the file system does not keep it:
//   - copytruncate itself loses the bytes written between its copy and its
//     truncate: they are in neither file.
//   - Two rotations between two Polls: a file created and then deleted
//     between them, or renamed when the old file was deleted, is never
//     seen, and after two truncations the lines written between them are
//     lost. Logs rotate daily and are polled every second or so.
//   - A file that was empty at the last Poll has no fingerprint: when it is
//     copied and truncated before the next Poll, the lines appended in
//     between are lost (the truncation goes unnoticed; nothing is read
//     twice).
//   - A file truncated and rewritten past the offset with the same 512
//     bytes before it is taken as unchanged.
//   - Several writers (nginx workers) reopen at slightly different times.
//     Lines written to the old file after the follower closed it are lost,
//     and lines of the two files are delivered in the order the follower
//     reads them, not in the order they were written.
//   - A line without its '\n' when the follower leaves a file (an old file
//     it closes, a copy it recovered from, a truncated file) is delivered
//     as it is.
//
// Lines are bytes: NUL bytes, invalid UTF-8 and a '\r' before the '\n'
// are delivered untouched. Memory is bounded: a 64 KiB read buffer and, per
// open file, a partial line of at most Options.MaxLine bytes. A Poll makes
// three small allocations (stat results) whatever the number of lines.
//
// A Follower is not safe for concurrent use, except Stats, which may be
// called from any goroutine (a metrics scrape).
package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// DefaultMaxLine is the longest line delivered when Options.MaxLine is 0.
	DefaultMaxLine = 64 << 10
	readSize       = 64 << 10
	fpSize         = 512 // bytes of fingerprint kept before the offset
	// maxOld bounds the rotated-away files kept open: a writer that never
	// reopens, with rotations going on, must not make us hold fds forever.
	maxOld = 4
)

// ErrNotRegular is wrapped by the error of a Poll that finds something
// other than a regular file at the path (a directory, a FIFO, a device).
var ErrNotRegular = errors.New("not a regular file")

// ErrClosed is returned by Poll after Close.
var ErrClosed = errors.New("follower closed")

// Options tune a Follower.
type Options struct {
	// FromStart reads the content the file has when New is called. By
	// default the follower starts at its current end (as tail -F), and a
	// partial last line found there is skipped up to its '\n'. A file that
	// appears later, or replaces the first one, is always read from its
	// start.
	FromStart bool
	// MaxLine is the longest line delivered (default DefaultMaxLine).
	// Longer lines are cut at MaxLine and the rest up to '\n' is skipped;
	// Stats.Cut counts them. Memory stays bounded by it whatever the input.
	MaxLine int
}

// State says whether the path can be followed.
type State int

const (
	StateOK         State = iota // a regular file is at the path
	StateMissing                 // nothing at the path
	StateNotRegular              // a directory, FIFO or device at the path
	StateUnreadable              // the path cannot be opened or read (permission, I/O error)
)

func (s State) String() string {
	switch s {
	case StateOK:
		return "ok"
	case StateMissing:
		return "missing"
	case StateNotRegular:
		return "not a regular file"
	case StateUnreadable:
		return "unreadable"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Stats counts what a follower did since New.
type Stats struct {
	Bytes     int64 // bytes read and consumed, from every file
	Lines     int64 // lines delivered
	Cut       int64 // lines longer than MaxLine, delivered cut
	Renames   int64 // the path named another file, the old one still linked (rename rotation)
	Recreates int64 // the path named another file, the old one deleted
	Truncates int64 // the followed file got shorter or was rewritten (copytruncate, truncate)
	Recovered int64 // truncations whose copy was found and read from the old offset
	Unmatched int64 // truncations with no matching copy: lines appended since the previous Poll may be lost
	Abandoned int64 // rotated-away files closed before the writer was seen to move on (more than 4 kept): later lines in them are lost

	State  State  // of the path at the last Poll
	Inode  uint64 // of the file read at the path (0 when none)
	Offset int64  // bytes of that file read (a partial last line included)
	Open   int    // files open: the current one plus rotated-away ones still read
}

// file is one open log file and where we are in it.
type file struct {
	f        *os.File
	dev, ino uint64
	off      int64  // first byte not consumed
	part     []byte // partial line, at most MaxLine bytes
	skip     bool   // inside a line longer than MaxLine (or begun before we started): drop up to '\n'
	fp       [fpSize]byte
	fpn      int       // valid bytes of fp, which end at off
	mtime    time.Time // modification time when last looked at
	moved    bool      // for a rotated-away file: a Poll saw the writer use the new file
	grew     int64     // for a rotated-away file: the last Poll that read bytes from it (0: none)
	deleted  bool
	copy     bool // a rotated copy read to recover a truncated file's tail
}

// Follower follows one path. See the package documentation.
type Follower struct {
	path    string
	dir     string
	base    string
	maxLine int
	buf     []byte
	cur     *file   // the file at the path, when there is one
	old     []*file // rotated-away files still read, oldest first
	closed  bool
	polls   int64 // Polls begun

	// Wake's inotify watcher (wake_linux.go).
	wake      chan struct{}
	wakeFile  *os.File
	wakeDone  chan struct{}
	wakeTried bool

	st  Stats // owned by Poll
	err error // the error returned while the state stays the same
	mu  sync.Mutex
	pub Stats // copy of st published for Stats()
}

// New follows path (the path, not one inode: rotation is followed). It
// opens the file now, so that by default lines appended after New are the
// ones delivered; an error opening it is returned by the first Poll.
func New(path string, opts Options) *Follower {
	max := opts.MaxLine
	if max <= 0 {
		max = DefaultMaxLine
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f := &Follower{path: path, dir: dir, base: base, maxLine: max}
	cur, state, err := f.open()
	if err != nil {
		f.setErr(state, err)
		return f
	}
	f.cur = cur
	if !opts.FromStart {
		f.startAtEnd(cur)
	}
	f.publish()
	return f
}

// open opens the file at the path without blocking (a FIFO there must not
// hang the caller) and checks that it is a regular file.
func (f *Follower) open() (*file, State, error) {
	h, err := os.OpenFile(f.path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, StateMissing, fmt.Errorf("follow log: %w", err)
		}
		return nil, StateUnreadable, fmt.Errorf("follow log: %w", err)
	}
	fi, err := h.Stat()
	if err != nil {
		h.Close()
		return nil, StateUnreadable, fmt.Errorf("follow log: %w", err)
	}
	if !fi.Mode().IsRegular() {
		h.Close()
		return nil, StateNotRegular, fmt.Errorf("follow log: %s is %s: %w", f.path, fileType(fi.Mode()), ErrNotRegular)
	}
	dev, ino := devIno(fi)
	return &file{f: h, dev: dev, ino: ino, mtime: fi.ModTime()}, StateOK, nil
}

func fileType(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

func devIno(fi fs.FileInfo) (uint64, uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}

// startAtEnd places cur at its end, with the fingerprint of the bytes
// before it, and skips a partial last line.
func (f *Follower) startAtEnd(c *file) {
	fi, err := c.f.Stat()
	if err != nil {
		return // read from the start then; Poll reports the error
	}
	size := fi.Size()
	k := int64(fpSize)
	if size < k {
		k = size
	}
	n, _ := c.f.ReadAt(c.fp[:k], size-k)
	if int64(n) != k {
		return
	}
	c.off, c.fpn = size, int(k)
	c.skip = k > 0 && c.fp[k-1] != '\n'
}

// setErr records the state and returns the error to give the caller: the
// same value as last time while neither the state nor the message change,
// so that the caller can log only changes (err != lastErr).
func (f *Follower) setErr(state State, err error) error {
	f.st.State = state
	if err == nil {
		f.err = nil
		return nil
	}
	if f.err != nil && f.err.Error() == err.Error() {
		return f.err
	}
	f.err = err
	return err
}

// Poll reads everything appended since the last call (across rotations)
// and calls fn once per complete line, in order, without the '\n'. line is
// only valid during the call. A trailing partial line is kept until its
// '\n' arrives. Poll never blocks waiting for data.
//
// The error is for the caller to log once: a missing file, a directory in
// its place, permission denied. While the state stays the same Poll
// returns the same error value, so compare it with the previous one. The
// follower keeps its state and recovers at a later Poll when the file is
// back. Lines may be delivered by a Poll that also returns an error (the
// path is gone, but the file that was there is still read).
func (f *Follower) Poll(ctx context.Context, fn func(line []byte)) error {
	if f.closed {
		return ErrClosed
	}
	defer f.publish()
	f.polls++
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.buf == nil {
		f.buf = make([]byte, fpSize+readSize)
	}
	pathErr := f.checkPath()

	// Size of the file at the path before the old ones are read: bytes up
	// to it were written after the writer left the old files, so reading
	// the old ones first keeps a single writer's lines in order.
	var limit int64 = -1
	var curSize int64
	if f.cur != nil && len(f.old) > 0 {
		fi, err := f.cur.f.Stat()
		if err == nil {
			curSize = fi.Size()
			limit = curSize
		}
	}
	moved := curSize > 0
	for _, o := range f.old {
		n, err := f.drain(ctx, o, -1, fn)
		if err != nil {
			f.dropClosed(fn) // those closed before (ctx cancelled)
			return err
		}
		if n > 0 {
			o.grew = f.polls
		}
		if moved {
			if n == 0 && o.moved {
				o.f = closeFile(o.f)
			}
			o.moved = true
		}
	}
	f.dropClosed(fn)

	if f.cur != nil {
		if err := f.readCur(ctx, limit, fn); err != nil {
			return err
		}
	}
	if pathErr != nil {
		return pathErr
	}
	return f.setErr(StateOK, nil)
}

func closeFile(h *os.File) *os.File {
	if h != nil {
		h.Close()
	}
	return nil
}

// dropClosed removes the old files closed by Poll, delivering a partial
// line they were left with. Beyond maxOld, it closes the ones that have
// been quiet longest (first those never written after the rotation): the
// file a writer still uses is the one that grows.
func (f *Follower) dropClosed(fn func([]byte)) {
	keep := f.old[:0]
	for _, o := range f.old {
		if o.f == nil {
			f.flush(o, fn)
			continue
		}
		keep = append(keep, o)
	}
	clear(f.old[len(keep):])
	f.old = keep
	for len(f.old) > maxOld {
		q := 0
		for i, o := range f.old {
			if o.grew < f.old[q].grew {
				q = i
			}
		}
		f.old[q].f = closeFile(f.old[q].f)
		f.st.Abandoned++
		f.flush(f.old[q], fn)
		f.old = append(f.old[:q], f.old[q+1:]...)
	}
}

// checkPath looks at what the path names now: the file we read, another
// one (rotation), or nothing readable. It returns the error to report.
func (f *Follower) checkPath() error {
	fi, err := os.Stat(f.path)
	if err == nil && f.cur != nil {
		dev, ino := devIno(fi)
		if dev == f.cur.dev && ino == f.cur.ino {
			return f.setErr(StateOK, nil)
		}
	}
	if err != nil {
		state := StateUnreadable
		if errors.Is(err, fs.ErrNotExist) {
			state = StateMissing
		}
		return f.setErr(state, fmt.Errorf("follow log: %w", err))
	}
	// Another file, or the first one: open it. What is opened may differ
	// from what was stat'ed (a rotation in between); only the opened
	// file's identity counts.
	nf, state, err := f.open()
	if err != nil {
		return f.setErr(state, err)
	}
	if f.cur != nil && nf.dev == f.cur.dev && nf.ino == f.cur.ino {
		nf.f.Close()
		return f.setErr(StateOK, nil)
	}
	if f.cur != nil {
		old := f.cur
		if fi, err := old.f.Stat(); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink == 0 {
				old.deleted = true
			}
		}
		if old.deleted {
			f.st.Recreates++
		} else {
			f.st.Renames++
		}
		f.old = append(f.old, old)
		if !old.deleted {
			f.old = append(f.old, f.between(old, nf)...)
		}
	}
	f.cur = nf
	return f.setErr(StateOK, nil)
}

// between finds the files rotated in between two Polls: old was renamed
// (to path.2, say) and the path names nf, but a file that had the path in
// between now is path.1. Those are the siblings newer than old's new name
// by logrotate's naming, modified since old was last seen, and not open.
// They are returned oldest first, to be read from their start.
func (f *Follower) between(old, nf *file) []*file {
	ents, err := os.ReadDir(f.dir)
	if err != nil {
		return nil
	}
	type sib struct {
		name string
		dev  uint64
		ino  uint64
		fi   fs.FileInfo
	}
	var sibs []sib
	oldName := ""
	for _, de := range ents {
		name := de.Name()
		if !isSibling(f.base, name) || !de.Type().IsRegular() {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		dev, ino := devIno(fi)
		if dev == old.dev && ino == old.ino {
			oldName = name
			continue
		}
		sibs = append(sibs, sib{name, dev, ino, fi})
	}
	if oldName == "" {
		return nil // renamed out of the family, or away: nothing to go by
	}
	var out []*file
	var names []string
	for _, s := range sibs {
		if !newerName(f.base, s.name, oldName) || s.fi.ModTime().Before(old.mtime) ||
			f.isOpen(s.dev, s.ino) || (s.dev == nf.dev && s.ino == nf.ino) {
			continue
		}
		h, err := os.OpenFile(filepath.Join(f.dir, s.name), os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		fi, err := h.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			h.Close()
			continue
		}
		if dev, ino := devIno(fi); dev != s.dev || ino != s.ino {
			h.Close() // renamed again since the listing
			continue
		}
		out = append(out, &file{f: h, dev: s.dev, ino: s.ino, mtime: fi.ModTime()})
		names = append(names, s.name)
	}
	// Oldest first: path.2 before path.1.
	sort.Sort(byAge{out, names, f.base})
	f.st.Renames += int64(len(out))
	return out
}

type byAge struct {
	files []*file
	names []string
	base  string
}

func (b byAge) Len() int           { return len(b.files) }
func (b byAge) Less(i, j int) bool { return newerName(b.base, b.names[j], b.names[i]) }
func (b byAge) Swap(i, j int) {
	b.files[i], b.files[j] = b.files[j], b.files[i]
	b.names[i], b.names[j] = b.names[j], b.names[i]
}

// readCur reads the file at the path, up to limit when it is not -1.
func (f *Follower) readCur(ctx context.Context, limit int64, fn func([]byte)) error {
	c := f.cur
	fi, err := c.f.Stat()
	if err != nil {
		return f.setErr(StateUnreadable, fmt.Errorf("follow log: %w", err))
	}
	if _, err := f.drain(ctx, c, limit, fn); err != nil {
		return err
	}
	// Taken before the read: a copy made after the read is newer.
	c.mtime = fi.ModTime()
	return nil
}

// truncated handles a truncated file: recover what was appended before
// the copy from a sibling that matches, then restart at 0.
func (f *Follower) truncated(ctx context.Context, c *file, fn func([]byte)) error {
	f.st.Truncates++
	if c.off > 0 {
		s := f.findCopy(c)
		if s == nil {
			f.st.Unmatched++
		} else {
			f.st.Recovered++
			s.fp, s.fpn = c.fp, c.fpn
			// Not cancelled half-way: the copy's tail is what was appended
			// since the last Poll, and a second attempt would repeat lines.
			_, err := f.drain(context.WithoutCancel(ctx), s, -1, fn)
			s.f.Close()
			c.part, c.skip = s.part, s.skip
			if err != nil {
				return err
			}
		}
		f.flush(c, fn)
	}
	c.off, c.fpn, c.skip = 0, 0, false
	c.part = c.part[:0]
	return nil
}

// findCopy returns the uncompressed sibling of the path that continues
// c's bytes: it has c's fingerprint just before c.off and was modified no
// earlier than c was last seen. It is positioned at c.off and carries c's
// partial line.
func (f *Follower) findCopy(c *file) *file {
	ents, err := os.ReadDir(f.dir)
	if err != nil {
		return nil
	}
	var best *file
	var bestTime time.Time
	var bestName string
	for _, de := range ents {
		name := de.Name()
		if !isSibling(f.base, name) || !de.Type().IsRegular() {
			continue
		}
		p := filepath.Join(f.dir, name)
		h, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		fi, err := h.Stat()
		if err != nil || !fi.Mode().IsRegular() || fi.Size() < c.off || fi.ModTime().Before(c.mtime) {
			h.Close()
			continue
		}
		dev, ino := devIno(fi)
		if f.isOpen(dev, ino) {
			h.Close()
			continue
		}
		var chk [fpSize]byte
		n, _ := h.ReadAt(chk[:c.fpn], c.off-int64(c.fpn))
		if n != c.fpn || !bytes.Equal(chk[:n], c.fp[:c.fpn]) {
			h.Close()
			continue
		}
		// Two matches (an old copy whose start is the same): the newest.
		if best != nil && (fi.ModTime().Before(bestTime) || fi.ModTime().Equal(bestTime) && !newerName(f.base, name, bestName)) {
			h.Close()
			continue
		}
		if best != nil {
			best.f.Close()
		}
		best = &file{f: h, dev: dev, ino: ino, off: c.off, part: c.part, skip: c.skip, copy: true}
		bestTime, bestName = fi.ModTime(), name
	}
	return best
}

func (f *Follower) isOpen(dev, ino uint64) bool {
	if f.cur != nil && f.cur.dev == dev && f.cur.ino == ino {
		return true
	}
	for _, o := range f.old {
		if o.dev == dev && o.ino == ino {
			return true
		}
	}
	return false
}

// newerName tells whether rotated copy a is newer than b by their names:
// base.1 is newer than base.2, base-20261204 than base-20261201, and a
// numbered copy than a dated one.
func newerName(base, a, b string) bool {
	na, okA := rotationNumber(a[len(base):])
	nb, okB := rotationNumber(b[len(base):])
	switch {
	case okA && okB:
		return na < nb
	case okA || okB:
		return okA
	}
	return a > b
}

// rotationNumber reads logrotate's ".N" suffix; ".20261204" is a date.
func rotationNumber(suffix string) (int, bool) {
	if len(suffix) < 2 || len(suffix) > 7 || suffix[0] != '.' {
		return 0, false
	}
	n, err := strconv.Atoi(suffix[1:])
	return n, err == nil && n >= 0
}

// isSibling tells whether name is a rotated, uncompressed copy of base:
// base.1, base-20261204, base.2026-12-04 and the like.
func isSibling(base, name string) bool {
	rest, ok := strings.CutPrefix(name, base)
	if !ok || len(rest) < 2 || (rest[0] != '.' && rest[0] != '-' && rest[0] != '_') {
		return false
	}
	for _, ext := range []string{".gz", ".bz2", ".xz", ".zst", ".lz4", ".Z", ".zip"} {
		if strings.HasSuffix(rest, ext) {
			return false
		}
	}
	return true
}

// drain reads c from its offset up to limit (to its end when -1) and
// delivers its lines. It returns the bytes read. Each read starts with the
// fingerprint's bytes, so a truncation is seen in the read that would
// otherwise take new bytes for the continuation of old ones.
func (f *Follower) drain(ctx context.Context, c *file, limit int64, fn func([]byte)) (int64, error) {
	var total int64
	checked := false // the fingerprint was compared with the file
	retries := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		want := int64(readSize)
		if limit >= 0 && want > limit-c.off {
			// Past the limit, the first read still checks the fingerprint.
			want = max(limit-c.off, 0)
		}
		fpn := c.fpn
		if want == 0 && (checked || fpn == 0) {
			break
		}
		buf := f.buf[:int64(fpn)+want]
		n, err := c.f.ReadAt(buf, c.off-int64(fpn))
		same := n >= fpn && bytes.Equal(buf[:fpn], c.fp[:fpn])
		if same && n > fpn {
			// A truncation during the read can give old bytes first and
			// new ones after: read the start again, now that any such
			// truncation is done, and keep the bytes only if it held.
			var again [2 * fpSize]byte
			k := min(n, fpn+fpSize)
			m, _ := c.f.ReadAt(again[:k], c.off-int64(fpn))
			same = m == k && bytes.Equal(again[:k], buf[:k])
			if !same && fpn == 0 && retries < 3 {
				retries++
				continue // rewritten from its start: read it again
			}
		}
		if !same {
			if err != nil && err != io.EOF {
				return total, f.setErr(StateUnreadable, fmt.Errorf("follow log: read %s: %w", c.f.Name(), err))
			}
			if c.copy {
				return total, nil // a copy that changed under us: leave it
			}
			if err := f.truncated(ctx, c, fn); err != nil {
				return total, err
			}
			checked = false
			continue
		}
		checked = true
		if data := buf[fpn:n]; len(data) > 0 {
			f.consume(c, data, fn)
			c.off += int64(len(data))
			c.setFP(data)
			total += int64(len(data))
			f.st.Bytes += int64(len(data))
		}
		if err != nil || n < len(buf) || want == 0 {
			if err != nil && err != io.EOF {
				return total, f.setErr(StateUnreadable, fmt.Errorf("follow log: read %s: %w", c.f.Name(), err))
			}
			break
		}
	}
	return total, nil
}

// setFP keeps the last fpSize bytes before c.off, data being the bytes
// just consumed.
func (c *file) setFP(data []byte) {
	if len(data) >= fpSize {
		copy(c.fp[:], data[len(data)-fpSize:])
		c.fpn = fpSize
		return
	}
	keep := fpSize - len(data)
	if keep > c.fpn {
		keep = c.fpn
	}
	copy(c.fp[:keep], c.fp[c.fpn-keep:c.fpn])
	copy(c.fp[keep:], data)
	c.fpn = keep + len(data)
}

// consume splits data into lines, completing c's partial line first.
func (f *Follower) consume(c *file, data []byte, fn func([]byte)) {
	max := f.maxLine
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if c.skip {
			if i < 0 {
				return
			}
			data = data[i+1:]
			c.skip = false
			continue
		}
		if i < 0 {
			room := max - len(c.part)
			if len(data) > room {
				c.part = append(c.part, data[:room]...)
				f.st.Cut++
				f.deliver(c.part, fn)
				c.part = c.part[:0]
				c.skip = true
				return
			}
			c.part = append(c.part, data...)
			return
		}
		line := data[:i]
		data = data[i+1:]
		if len(c.part) == 0 {
			if len(line) > max {
				line = line[:max]
				f.st.Cut++
			}
			f.deliver(line, fn)
			continue
		}
		if room := max - len(c.part); len(line) > room {
			line = line[:room]
			f.st.Cut++
		}
		c.part = append(c.part, line...)
		f.deliver(c.part, fn)
		c.part = c.part[:0]
	}
}

func (f *Follower) deliver(line []byte, fn func([]byte)) {
	f.st.Lines++
	fn(line)
}

// flush delivers the partial line of a file the follower leaves.
func (f *Follower) flush(c *file, fn func([]byte)) {
	if len(c.part) > 0 && !c.skip {
		f.deliver(c.part, fn)
	}
	c.part = c.part[:0]
	c.skip = false
}

func (f *Follower) publish() {
	f.st.Inode, f.st.Offset, f.st.Open = 0, 0, len(f.old)
	if f.cur != nil {
		f.st.Inode, f.st.Offset = f.cur.ino, f.cur.off
		f.st.Open++
	}
	f.mu.Lock()
	f.pub = f.st
	f.mu.Unlock()
}

// Stats returns the counters and the current position. It may be called
// from any goroutine, also during a Poll (it then shows the previous one).
func (f *Follower) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pub
}

// Close closes every file the follower holds. Poll returns ErrClosed after.
func (f *Follower) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	errs := []error{f.stopWake()}
	if f.cur != nil {
		errs = append(errs, f.cur.f.Close())
		f.cur = nil
	}
	for _, o := range f.old {
		if o.f != nil {
			errs = append(errs, o.f.Close())
		}
	}
	f.old = nil
	f.buf = nil
	f.publish()
	return errors.Join(errs...)
}
