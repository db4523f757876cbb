package logscan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

func addCorpus(f *testing.F, paths ...string) {
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range strings.Split(string(data), "\n") {
			f.Add(l)
		}
	}
}

func FuzzParseNginx(f *testing.F) {
	addCorpus(f, "testdata/nginx_observed.log")
	f.Add("nginx: [emerg] x in upstream \"a\" in :")
	f.Add("2026/11/26 19:13:50 [error] 1#1: *1 a, client: , server: , request: \"\", upstream: \"\", host: \"\"")
	f.Fuzz(func(t *testing.T, s string) {
		e, ok := ParseNginx(s, time.UTC)
		if !ok {
			return
		}
		if e.Status != 0 && e.Status != 500 && e.Status != 502 && e.Status != 504 {
			t.Errorf("status %d", e.Status)
		}
		_ = e.URI() + e.Path() + e.Method()
		NormalizeUpstream(s, len(s)%2 == 0)
	})
}

func FuzzParseFPM(f *testing.F) {
	addCorpus(f, "testdata/php-fpm_observed.log", "testdata/php-fpm_forms.log")
	f.Fuzz(func(t *testing.T, s string) {
		e, ok := ParseFPM(s, time.UTC)
		if ok {
			_ = e.URI()
		}
		NormalizeListen(s)
	})
}

func FuzzParseKernel(f *testing.F) {
	addCorpus(f, "testdata/kern.log", "testdata/dmesg.txt")
	f.Fuzz(func(t *testing.T, s string) {
		ParseKernel(s, time.UTC, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	})
}

func FuzzParseJournal(f *testing.F) {
	addCorpus(f, "testdata/journal.json")
	f.Fuzz(func(t *testing.T, s string) {
		ParseJournal([]byte(s), time.UTC)
	})
}

// FuzzScan feeds arbitrary bytes through the scanner in every format, with
// a small entry cap, and through the seek. Invariants: no panic, it ends,
// entries respect the cap, the seek returns an offset inside the data.
func FuzzScan(f *testing.F) {
	for _, p := range []string{"testdata/nginx_observed.log", "testdata/php-fpm_observed.log", "testdata/journal.json", "testdata/kern.log"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, uint8(0), int64(0))
	}
	f.Add([]byte("2026/11/26 19:13:50 [error] 1#1: FastCGI sent in stderr: \"\x00\xff\r\n\r\n"), uint8(1), int64(1795720000))
	f.Fuzz(func(t *testing.T, data []byte, format uint8, since int64) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(20 * time.Second): // a hang, not a slow machine
				panic(fmt.Sprintf("hang: format %d since %d data %q", format, since, data))
			}
		}()
		opt := Options{Format: Format(format % 5), Location: time.UTC, MaxEntry: 4096, All: format&8 != 0}
		if since != 0 {
			opt.Window.Since = time.Unix(since%4e9, 0)
			opt.Window.Until = opt.Window.Since.Add(time.Hour)
		}
		// Grouping the tries of requests holds no borrowed text and only
		// ever turns a retryable failure into a failed try.
		var tries Attempts
		_, err := ScanReader(context.Background(), bytes.NewReader(data), "fuzz", opt, func(e *Entry) error {
			if len(e.Raw) > 4096 {
				t.Errorf("entry of %d bytes exceeds the cap", len(e.Raw))
			}
			cond, failure := e.RetryCondition(), e.IsFailure()
			tries.Mark(e, int(since&3))
			if e.Retried && (!failure || cond == "" || e.Status != 0 || e.IsFailure()) {
				t.Errorf("retried %+v: failure %v condition %q", e, failure, cond)
			}
			return nil
		})
		if err != nil {
			t.Errorf("ScanReader: %v", err)
		}
		for _, ft := range []Format{FormatNginx, FormatFPM} {
			var n int64
			off, err := seekTime(context.Background(), bytes.NewReader(data), int64(len(data)), since, headClock(ft, time.UTC), &n)
			if err != nil || off < 0 || off > int64(len(data)) {
				t.Errorf("seek: %d %v", off, err)
			}
		}
	})
}

// The scanner's fast reading of a head line must always agree with the
// general one.
func FuzzMessageStart(f *testing.F) {
	addCorpus(f, "testdata/nginx_observed.log")
	f.Add("2000/01/01 00:00:00 []] 0#0: *1 ")
	f.Add("2026/11/26 19:13:50 [notice] 1#1: *3 x")
	f.Add("2026/11/26 19:13:50 [warn] 1#1:x: y")
	f.Add("2026/11/26 19:13:50 [error] " + strings.Repeat("1", 30) + "#" + strings.Repeat("2", 20) + ": *3 x")
	f.Fuzz(func(t *testing.T, s string) {
		if !isNginxHead(s) {
			return
		}
		if fast, general := lineMessageStart([]byte(s)), nginxMessageStart(s); fast != general {
			t.Errorf("%q: the scanner reads the message start at %d, the general reading at %d", s, fast, general)
		}
	})
}

// The inline searches must find exactly what the standard library finds.
func FuzzShortSearch(f *testing.F) {
	f.Add("203.0.113.9, server: example.com", byte(','))
	f.Add("GET /a?b=\"c\" HTTP/1.1\", upstream: \"x\"", byte('"'))
	f.Add("\x80\x81\xff\x00,,  , ", byte(0))
	f.Fuzz(func(t *testing.T, s string, c byte) {
		if got, want := indexByteShort(s, c), strings.IndexByte(s, c); got != want {
			t.Errorf("indexByteShort(%q, %q) = %d, want %d", s, c, got, want)
		}
		if got, want := indexCommaSpace(s), strings.Index(s, ", "); got != want {
			t.Errorf("indexCommaSpace(%q) = %d, want %d", s, got, want)
		}
	})
}

// FuzzSlowlog: any bytes, read as a slowlog stream, end without a panic
// or a hang, and every entry keeps its bounds.
func FuzzSlowlog(f *testing.F) {
	for _, p := range []string{"testdata/slowlog_observed.log", "testdata/slowlog_forms.log"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		// Cut and interleaved: halves of two blocks.
		f.Add(append(append([]byte{}, data[:len(data)/2]...), data[len(data)/3:]...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := ScanSlowlogReader(context.Background(), bytes.NewReader(b), "fuzz", Options{Location: time.UTC, Window: Window{Since: time.Date(2026, 12, 4, 10, 12, 2, 0, time.UTC)}}, func(e *SlowEntry) error {
			if len(e.Frames) > maxSlowFrames {
				t.Fatalf("%d frames", len(e.Frames))
			}
			if e.Time.Before(time.Date(2026, 12, 4, 10, 12, 2, 0, time.UTC)) {
				t.Fatalf("entry before the window: %v", e.Time)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
