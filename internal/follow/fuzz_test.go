package follow

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sim plays a log's life against a Follower: one writer (nginx) appending
// numbered lines through the descriptor it holds, logrotate renaming or
// copying and truncating, files deleted and compressed, and Polls. It
// keeps the model the delivered lines must match: every line once, in the
// order written, and none missing unless an operation made a loss
// legitimate (see lossy).
type sim struct {
	t        testing.TB
	path     string
	w        *os.File // the writer's descriptor (O_APPEND)
	n        int      // lines begun
	half     bool     // line n-1 is half written
	f        *Follower
	next     int  // number of the next complete line expected
	lossy    bool // lines may legitimately be missing
	reason   string
	copies   int             // copytruncates since the last Poll
	wrote    map[uint64]bool // files written since the last Poll
	copied   bool            // a copytruncate since the last Poll: path.1 holds unread lines
	seenIno  uint64          // at the last Poll: the file at the path and its size
	seenSize int64
	appended bool // bytes written since the last Poll (or copytruncate)
	trace    []string
	gone     []*os.File // the writer's previous descriptors
}

func (s *sim) fatalf(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("%s\nops: %s\nstats %+v", fmt.Sprintf(format, args...), strings.Join(s.trace, " "), s.f.Stats())
}

func newSim(t testing.TB) *sim {
	s := &sim{t: t, path: filepath.Join(t.TempDir(), "error.log")}
	s.reopen()
	s.f = New(s.path, Options{})
	s.seen()
	return s
}

func (s *sim) close() {
	s.w.Close()
	for _, w := range s.gone {
		w.Close()
	}
	if err := s.f.Close(); err != nil {
		s.t.Error(err)
	}
}

func (s *sim) loses(why string) {
	if !s.lossy {
		s.lossy, s.reason = true, why
	}
}

func (s *sim) reopen() {
	s.finishLine()
	if s.w != nil {
		// Kept open: a freed inode number would be reused and make the
		// model take a new file for one it wrote before.
		s.gone = append(s.gone, s.w)
	}
	w, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	s.w = w
}

func (s *sim) writeString(str string) {
	if _, err := s.w.WriteString(str); err != nil {
		s.t.Fatal(err)
	}
	fi, err := s.w.Stat()
	if err != nil {
		s.t.Fatal(err)
	}
	_, ino := devIno(fi)
	s.wrote[ino] = true
	s.appended = true
}

// finishLine ends a half-written line: nginx writes whole lines, so the
// writer never leaves a file (reopen) nor is cut (copy) in mid-line.
func (s *sim) finishLine() {
	if s.half {
		l := line(s.n - 1)
		s.writeString(l[len(l)/2:] + "\n")
		s.half = false
	}
}

func (s *sim) appendLines(k int) {
	s.finishLine()
	var b strings.Builder
	for range k {
		b.WriteString(line(s.n))
		b.WriteByte('\n')
		s.n++
	}
	s.writeString(b.String())
}

func (s *sim) appendHalf() {
	s.finishLine()
	l := line(s.n)
	s.n++
	s.writeString(l[:len(l)/2])
	s.half = true
}

func (s *sim) stat() (uint64, int64, bool) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, 0, false
	}
	_, ino := devIno(fi)
	return ino, fi.Size(), true
}

func (s *sim) seen() {
	s.seenIno, s.seenSize, _ = s.stat()
	s.copies, s.copied, s.appended = 0, false, false
	s.wrote = map[uint64]bool{}
}

// cut counts a truncation: the second one between two Polls loses what
// was written between them (the Follower recovers from one copy).
func (s *sim) cut() {
	s.copies++
	if s.copies > 1 && s.appended {
		s.loses("two truncations between Polls")
	}
}

func (s *sim) shift() {
	for i := 5; i >= 1; i-- {
		os.Rename(s.path+"."+strconv.Itoa(i), s.path+"."+strconv.Itoa(i+1))
	}
}

