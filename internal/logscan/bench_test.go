package logscan

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeRealisticLog writes about size bytes of nginx error log spanning
// span and ending at end (times follow the byte position): a mix of upstream failures (about 40%, some
// multi-line FastCGI stderr) and the usual noise of a busy site.
func writeRealisticLog(path string, size int64, end time.Time, span time.Duration) error {
	return writeLogMix(path, size, end, span, 1)
}

// writeLogMix is writeRealisticLog with upstream failures quiet times
// rarer: 1 is the incident mix (about 40% failures), 10 a site on a normal
// day (about 4%), the other lines being the same noise.
func writeLogMix(path string, size int64, end time.Time, span time.Duration, quiet int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	start := end.Add(-span)
	var written int64
	for i := int64(0); written < size; i++ {
		ts := start.Add(time.Duration(float64(span) * float64(written) / float64(size)))
		stamp := ts.Format("2006/01/02 15:04:05")
		pid := 1000 + i%4
		var line string
		kind := i % 20
		if quiet > 1 && i%(20*quiet) >= 8 { // only the first 8 of every 20*quiet lines fail
			kind = 8 + i%12
		}
		switch kind {
		case 0, 1:
			line = fmt.Sprintf("%s [error] %d#%d: *%d connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 203.0.113.%d, server: example.com, request: \"GET /api/items?page=%d HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"example.com\"\n", stamp, pid, pid, i, i%250, i%97)
		case 2, 3:
			line = fmt.Sprintf("%s [error] %d#%d: *%d recv() failed (104: Connection reset by peer) while reading response header from upstream, client: 198.51.100.%d, server: example.com, request: \"POST /checkout HTTP/2.0\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"example.com\", referrer: \"https://example.com/cart\"\n", stamp, pid, pid, i, i%250)
		case 4:
			line = fmt.Sprintf("%s [error] %d#%d: *%d upstream timed out (110: Connection timed out) while reading response header from upstream, client: 192.0.2.%d, server: example.com, request: \"GET /report.php?year=2026 HTTP/1.1\", upstream: \"fastcgi://127.0.0.1:9000\", host: \"example.com\"\n", stamp, pid, pid, i, i%250)
		case 5:
			line = fmt.Sprintf("%s [error] %d#%d: *%d FastCGI sent in stderr: \"PHP message: PHP Fatal error:  Uncaught Exception: boom in /var/www/app.php:%d\nStack trace:\n#0 {main}\n  thrown in /var/www/app.php on line %d\" while reading response header from upstream, client: 192.0.2.%d, server: example.com, request: \"GET /app.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"example.com\"\n", stamp, pid, pid, i, i%300, i%300, i%250)
		case 6:
			line = fmt.Sprintf("%s [error] %d#%d: *%d upstream prematurely closed connection while reading response header from upstream, client: 192.0.2.%d, server: example.com, request: \"GET /slow.php HTTP/1.1\", upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"example.com\"\n", stamp, pid, pid, i, i%250)
		case 7:
			line = fmt.Sprintf("%s [warn] %d#%d: *%d upstream server temporarily disabled while connecting to upstream, client: 192.0.2.%d, server: example.com, request: \"GET / HTTP/1.1\", upstream: \"fastcgi://[::1]:9000\", host: \"example.com\"\n", stamp, pid, pid, i, i%250)
		case 8, 9, 10, 11:
			line = fmt.Sprintf("%s [error] %d#%d: *%d open() \"/var/www/html/wp-content/uploads/2026/11/image-%d.png\" failed (2: No such file or directory), client: 203.0.113.%d, server: example.com, request: \"GET /wp-content/uploads/2026/11/image-%d.png HTTP/1.1\", host: \"example.com\", referrer: \"https://example.com/blog/post-%d\"\n", stamp, pid, pid, i, i, i%250, i, i%1000)
		case 12, 13, 14:
			line = fmt.Sprintf("%s [info] %d#%d: *%d client prematurely closed connection while sending response to client, client: 198.51.100.%d, server: example.com, request: \"GET /video/%d.mp4 HTTP/1.1\", host: \"example.com\"\n", stamp, pid, pid, i, i%250, i)
		case 15, 16:
			line = fmt.Sprintf("%s [error] %d#%d: *%d limiting requests, excess: 10.%03d by zone \"perip\", client: 198.51.100.%d, server: example.com, request: \"GET /login HTTP/1.1\", host: \"example.com\"\n", stamp, pid, pid, i, i%1000, i%250)
		case 17:
			line = fmt.Sprintf("%s [crit] %d#%d: *%d SSL_do_handshake() failed (SSL: error:0A00006C:SSL routines::bad key share) while SSL handshaking, client: 192.0.2.%d, server: 0.0.0.0:443\n", stamp, pid, pid, i, i%250)
		case 18:
			line = fmt.Sprintf("%s [error] %d#%d: *%d access forbidden by rule, client: 203.0.113.%d, server: example.com, request: \"GET /.env HTTP/1.1\", host: \"example.com\"\n", stamp, pid, pid, i, i%250)
		case 19:
			line = fmt.Sprintf("%s [notice] %d#%d: signal process started\n", stamp, pid, pid)
		}
		n, err := w.WriteString(line)
		if err != nil {
			f.Close()
			return err
		}
		written += int64(n)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// peakRSS reads this process's peak resident set size from /proc.
func peakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(l[6:])
		}
	}
	return "unknown"
}

