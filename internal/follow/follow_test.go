package follow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// logWriter appends numbered lines to a log the way nginx does: through
// an O_APPEND descriptor it keeps until told to reopen the path.
type logWriter struct {
	t    testing.TB
	path string
	f    *os.File
	n    int // lines written
}

// following creates error.log in a fresh directory, with a writer and a
// Follower of it from its end (closed when the test ends): the start of
// most tests here.
func following(t *testing.T) (path string, w *logWriter, f *Follower) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "error.log")
	w = newWriter(t, path)
	f = New(path, Options{})
	t.Cleanup(func() { f.Close() })
	return path, w, f
}

func newWriter(t testing.TB, path string) *logWriter {
	w := &logWriter{t: t, path: path}
	w.reopen()
	t.Cleanup(func() { w.f.Close() })
	return w
}

func (w *logWriter) reopen() {
	if w.f != nil {
		w.f.Close()
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	w.f = f
}

// line is the text of line i: unique, so that a line read twice or out of
// order shows, with a varying length so that reads split lines anywhere.
func line(i int) string {
	return fmt.Sprintf("%07d upstream timed out (110: Connection timed out)%s", i, strings.Repeat("x", i%37))
}

func (w *logWriter) write(k int) {
	var b strings.Builder
	for range k {
		b.WriteString(line(w.n))
		b.WriteByte('\n')
		w.n++
	}
	if _, err := w.f.WriteString(b.String()); err != nil {
		w.t.Fatal(err)
	}
}

// collector records the delivered lines.
type collector struct {
	lines  []string
	polls  atomic.Int64      // Polls completed
	onLine func(line string) // when set, called instead of keeping lines
}

// waitPolls returns once a Poll begun after the call has completed: a
// writer calls it between rotations to model logs rotated far less often
// than they are polled (see TestSeveralRotationsBetweenPolls for the rest).
func (c *collector) waitPolls() {
	n := c.polls.Load()
	for c.polls.Load() < n+2 {
		runtime.Gosched()
	}
}

func (c *collector) add(l []byte) {
	if c.onLine != nil {
		c.onLine(string(l))
		return
	}
	c.lines = append(c.lines, string(l))
}

func (c *collector) poll(t testing.TB, f *Follower) error {
	t.Helper()
	defer c.polls.Add(1)
	return f.Poll(context.Background(), c.add)
}

// check asserts that lines from..to-1 were delivered, each once, in order.
func (c *collector) check(t testing.TB, from, to int) {
	t.Helper()
	if len(c.lines) != to-from {
		t.Errorf("delivered %d lines, want %d", len(c.lines), to-from)
	}
	for i, l := range c.lines {
		if i+from >= to || l != line(i+from) {
			for j := max(0, i-3); j < min(len(c.lines), i+3); j++ {
				t.Logf("%d: %q", j, c.lines[j])
			}
			t.Fatalf("line %d = %.20q, want %.20q", i, l, line(i+from))
		}
	}
}

func TestAppendAndPartial(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	w := newWriter(t, path)
	w.write(3) // before New: skipped by default
	f := New(path, Options{})
	defer f.Close()
	var c collector
	if err := c.poll(t, f); err != nil || len(c.lines) != 0 {
		t.Fatalf("first poll: %v, %q", err, c.lines)
	}
	w.write(5)
	if _, err := w.f.WriteString("partial"); err != nil {
		t.Fatal(err)
	}
	c.poll(t, f)
	if _, err := w.f.WriteString(" done\nnext"); err != nil {
		t.Fatal(err)
	}
	c.poll(t, f)
	want := []string{line(3), line(4), line(5), line(6), line(7), "partial done"}
	if fmt.Sprint(c.lines) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", c.lines, want)
	}
	st := f.Stats()
	if st.Lines != 6 || st.State != StateOK || st.Open != 1 || st.Offset != fileSize(t, path) {
		t.Errorf("stats %+v", st)
	}
}

func fileSize(t testing.TB, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestFromStartAndMidLineStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	w := newWriter(t, path)
	w.write(2)
	w.f.WriteString("half a li")
	var all, tail collector
	fa := New(path, Options{FromStart: true})
	defer fa.Close()
	ft := New(path, Options{})
	defer ft.Close()
	w.f.WriteString("ne\n")
	w.write(1)
	all.poll(t, fa)
	tail.poll(t, ft)
	if fmt.Sprint(all.lines) != fmt.Sprint([]string{line(0), line(1), "half a line", line(2)}) {
		t.Errorf("from start: %q", all.lines)
	}
	// The line begun before New is not delivered in part.
	if fmt.Sprint(tail.lines) != fmt.Sprint([]string{line(2)}) {
		t.Errorf("from end: %q", tail.lines)
	}
}

func TestMissingThenCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	f := New(path, Options{})
	defer f.Close()
	var c collector
	err1 := c.poll(t, f)
	err2 := c.poll(t, f)
	if !errors.Is(err1, fs.ErrNotExist) || err1 != err2 {
		t.Fatalf("errors %v, %v: want the same ErrNotExist", err1, err2)
	}
	if st := f.Stats(); st.State != StateMissing || st.Open != 0 {
		t.Errorf("stats %+v", st)
	}
	w := newWriter(t, path)
	w.write(4)
	if err := c.poll(t, f); err != nil {
		t.Fatal(err)
	}
	c.check(t, 0, 4) // a file that appears later is read from its start
}

// pollWhile polls f until done is closed, then once more: Poll never
// waits, so the last Poll sees everything written.
func (c *collector) pollWhile(t *testing.T, f *Follower, done <-chan struct{}) {
	t.Helper()
	for {
		select {
		case <-done:
			if err := c.poll(t, f); err != nil {
				t.Fatalf("last poll: %v", err)
			}
			return
		default:
		}
		c.poll(t, f) // errors: the path may be missing for a moment
	}
}

func TestRenameRotationConcurrent(t *testing.T) {
	path, w, f := following(t)
	done := make(chan struct{})
	var c collector
	const rotations = 30
	go func() {
		defer close(done)
		for r := range rotations {
			w.write(50 + r)
			c.waitPolls()
			// logrotate: shift the old copies, rename, create; nginx keeps
			// writing to the renamed file until USR1 makes it reopen.
			for i := 3; i >= 1; i-- {
				os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
			}
			if err := os.Rename(path, path+".1"); err != nil {
				t.Error(err)
				return
			}
			if r%2 == 0 {
				os.WriteFile(path, nil, 0o644) // create
			}
			w.write(7) // after the rename, before the reopen
			w.reopen()
			_ = f.Stats() // from another goroutine, as a metrics scrape (go test -race)
		}
		w.write(10)
	}()
	c.pollWhile(t, f, done)
	c.check(t, 0, w.n)
	st := f.Stats()
	if st.Renames == 0 || st.Recreates != 0 || st.Truncates != 0 {
		t.Errorf("stats %+v", st)
	}
	// After the writer has moved on, one Poll without news closes the old files.
	c.poll(t, f)
	if st := f.Stats(); st.Open != 1 {
		t.Errorf("open files after the rotations: %d", st.Open)
	}
}

// copyTruncate does what logrotate's copytruncate does: copy the live file
// to path.1 (after shifting the older copies), then truncate it.
func copyTruncate(t testing.TB, path string, shift bool) {
	if shift {
		for i := 8; i >= 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	if err := os.WriteFile(path+".1", data, 0o644); err != nil {
		t.Error(err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Error(err)
	}
}

func TestCopyTruncateConcurrent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "error.log")
	w := newWriter(t, path)
	w.write(5)
	f := New(path, Options{})
	defer f.Close()
	done := make(chan struct{})
	var c collector
	go func() {
		defer close(done)
		for r := range 40 {
			w.write(20 + r)
			c.waitPolls()
			w.write(r % 3) // between the last Poll and the copy
			copyTruncate(t, path, true)
		}
		w.write(10)
	}()
	c.pollWhile(t, f, done)
	c.check(t, 5, w.n)
	st := f.Stats()
	t.Logf("stats %+v", st)
	if st.Truncates == 0 || st.Renames != 0 || st.Unmatched != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestCompressedCopyNeverRead(t *testing.T) {
	path, w, f := following(t)
	var c collector
	w.write(5)
	c.poll(t, f)
	w.write(3) // only in the copy, which gets compressed before the next Poll
	copyTruncate(t, path, false)
	// Not gzip data: were it read, its lines would show.
	if err := os.Rename(path+".1", path+".1.gz"); err != nil {
		t.Fatal(err)
	}
	w.write(2)
	c.poll(t, f)
	want := append(lines(0, 5), lines(8, 10)...)
	if fmt.Sprint(c.lines) != fmt.Sprint(want) {
		t.Errorf("got %q\nwant %q", c.lines, want)
	}
	if st := f.Stats(); st.Truncates != 1 || st.Unmatched != 1 || st.Recovered != 0 {
		t.Errorf("stats %+v", st)
	}
}

func lines(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, line(i))
	}
	return out
}

func TestCopyTruncateDatedCopy(t *testing.T) {
	t.Run("older", testCopyTruncateDatedCopy)
	t.Run("same_time", testCopyTruncateDatedCopy)
}

