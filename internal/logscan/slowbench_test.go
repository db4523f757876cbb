package logscan

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// slowBenchFile returns SLOWLOG_BENCH_FILE, or a generated 200 MB
// slowlog of 30 days ending now.
func slowBenchFile(b *testing.B) string {
	if p := os.Getenv("SLOWLOG_BENCH_FILE"); p != "" {
		return p
	}
	p := filepath.Join(b.TempDir(), "www.slow.log")
	if _, err := writeSlowlog(p, 200<<20, time.Now(), 30*24*time.Hour); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkSlowlogLastHour reads the last hour of a 200 MB slowlog:
// seeking by time makes it cost the hour, not the file.
func BenchmarkSlowlogLastHour(b *testing.B) {
	path := slowBenchFile(b)
	b.ResetTimer()
	var st Stats
	var err error
	for i := 0; i < b.N; i++ {
		a := NewSlowAggregator()
		st, err = ScanSlowlog(context.Background(), path, Options{Window: Window{Since: time.Now().Add(-time.Hour)}}, func(e *SlowEntry) error {
			a.Add(e.Pool, e)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.BytesRead), "bytes-read")
	b.ReportMetric(float64(st.Entries), "entries")
}

// TestSlowlogBenchTool serves bench/slowlog.sh; it does nothing unless
// SLOWLOG_BENCH_MODE is set:
//
//	gen:   write SLOWLOG_BENCH_SIZE bytes of slowlog (30 days ending now) to SLOWLOG_BENCH_FILE
//	since: read and count the last SLOWLOG_BENCH_SINCE (a duration) of it
//	full:  read and count all of it
func TestSlowlogBenchTool(t *testing.T) {
	mode, path := os.Getenv("SLOWLOG_BENCH_MODE"), os.Getenv("SLOWLOG_BENCH_FILE")
	if mode == "" || path == "" {
		t.Skip("set SLOWLOG_BENCH_MODE and SLOWLOG_BENCH_FILE (see bench/slowlog.sh)")
	}
	switch mode {
	case "gen":
		size, err := strconv.ParseInt(os.Getenv("SLOWLOG_BENCH_SIZE"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := writeSlowlog(path, size, time.Now(), 30*24*time.Hour); err != nil {
			t.Fatal(err)
		}
	case "since", "full":
		opt := Options{}
		if mode == "since" {
			d, err := time.ParseDuration(os.Getenv("SLOWLOG_BENCH_SINCE"))
			if err != nil {
				t.Fatal(err)
			}
			opt.Window.Since = time.Now().Add(-d)
		}
		a := NewSlowAggregator()
		start := time.Now()
		st, err := ScanSlowlog(context.Background(), path, opt, func(e *SlowEntry) error {
			a.Add(e.Pool, e)
			return nil
		})
		el := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := a.Summary("www", 1)
		top := ""
		if len(s.Frames) > 0 {
			top = s.Frames[0].Where()
		}
		os.Stdout.WriteString("entries " + strconv.FormatInt(st.Entries, 10) + ", read " + strconv.FormatInt(st.BytesRead, 10) +
			" of " + strconv.FormatInt(st.Size, 10) + " bytes in " + el.String() + "; top: " + top + "\n")
	default:
		t.Fatalf("unknown SLOWLOG_BENCH_MODE %q", mode)
	}
}

// BenchmarkSlowlogFull reads and groups a whole slowlog (200 MB
// generated, or SLOWLOG_BENCH_FILE): what a diagnosis with a window
// longer than the file costs.
func BenchmarkSlowlogFull(b *testing.B) {
	path := slowBenchFile(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a := NewSlowAggregator()
		if _, err := ScanSlowlog(context.Background(), path, Options{}, func(e *SlowEntry) error {
			a.Add(e.Pool, e)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}
