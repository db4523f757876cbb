package follow

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
)

// logWriter appends numbered lines to a log the way nginx does: through
// an O_APPEND descriptor it keeps until told to reopen the path.
type logWriter struct {
	t    testing.TB
	path string
	f    *os.File
	n    int // lines written
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
	lines []string
	polls atomic.Int64 // Polls completed
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

func (c *collector) add(l []byte) { c.lines = append(c.lines, string(l)) }

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
	dir := t.TempDir()
	path := filepath.Join(dir, "error.log")
	w := newWriter(t, path)
	f := New(path, Options{})
	defer f.Close()
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