func testCopyTruncateDatedCopy(t *testing.T) {
	path, w, f := following(t)
	var c collector
	// An older copy that starts as the live file does: its time tells it
	// apart; the same with the time of the right one gives it its name.
	old := path + "-20261201"
	os.WriteFile(old, []byte(strings.Join(lines(0, 5), "\n")+"\n"+line(99)+"\n"), 0o644)
	w.write(5)
	c.poll(t, f)
	w.write(3)
	data, _ := os.ReadFile(path)
	os.WriteFile(path+"-20261204", data, 0o644)
	os.Truncate(path, 0)
	fi, err := os.Stat(path + "-20261204")
	if err != nil {
		t.Fatal(err)
	}
	if subtest := t.Name(); strings.HasSuffix(subtest, "same_time") {
		os.Chtimes(old, fi.ModTime(), fi.ModTime())
	} else {
		os.Chtimes(old, fi.ModTime().Add(-time.Hour), fi.ModTime().Add(-time.Hour))
	}
	w.write(2)
	c.poll(t, f)
	c.check(t, 0, 10)
	if st := f.Stats(); st.Truncates != 1 || st.Recovered != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestDeletedAndRecreated(t *testing.T) {
	path, w, f := following(t)
	var c collector
	w.write(3)
	c.poll(t, f)
	os.Remove(path)
	w.write(2) // to the deleted file, still open in the writer
	err1 := c.poll(t, f)
	w.write(1)
	err2 := c.poll(t, f)
	if !errors.Is(err1, fs.ErrNotExist) || err1 != err2 {
		t.Fatalf("errors %v, %v: want the same ErrNotExist twice", err1, err2)
	}
	if st := f.Stats(); st.State != StateMissing || st.Open != 1 {
		t.Errorf("stats while missing %+v", st)
	}
	w.write(1)
	w.reopen() // creates the file again
	w.write(4)
	if err := c.poll(t, f); err != nil {
		t.Fatal(err)
	}
	c.check(t, 0, w.n)
	c.poll(t, f) // nothing new in the deleted file: closed
	if st := f.Stats(); st.Recreates != 1 || st.Renames != 0 || st.Open != 1 || st.State != StateOK {
		t.Errorf("stats %+v", st)
	}
}

func TestNotAFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(path string) error
	}{
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path, w, f := following(t)
			var c collector
			w.write(2)
			c.poll(t, f)
			os.Remove(path)
			if err := tc.make(path); err != nil {
				t.Fatal(err)
			}
			err1 := c.poll(t, f) // must not block on the FIFO
			err2 := c.poll(t, f)
			if !errors.Is(err1, ErrNotRegular) || err1 != err2 || !strings.Contains(err1.Error(), tc.name) {
				t.Fatalf("errors %v, %v: want the same ErrNotRegular twice", err1, err2)
			}
			if st := f.Stats(); st.State != StateNotRegular {
				t.Errorf("state %v", st.State)
			}
			// A follower started on it reports the same, without blocking.
			g := New(path, Options{})
			if err := g.Poll(context.Background(), func([]byte) {}); !errors.Is(err, ErrNotRegular) {
				t.Errorf("new follower: %v", err)
			}
			g.Close()
			os.Remove(path)
			w.reopen()
			w.write(3)
			if err := c.poll(t, f); err != nil {
				t.Fatal(err)
			}
			c.check(t, 0, 5)
		})
	}
}

func TestUnreadable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "error.log")
	os.Symlink(path, path) // ELOOP: stat and open fail, as for EACCES
	f := New(path, Options{})
	defer f.Close()
	var c collector
	err1 := c.poll(t, f)
	err2 := c.poll(t, f)
	if err1 == nil || err1 != err2 || errors.Is(err1, fs.ErrNotExist) {
		t.Fatalf("errors %v, %v", err1, err2)
	}
	if st := f.Stats(); st.State != StateUnreadable {
		t.Errorf("state %v", st.State)
	}
	os.Remove(path)
	if err := c.poll(t, f); !errors.Is(err, fs.ErrNotExist) || err == err2 {
		t.Errorf("after removal: %v", err)
	}
	w := newWriter(t, path)
	w.write(2)
	if err := c.poll(t, f); err != nil {
		t.Fatal(err)
	}
	c.check(t, 0, 2)
}

func TestBinaryAndNUL(t *testing.T) {
	_, w, f := following(t)
	r := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 300_000)
	for i := range data {
		data[i] = byte(r.IntN(256))
		if i%1000 == 0 {
			data[i] = 0
		}
	}
	data = append(data, '\n')
	var got []byte
	for off := 0; off < len(data); off += 7_777 {
		w.f.Write(data[off:min(off+7_777, len(data))])
		f.Poll(context.Background(), func(l []byte) {
			got = append(got, l...)
			got = append(got, '\n')
		})
	}
	st := f.Stats()
	if !bytes.Equal(got, data) || st.Cut != 0 || st.Lines != int64(bytes.Count(data, []byte("\n"))) {
		t.Errorf("delivered %d bytes, want %d; stats %+v", len(got), len(data), st)
	}
}

func TestEndlessLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	w := newWriter(t, path)
	const maxLine = 4096
	f := New(path, Options{MaxLine: maxLine})
	defer f.Close()
	var c collector
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB, no '\n'
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 50 {
		w.f.Write(chunk)
		c.poll(t, f)
	}
	runtime.ReadMemStats(&after)
	if cap(f.cur.part) > maxLine {
		t.Errorf("partial line buffer grew to %d bytes, MaxLine is %d", cap(f.cur.part), maxLine)
	}
	// The read buffer and the partial line; 50 MiB went through.
	if grown := after.TotalAlloc - before.TotalAlloc; grown > 1<<20 {
		t.Errorf("allocated %d bytes while following a 50 MiB line", grown)
	}
	w.f.WriteString("tail\n" + line(0) + "\n")
	c.poll(t, f)
	if len(c.lines) != 2 || c.lines[0] != string(chunk[:maxLine]) || c.lines[1] != line(0) {
		t.Errorf("got %d lines, first %.40q", len(c.lines), c.lines)
	}
	if st := f.Stats(); st.Cut != 1 || st.Bytes != 50<<20+int64(len("tail\n"+line(0)+"\n")) {
		t.Errorf("stats %+v", st)
	}
}

func TestTruncatedAndRewritten(t *testing.T) {
	path, w, f := following(t)
	var c collector
	w.write(10)
	c.poll(t, f)
	// Truncated to 0 and rewritten, shorter than before.
	os.Truncate(path, 0)
	w.write(2)
	c.poll(t, f)
	// And longer than before, between two Polls: only the fingerprint shows it.
	os.Truncate(path, 0)
	w.write(30)
	c.poll(t, f)
	c.check(t, 0, 42)
	if st := f.Stats(); st.Truncates != 2 || st.Unmatched != 2 {
		t.Errorf("stats %+v", st)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(ents)
}

func TestCloseReleasesFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	w := newWriter(t, path)
	before := openFDs(t)
	f := New(path, Options{})
	var c collector
	for range 3 {
		w.write(2)
		os.Rename(path, path+".1")
		w.write(1)
		w.reopen() // the new files stay empty: the old ones are kept open
		c.poll(t, f)
	}
	if st := f.Stats(); st.Open != 4 || openFDs(t) != before+4 {
		t.Errorf("%d files open, %d fds more", st.Open, openFDs(t)-before)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n := openFDs(t); n != before {
		t.Errorf("%d fds open after Close, %d before New", n, before)
	}
	if err := c.poll(t, f); !errors.Is(err, ErrClosed) {
		t.Errorf("Poll after Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestSeveralRotationsBetweenPolls: a file that had the path only between
// two Polls is found by its rotated name (newer than the old file's).
func TestSeveralRotationsBetweenPolls(t *testing.T) {
	t.Run("two renames", func(t *testing.T) {
		path, w, f := following(t)
		var c collector
		w.write(3)
		c.poll(t, f)
		w.write(2)
		os.Rename(path, path+".1")
		w.reopen()
		w.write(3) // in a file the follower never sees at the path
		os.Rename(path+".1", path+".2")
		os.Rename(path, path+".1")
		w.reopen()
		w.write(2)
		c.poll(t, f)
		c.check(t, 0, 10)
		if st := f.Stats(); st.Renames != 2 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("rename then copytruncate", func(t *testing.T) {
		path, w, f := following(t)
		var c collector
		w.write(3)
		c.poll(t, f)
		os.Rename(path, path+".1")
		w.reopen()
		w.write(4)
		os.Rename(path+".1", path+".2")
		copyTruncate(t, path, false) // the new file's lines are only in the copy
		w.write(2)
		c.poll(t, f)
		c.check(t, 0, 9)
	})
}

// TestCancelledPoll: a Poll cancelled while rotated files are read (here
// by its own callback) leaves the follower usable, every line delivered
// once.
func TestCancelledPoll(t *testing.T) {
	path, w, f := following(t)
	var c collector
	rotate := func() {
		for i := 3; i >= 1; i-- {
			os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
		}
		os.Rename(path, path+".1")
		w.reopen()
		w.write(2)
	}
	w.write(2)
	rotate()
	c.poll(t, f) // the first file is done: closed at the next Poll
	w.write(2)
	rotate()
	rotate() // two rotations: the Poll reads three old files
	ctx, cancel := context.WithCancel(context.Background())
	err := f.Poll(ctx, func(l []byte) {
		cancel()
		c.add(l)
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Poll: %v", err)
	}
	c.poll(t, f)
	c.poll(t, f)
	c.check(t, 0, w.n)
	if st := f.Stats(); st.Open != 1 {
		t.Errorf("stats %+v", st)
	}
}