// benchFile returns LOGSCAN_BENCH_FILE, or a generated 64 MB log.
func benchFile(b *testing.B) string {
	if p := os.Getenv("LOGSCAN_BENCH_FILE"); p != "" {
		return p
	}
	p := filepath.Join(b.TempDir(), "error.log")
	if err := writeRealisticLog(p, 64<<20, time.Now(), 8*time.Hour); err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkFullScan(b *testing.B) {
	path := benchFile(b)
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ResetTimer()
	var st Stats
	for i := 0; i < b.N; i++ {
		st, err = Scan(context.Background(), path, Options{Format: FormatNginx}, func(e *Entry) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Entries), "entries")
	b.Logf("read %d bytes, %d lines, %d entries, peak RSS %s", st.BytesRead, st.Lines, st.Entries, peakRSS())
}

func BenchmarkSeekLastHour(b *testing.B) {
	path := benchFile(b)
	b.ResetTimer()
	var st Stats
	var err error
	for i := 0; i < b.N; i++ {
		st, err = Scan(context.Background(), path, Options{Format: FormatNginx, Window: Window{Since: time.Now().Add(-time.Hour)}}, func(e *Entry) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.BytesRead), "bytes-read")
}

// TestBenchTool serves bench/logscan.sh; it does nothing unless
// LOGSCAN_BENCH_MODE is set:
//
//	gen:   write LOGSCAN_BENCH_SIZE bytes of log to LOGSCAN_BENCH_FILE, ending now
//	       (LOGSCAN_BENCH_MIX=quiet: 4% upstream failures instead of 40%)
//	full:  full scan of LOGSCAN_BENCH_FILE (Scan: through a mapping when it can)
//	full-read: the same parallel scan reading with read(2)
//	since: scan of the last LOGSCAN_BENCH_SINCE (a duration) of it
func TestBenchTool(t *testing.T) {
	mode, path := os.Getenv("LOGSCAN_BENCH_MODE"), os.Getenv("LOGSCAN_BENCH_FILE")
	if mode == "" || path == "" {
		t.Skip("set LOGSCAN_BENCH_MODE and LOGSCAN_BENCH_FILE (see bench/logscan.sh)")
	}
	switch mode {
	case "gen":
		size, err := strconv.ParseInt(os.Getenv("LOGSCAN_BENCH_SIZE"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		// 30 days: 1 GiB is then about 1.5 MB per hour.
		quiet := int64(1)
		if os.Getenv("LOGSCAN_BENCH_MIX") == "quiet" {
			quiet = 10
		}
		if err := writeLogMix(path, size, time.Now(), 30*24*time.Hour, quiet); err != nil {
			t.Fatal(err)
		}
		return
	case "full", "since", "full-read":
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	opt := Options{Format: FormatNginx}
	if mode == "since" {
		d, err := time.ParseDuration(os.Getenv("LOGSCAN_BENCH_SINCE"))
		if err != nil {
			t.Fatal(err)
		}
		opt.Window.Since = time.Now().Add(-d)
	}
	kinds := map[Kind]int{}
	count := func(e *Entry) error {
		kinds[e.Kind]++
		return nil
	}
	start := time.Now()
	var st Stats
	var err error
	if mode == "full-read" { // the parallel scan through read(2), without the mapping
		var f *os.File
		if f, err = os.Open(path); err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st.Files = 1
		opt = opt.withDefaults()
		err = scanParallel(context.Background(), countingReader{r: f, n: &st.BytesRead}, path, 0, true, opt, count, &st)
		st.Size = st.BytesRead
	} else {
		st, err = Scan(context.Background(), path, opt, count)
	}
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	fmt.Printf("logscan %s: %.3fs, %.0f MB/s, size %d, bytes read %d, lines %d, entries %d, peak RSS %s\n",
		mode, el.Seconds(), float64(st.BytesRead)/el.Seconds()/1e6, st.Size, st.BytesRead, st.Lines, st.Entries, peakRSS())
	fmt.Printf("logscan %s kinds: %v\n", mode, kinds)
}

// BenchmarkParseNginx parses the relevant entries of a generated log, one
// after the other: the per-entry cost of a full scan without the reading.
func BenchmarkParseNginx(b *testing.B) {
	path := filepath.Join(b.TempDir(), "error.log")
	if err := writeRealisticLog(path, 1<<20, time.Now(), time.Hour); err != nil {
		b.Fatal(err)
	}
	var raws []string
	if _, err := Scan(context.Background(), path, Options{Format: FormatNginx}, func(e *Entry) error {
		raws = append(raws, strings.Clone(e.Raw))
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	t := time.Now()
	b.ResetTimer()
	var e Entry
	for i := 0; i < b.N; i++ {
		e = Entry{}
		parseNginxAt(raws[i%len(raws)], t, &e)
	}
}
