package logscan

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func readSlow(t *testing.T, path string, opt Options) ([]SlowEntry, Stats) {
	t.Helper()
	var out []SlowEntry
	st, err := ScanSlowlog(context.Background(), path, opt, func(e *SlowEntry) error {
		out = append(out, *e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, st
}

// TestSlowlogObserved reads what php-fpm 8.2 wrote for a script sleeping
// in a named function (two workers, request_slowlog_timeout = 1s).
func TestSlowlogObserved(t *testing.T) {
	es, st := readSlow(t, "testdata/slowlog_observed.log", Options{Location: time.UTC})
	if len(es) < 4 || st.Entries != int64(len(es)) {
		t.Fatalf("%d entries, stats %+v", len(es), st)
	}
	e := es[0]
	want := time.Date(2026, 12, 4, 11, 9, 32, 0, time.UTC)
	if !e.Time.Equal(want) || e.Pool != "www" || e.PID != 21916 || e.Script != "/tmp/sl-exp/www/slow.php" || e.Line != 2 || e.Offset != 1 {
		t.Fatalf("head: %+v", e)
	}
	if len(e.Frames) != 3 || e.Frames[0] != (Frame{Func: "usleep", File: "/tmp/sl-exp/www/slow.php", Line: 3}) ||
		e.Caller() != "wait_for_backend" || e.Frames[2].Func != "fetch_data" || e.Truncated || e.DumpFailed {
		t.Fatalf("frames: %+v", e)
	}
}

func TestSlowlogForms(t *testing.T) {
	es, _ := readSlow(t, "testdata/slowlog_forms.log", Options{Location: time.UTC})
	if len(es) != 6 {
		for _, e := range es {
			t.Logf("%+v", e)
		}
		t.Fatalf("%d entries", len(es))
	}
	if e := es[0]; e.Top().Func != "curl_exec" || e.Top().File != "/var/www/shop/lib/Http.php" || e.Top().Line != 88 ||
		e.Caller() != "fetch" || e.Frames[2].Func != "[INCLUDE_OR_EVAL]" || e.Truncated {
		t.Errorf("full block: %+v", e)
	}
	if e := es[1]; !e.DumpFailed || e.Script != "" || e.PID != 1235 || len(e.Frames) != 0 {
		t.Errorf("dump failed before the script: %+v", e)
	}
	if e := es[2]; !e.DumpFailed || e.Script != "/var/www/shop/cron.php" || len(e.Frames) != 1 || e.Frames[0].Func != "curl_exec" || e.Frames[0].File != "" {
		t.Errorf("dump failed inside a frame: %+v", e)
	}
	if e := es[3]; e.Top().Func != "???" || e.Top().File != "unknown" || e.Truncated {
		t.Errorf("unknown frame, next head right after: %+v", e)
	}
	// A second block's lines without their head: not joined to this one.
	if e := es[4]; e.Script != "/var/www/shop/api.php" || !e.Truncated || e.Top().Func != "{closure}" {
		t.Errorf("interleaved: %+v", e)
	}
	if e := es[5]; e.Pool != "my pool" || !e.Truncated || len(e.Frames) != 0 {
		t.Errorf("cut at the end: %+v", e)
	}
}

// TestSlowlogWindowSeek: a big slowlog is searched by time, not read
// whole, and the window keeps exactly the blocks whose heads are inside.
func TestSlowlogWindowSeek(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "www.slow.log")
	end := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	n, err := writeSlowlog(path, 8<<20, end, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	since := end.Add(-time.Hour)
	es, st := readSlow(t, path, Options{Location: time.UTC, Window: Window{Since: since}})
	if st.BytesRead > st.Size/8 || st.StartOffset == 0 {
		t.Fatalf("read %d of %d bytes (start %d): no seek", st.BytesRead, st.Size, st.StartOffset)
	}
	all, _ := readSlow(t, path, Options{Location: time.UTC})
	if len(all) != n {
		t.Fatalf("read %d entries of %d written", len(all), n)
	}
	want := 0
	// Entries kept after the scan own their text: the read buffer was
	// refilled many times over 8 MB.
	for _, e := range all {
		if !e.DumpFailed && (!strings.HasPrefix(e.Script, "/var/www/shop/") || !strings.HasSuffix(e.Script, ".php") ||
			e.Frames[len(e.Frames)-1].Func != "main" || e.Frames[len(e.Frames)-1].File != e.Script || e.Pool != "www") {
			t.Fatalf("entry text changed after the scan: %+v", e)
		}
	}
	for _, e := range all {
		if !e.Time.Before(since) {
			want++
		}
	}
	if len(es) != want || want == 0 {
		t.Fatalf("window: %d entries, want %d", len(es), want)
	}
	for _, e := range es {
		if e.Time.Before(since) || (e.Script == "" || len(e.Frames) == 0) != e.DumpFailed || e.Line != 0 {
			t.Fatalf("entry %+v", e)
		}
	}
}

// TestSlowlogRotated: the live file and its rotated (.1) and compressed
// (.2.gz) siblings are read in time order; files older than the window
// are not opened.
func TestSlowlogRotated(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "www.slow.log")
	block := func(ts, script string) string {
		return "\n[" + ts + "]  [pool www] pid 7\nscript_filename = " + script + "\n[0x00007f0000000010] sleep() " + script + ":2\n"
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(block("04-Dec-2026 09:30:00", "/w/old.php") + block("04-Dec-2026 10:30:00", "/w/gz.php")))
	zw.Close()
	files := map[string]string{
		base + ".3.gz": "", // older than the window: skipped by its mtime
		base + ".2.gz": gz.String(),
		base + ".1":    block("04-Dec-2026 11:00:00", "/w/one.php"),
		base:           block("04-Dec-2026 11:30:00", "/w/live.php"),
	}
	mtimes := map[string]time.Time{
		base + ".3.gz": time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC),
		base + ".2.gz": time.Date(2026, 12, 4, 10, 31, 0, 0, time.UTC),
		base + ".1":    time.Date(2026, 12, 4, 11, 1, 0, 0, time.UTC),
		base:           time.Date(2026, 12, 4, 11, 31, 0, 0, time.UTC),
	}
	for p, body := range files {
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtimes[p], mtimes[p]); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	st, err := ScanSlowlogRotated(context.Background(), base, Options{Location: time.UTC,
		Window: Window{Since: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}}, func(e *SlowEntry) error {
		got = append(got, e.Script)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "/w/gz.php /w/one.php /w/live.php" || st.Files != 3 {
		t.Fatalf("got %v, %d files", got, st.Files)
	}
}

// TestSlowlogNeverHangs: binary garbage, endless lines and a stream of
// heads end with an answer.
func TestSlowlogBadInput(t *testing.T) {
	inputs := []string{
		strings.Repeat("x", 1<<20),
		"\x00\xff[0x]\n[0x00] () :\n",
		strings.Repeat("[04-Dec-2026 10:12:01]  [pool ", 5000),
		"[04-Dec-2026 10:12:01]  [pool www] pid 1\n" + strings.Repeat("[0x1] f() a:1\n", 1000),
	}
	for i, in := range inputs {
		n := 0
		_, err := ScanSlowlogReader(context.Background(), strings.NewReader(in), "x", Options{Location: time.UTC}, func(e *SlowEntry) error {
			n++
			if len(e.Frames) > maxSlowFrames {
				t.Errorf("input %d: %d frames kept", i, len(e.Frames))
			}
			return nil
		})
		if err != nil {
			t.Errorf("input %d: %v", i, err)
		}
	}
}

// writeSlowlog writes about size bytes of slowlog spanning span and
// ending at end, and returns how many blocks it wrote: several scripts,
// traces of 3 to 12 frames, the odd failed dump, as a busy shop's
// slowlog looks.
func writeSlowlog(path string, size int64, end time.Time, span time.Duration) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	scripts := []string{"/var/www/shop/cron.php", "/var/www/shop/index.php", "/var/www/shop/api/orders.php", "/var/www/shop/search.php"}
	waits := []string{"curl_exec() /var/www/shop/lib/Http.php:88", "PDOStatement::execute() /var/www/shop/lib/Db.php:140", "sleep() /var/www/shop/cron.php:31", "file_get_contents() /var/www/shop/lib/Feed.php:12"}
	start := end.Add(-span)
	var written int64
	n := 0
	for i := 0; written < size; i++ {
		ts := start.Add(time.Duration(float64(span) * float64(written) / float64(size)))
		var b strings.Builder
		fmt.Fprintf(&b, "\n[%s]  [pool www] pid %d\n", ts.Format("02-Jan-2006 15:04:05"), 1000+i%50)
		if i%97 == 0 {
			b.WriteString("+++ dump failed\n")
		} else {
			script := scripts[i%len(scripts)]
			fmt.Fprintf(&b, "script_filename = %s\n", script)
			fmt.Fprintf(&b, "[0x00007f3a1c0%05x] %s\n", i%100000, waits[i%len(waits)])
			for d := 0; d < 2+i%10; d++ {
				fmt.Fprintf(&b, "[0x00007f3a1c0%05x] step%d() /var/www/shop/lib/Step%d.php:%d\n", (i+d)%100000, d, d, 10+d)
			}
			fmt.Fprintf(&b, "[0x00007f3a1c0%05x] main() %s:5\n", i%100000, script)
		}
		k, err := w.WriteString(b.String())
		if err != nil {
			f.Close()
			return n, err
		}
		written += int64(k)
		n++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return n, err
	}
	return n, f.Close()
}