func (s *sim) rename(create bool) {
	if _, _, ok := s.stat(); !ok {
		return
	}
	s.shift()
	if err := os.Rename(s.path, s.path+".1"); err != nil {
		s.t.Fatal(err)
	}
	if create {
		os.WriteFile(s.path, nil, 0o644)
	}
}

func (s *sim) copyTruncate() {
	ino, size, ok := s.stat()
	if !ok {
		return
	}
	s.finishLine()
	s.cut()
	// Without a fingerprint (nothing read at the last Poll) a truncation
	// cannot be told from a file that was empty.
	if size > 0 && (ino != s.seenIno || s.seenSize == 0) {
		s.loses("copytruncate of a file empty at the last Poll")
	}
	s.shift()
	data, err := os.ReadFile(s.path)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := os.WriteFile(s.path+".1", data, 0o644); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Truncate(s.path, 0); err != nil {
		s.t.Fatal(err)
	}
	s.copied, s.appended = true, false
}

func (s *sim) truncate() {
	if _, _, ok := s.stat(); !ok {
		return
	}
	s.finishLine()
	if s.appended {
		s.loses("truncated without a copy")
	}
	s.cut()
	os.Truncate(s.path, 0)
	s.appended = false
}

func (s *sim) remove() {
	if _, _, ok := s.stat(); !ok {
		return
	}
	os.Remove(s.path)
}

// compress replaces path.1 by path.1.gz, as logrotate's compress does
// (a new file: the old inode lives on only in descriptors still open).
func (s *sim) compress() {
	data, err := os.ReadFile(s.path + ".1")
	if err != nil {
		return
	}
	if s.copied {
		s.loses("a copy compressed before it was read")
	}
	os.WriteFile(s.path+".1.gz", data, 0o644)
	os.Remove(s.path + ".1")
}

func (s *sim) poll() {
	// The files the Follower can reach: those it holds, and the one the
	// path names now. A file created and renamed or removed between two
	// Polls is not among them.
	reach := map[uint64]bool{}
	if s.f.cur != nil {
		reach[s.f.cur.ino] = true
	}
	for _, o := range s.f.old {
		reach[o.ino] = true
	}
	if ino, _, ok := s.stat(); ok {
		reach[ino] = true
		if s.f.cur != nil && ino != s.f.cur.ino {
			// A rotation: files renamed in between are found by name.
			for _, ino := range s.renamedSince(s.f.cur.ino) {
				reach[ino] = true
			}
		}
	}
	for ino := range s.wrote {
		if !reach[ino] {
			s.loses("lines written to a file created and moved away between Polls")
		}
	}
	err := s.f.Poll(context.Background(), func(l []byte) {
		str := string(l)
		n, err := strconv.Atoi(str[:min(7, len(str))])
		if err != nil || str != line(n) {
			if !s.lossy {
				s.fatalf("fragment %q delivered (nothing lossy happened)", str)
			}
			return // the head of a line whose rest was lost
		}
		if n < s.next {
			s.fatalf("line %d delivered after line %d", n, s.next-1)
		}
		if n > s.next && !s.lossy {
			s.fatalf("line %d delivered, line %d missing", n, s.next)
		}
		s.next = n + 1
	})
	if err != nil && s.f.Stats().State == StateOK {
		s.fatalf("poll error %v with state ok", err)
	}
	if s.f.Stats().Abandoned > 0 {
		s.loses("rotated files abandoned")
	}
	s.seen()
}

var opNames = [...]string{"append", "append", "append", "half", "poll", "poll", "rename", "reopen", "copytruncate", "delete", "compress", "truncate"}

