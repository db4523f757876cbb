package logscan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The parallel scan must deliver exactly what the sequential one does, in
// the same order, with the same offsets and line numbers, including
// multi-line entries and lines longer than a chunk.
func TestParallelMatchesSequential(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "error.log")
	writeRealisticLog(path, 6<<20, genBase.Add(48*time.Hour), 48*time.Hour)
	// Append a line longer than a chunk, a run of continuation lines longer
	// than a chunk, binary garbage, and normal lines after them.
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	obs, _ := os.ReadFile("testdata/nginx_observed.log")
	f.Write(obs)
	f.WriteString(`2026/11/28 00:00:01 [error] 1#1: *1 FastCGI sent in stderr: "` + strings.Repeat("y", 3<<20) + "\n")
	f.Write(obs)
	f.WriteString(`2026/11/28 00:00:02 [error] 1#1: *2 FastCGI sent in stderr: "start` + "\n" + strings.Repeat("continuation line\n", 200000))
	f.Write(bytes.Repeat([]byte{0, 0xff, '\n', 0xfe}, 1000))
	f.Write(obs)
	f.Close()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []Window{{}, {Since: genBase.Add(40 * time.Hour)}} {
		var seq []Entry
		var sst Stats
		opt := Options{Format: FormatNginx, Location: time.UTC, Window: w}.withDefaults()
		collect := func(dst *[]Entry) Func {
			return func(e *Entry) error { *dst = append(*dst, e.Clone()); return nil }
		}
		fh, _ := os.Open(path)
		sc := newScanner(path, true, opt, collect(&seq), &sst)
		if err := sc.run(context.Background(), newLineReader(fh, 0, opt.MaxEntry)); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		contenders := map[string]func(Func, *Stats) error{
			"parallel read": func(fn Func, st *Stats) error {
				fh, _ := os.Open(path)
				defer fh.Close()
				return scanParallel(context.Background(), fh, path, 0, true, opt, fn, st)
			},
			"parallel mapped": func(fn Func, st *Stats) error {
				fh, _ := os.Open(path)
				defer fh.Close()
				mapped, err := scanMapped(context.Background(), fh, fi.Size(), 0, path, opt, fn, st)
				if !mapped {
					t.Fatal("the file could not be mapped")
				}
				return err
			},
		}
		for name, scan := range contenders {
			var par []Entry
			var pst Stats
			if err := scan(collect(&par), &pst); err != nil {
				t.Fatal(err)
			}
			if len(seq) != len(par) || sst.Lines != pst.Lines || sst.Entries != pst.Entries {
				t.Fatalf("window %v: sequential %d entries %d lines, %s %d entries %d lines", w, len(seq), sst.Lines, name, len(par), pst.Lines)
			}
			for i := range seq {
				a, b := seq[i], par[i]
				if a != b {
					t.Fatalf("%s: entry %d differs:\nseq %s line %d off %d %.80q\npar %s line %d off %d %.80q", name, i, a.Kind, a.Line, a.Offset, a.Raw, b.Kind, b.Line, b.Offset, b.Raw)
				}
			}
			t.Logf("window %v, %s: %d entries, %d lines, cut %d/%d", w, name, len(seq), sst.Lines, sst.Cut, pst.Cut)
		}
	}
}

// A log truncated under a mapped scan (logrotate's copytruncate) makes the
// scan fail with a plain error; the fault must never crash the program.
func TestMappedScanOfTruncatedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	writeRealisticLog(path, 32<<20, genBase, 8*time.Hour)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fi, _ := fh.Stat()
	var st Stats
	n := 0
	mapped, err := scanMapped(context.Background(), fh, fi.Size(), 0, path, Options{Format: FormatNginx}.withDefaults(), func(e *Entry) error {
		if n++; n == 1 {
			if err := os.Truncate(path, 0); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	}, &st)
	if !mapped {
		t.Fatal("the file could not be mapped")
	}
	if !errors.Is(err, errFileChanged) {
		t.Fatalf("scan of a file truncated midway: err = %v after %d entries, want %v", err, n, errFileChanged)
	}
	t.Logf("%d entries before: %v", n, err)
}

// A callback error or ErrStop ends a parallel scan promptly and cleanly.
func TestParallelStop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "error.log")
	writeRealisticLog(path, 8<<20, genBase, 8*time.Hour)
	for _, stop := range []error{ErrStop, fmt.Errorf("boom")} {
		n := 0
		st, err := Scan(context.Background(), path, Options{Format: FormatNginx}, func(e *Entry) error {
			n++
			if n == 10 {
				return stop
			}
			return nil
		})
		if n != 10 || st.Entries != 10 || (stop == ErrStop) != (err == nil) {
			t.Errorf("stop %v: n=%d entries=%d err=%v", stop, n, st.Entries, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Scan(ctx, path, Options{Format: FormatNginx}, func(e *Entry) error { return nil }); err == nil {
		t.Errorf("cancelled context: no error")
	}
}