// renamedSince lists the uncompressed siblings whose names are newer than
// the one file ino has now (when it is still linked).
func (s *sim) renamedSince(ino uint64) []uint64 {
	dir, base := filepath.Split(s.path)
	ents, _ := os.ReadDir(dir)
	inos := map[string]uint64{}
	curName := ""
	for _, de := range ents {
		if !isSibling(base, de.Name()) {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			continue
		}
		_, i := devIno(fi)
		if i == ino {
			curName = de.Name()
		}
		inos[de.Name()] = i
	}
	var out []uint64
	for name, i := range inos {
		if curName != "" && newerName(base, name, curName) {
			out = append(out, i)
		}
	}
	return out
}

// run plays ops, two bytes each, then completes the last line and polls.
func (s *sim) run(ops []byte) {
	for i := 0; i+1 < len(ops) && i < 400; i += 2 {
		arg := int(ops[i+1])
		s.trace = append(s.trace, fmt.Sprintf("%s(%d)", opNames[ops[i]%12], arg))
		switch ops[i] % 12 {
		case 0, 1, 2:
			s.appendLines(1 + arg%6)
		case 3:
			s.appendHalf()
		case 4, 5:
			s.poll()
		case 6:
			s.rename(arg%2 == 0)
		case 7:
			s.reopen()
		case 8:
			s.copyTruncate()
		case 9:
			s.remove()
		case 10:
			s.compress()
		case 11:
			s.truncate()
		}
	}
	s.finishLine()
	s.poll()
	if !s.lossy && s.next != s.n {
		s.fatalf("%d lines delivered of %d", s.next, s.n)
	}
}

func FuzzFollow(f *testing.F) {
	for _, input := range []string{
		"\x00\x03\x04\x00",                         // append, poll
		"\x00\x05\x03\x00\x04\x00\x00\x01\x04\x00", // half a line across Polls
		"\x00\x05\x04\x00\x00\x02\x06\x00\x00\x03\x07\x00\x00\x02\x04\x00\x04\x00", // rename, writes, reopen
		"\x00\x05\x04\x00\x00\x02\x08\x00\x00\x03\x04\x00",                         // copytruncate
		"\x00\x05\x04\x00\x00\x02\x08\x00\x0a\x00\x00\x03\x04\x00",                 // copy compressed
		"\x00\x05\x04\x00\x00\x02\x09\x00\x00\x01\x04\x00\x07\x00\x00\x02\x04\x00", // delete, recreate
		"\x00\x05\x04\x00\x0b\x00\x00\x09\x04\x00",                                 // truncate, rewrite longer
		"\x00\x05\x04\x00\x06\x01\x06\x01\x06\x01\x06\x01\x06\x01\x00\x01\x04\x00", // renames without reopen
		"\x00\x03\x04\x00\x06\x00\x07\x00\x00\x02\x06\x00\x07\x00\x00\x02\x04\x00", // two renames between Polls
	} {
		f.Add([]byte(input))
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		s := newSim(t)
		defer s.close()
		s.run(ops)
	})
}

func TestSimCorpus(t *testing.T) {
	// The fuzz corpus entries, each checked to be loss-free or not as intended.
	for i, tc := range []struct {
		ops   string
		lossy bool
	}{
		{"\x00\x05\x04\x00\x00\x02\x08\x00\x00\x03\x04\x00", false},
		{"\x00\x05\x04\x00\x00\x02\x08\x00\x0a\x00\x00\x03\x04\x00", true},
		{"\x00\x05\x04\x00\x00\x02\x06\x00\x00\x03\x07\x00\x00\x02\x04\x00\x04\x00", false},
		// Two renames with writes in between, then a Poll: found by name.
		{"\x00\x03\x04\x00\x06\x00\x07\x00\x00\x02\x06\x00\x07\x00\x00\x02\x04\x00", false},
		// The same with the first file deleted: the middle one is lost.
		{"\x00\x03\x04\x00\x09\x00\x07\x00\x00\x02\x06\x00\x07\x00\x00\x02\x04\x00", true},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			s := newSim(t)
			defer s.close()
			s.run([]byte(tc.ops))
			if s.lossy != tc.lossy {
				t.Errorf("lossy = %v (%s)", s.lossy, s.reason)
			}
		})
	}
}
