package watch_test

import (
	"crypto/rand"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/watch"
)

// traffic sends requests to a lab whose php-fpm is down, one at a time,
// counting the 502s nginx answers. Hold mu to do something between two
// requests.
type traffic struct {
	mu   sync.Mutex
	n502 int
	sent int
}

func (tr *traffic) send(t *testing.T, l *lab.Lab, n int) {
	t.Helper()
	for range n {
		tr.mu.Lock()
		// Each line differs (the request names its number), as real
		// traffic's do: identical lines within one second would make a
		// copytruncate that regrows the file past the old offset between
		// two polls undetectable by content.
		code, _, err := l.Get("/ok.php?n=" + strconv.Itoa(tr.sent))
		if err == nil && code == 502 {
			tr.n502++
		}
		tr.sent++
		tr.mu.Unlock()
	}
}

func (tr *traffic) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.n502
}

// followersRunning waits until the log followers have polled: lines
// written before they opened the logs are the diagnosis' window, not
// counted.
func followersRunning(t *testing.T, r *running) {
	t.Helper()
	if err := lab.WaitFor(func() bool {
		for _, c := range r.w.Collectors() {
			if c.Name == watch.CollectorLogs && c.Runs >= 2 {
				return true
			}
		}
		return false
	}, waitLong); err != nil {
		t.Fatal("the log followers never polled")
	}
}

// exactFailures waits until fpmdoctor_upstream_failures_total equals want,
// then checks it stays there over two more diagnoses (nothing counted
// twice later).
func exactFailures(t *testing.T, r *running, want int, what string) {
	t.Helper()
	r.waitMetric(t, "fpmdoctor_upstream_failures_total", nil, what, func(v float64, _ int) bool { return v >= float64(want) })
	r.afterDiagnoses(t, 2)
	body := r.scrape(t)
	if v, _ := sum(body, "fpmdoctor_upstream_failures_total", nil); v != float64(want) {
		t.Fatalf("%s: fpmdoctor_upstream_failures_total = %v, want exactly %d\n%s", what, v, want, body)
	}
}

// TestWatchRotationRealServers: the nginx error log is rotated both ways
// while requests fail: by rename and USR1 (nginx reopens), and by
// copytruncate. Every 502 is counted once.
func TestWatchRotationRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.MustStartNginx() // php-fpm down: every request is a 502 and one log line
	r := startWatch(t, l, nil)
	r.waitState(t, "first diagnosis", func(s *watch.State) bool { return hasFinding(s, "fpm-down", report.Error) })
	followersRunning(t, r)

	tr := &traffic{}
	log := l.Path("log/nginx-error.log")
	done := make(chan struct{})
	var stop atomic.Bool
	go func() {
		defer close(done)
		for !stop.Load() {
			tr.send(t, l, 1)
		}
	}()

	// Rename rotation mid-traffic: nginx writes to the renamed file until
	// USR1 makes it reopen the path.
	waitSent(t, tr, 40)
	if err := os.Rename(log, log+".1"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(l.NginxPid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	// The worker reopens after the master, at its own pace: wait (traffic
	// going on) until its lines land in the new file.
	if err := lab.WaitFor(func() bool { st, err := os.Stat(log); return err == nil && st.Size() > 0 }, waitLong); err != nil {
		t.Fatal("nginx did not reopen its error log")
	}

	// copytruncate mid-traffic: copy, then truncate in place, between two
	// requests (as it must be for logrotate itself not to lose lines).
	// The follower must have read the new file once: lines written to a
	// file it never saw and truncated away before its next read are in
	// the copy with nothing to tie them to (rotations are hours apart, not
	// milliseconds). The last requests before the copy are not waited
	// for: the follower finds them in the copy by content.
	waitSent(t, tr, sentNow(tr)+30)
	tr.mu.Lock()
	if err := lab.WaitFor(func() bool {
		v, _ := sum(r.scrape(t), "fpmdoctor_upstream_failures_total", nil)
		return v >= float64(tr.n502)
	}, waitLong); err != nil {
		t.Fatal("the follower did not catch up after the rename")
	}
	for i := range 5 {
		if code, _, err := l.Get("/ok.php?unread=" + strconv.Itoa(i)); err == nil && code == 502 {
			tr.n502++
		}
		tr.sent++
	}
	copyFile(t, log, log+".2")
	if err := os.Truncate(log, 0); err != nil {
		t.Fatal(err)
	}
	tr.mu.Unlock()
	waitSent(t, tr, sentNow(tr)+30)
	stop.Store(true)
	<-done

	if tr.count() != tr.sent || tr.sent < 100 {
		t.Fatalf("%d of %d requests got 502", tr.count(), tr.sent)
	}
	exactFailures(t, r, tr.count(), "after rename and copytruncate rotations")
}

func sentNow(tr *traffic) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.sent
}

func waitSent(t *testing.T, tr *traffic, n int) {
	t.Helper()
	if err := lab.WaitFor(func() bool { tr.mu.Lock(); defer tr.mu.Unlock(); return tr.sent >= n }, waitLong); err != nil {
		t.Fatalf("traffic did not reach %d requests", n)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestWatchLogFaultsRealServers: the log filled with binary garbage, then
// replaced by a directory: one clear log line, the rest keeps serving, and
// counting is exact again once the log is back.
func TestWatchLogFaultsRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.MustStartNginx()
	r := startWatch(t, l, nil)
	r.waitState(t, "first diagnosis", func(s *watch.State) bool { return hasFinding(s, "fpm-down", report.Error) })
	followersRunning(t, r)
	log := l.Path("log/nginx-error.log")
	tr := &traffic{}

	// Binary garbage: random bytes, NULs and a 1 MiB line without a
	// newline, appended as another writer would.
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 256<<10)
	rand.Read(junk)
	f.Write(junk)
	f.Write([]byte("\n\x00\x00\x00\n"))
	f.Write([]byte(strings.Repeat("x", 1<<20) + "\n"))
	f.Close()
	tr.send(t, l, 20)
	exactFailures(t, r, tr.count(), "after binary garbage")

	// The log replaced by a directory.
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(log, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := lab.WaitFor(func() bool { return r.logs.Count("cannot follow log", log) >= 1 }, waitLong); err != nil {
		t.Fatalf("no log line about %s being a directory", log)
	}
	r.afterDiagnoses(t, 3)
	if n := r.logs.Count("cannot follow log", log); n != 1 {
		t.Fatalf("%d log lines about the directory, want one\n%s", n, r.logs.String())
	}
	r.scrape(t) // still serving

	// Back to a file: nginx reopens it on USR1; counting resumes, exact.
	if err := os.Remove(log); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(l.NginxPid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if err := lab.WaitFor(func() bool { st, err := os.Stat(log); return err == nil && st.Mode().IsRegular() }, waitLong); err != nil {
		t.Fatal("nginx did not recreate its error log")
	}
	if err := lab.WaitFor(func() bool { return r.logs.Count("following log again", log) >= 1 }, waitLong); err != nil {
		t.Fatalf("the follower did not pick the recreated log up\n%s", r.logs.String())
	}
	r.afterDiagnoses(t, 2)
	before, _ := sum(r.scrape(t), "fpmdoctor_upstream_failures_total", nil)
	tr2 := &traffic{}
	tr2.send(t, l, 15)
	exactFailures(t, r, int(before)+tr2.count(), "after the log came back")
}

// TestWatchServerChurnRealServers: php-fpm restarted every second for a
// few seconds and nginx reloaded while /metrics is scraped: every scrape
// answers, the watcher keeps running, and once php-fpm stays up there is
// no error finding.
func TestWatchServerChurnRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	statusPool(l)
	l.Start()
	r := startWatch(t, l, nil)
	r.waitState(t, "first diagnosis", func(*watch.State) bool { return true })

	stop := make(chan struct{})
	scraped := make(chan error, 1)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				scraped <- nil
				return
			default:
			}
			if _, err := r.scrapeErr(); err != nil {
				scraped <- err
				return
			}
			n++
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for range 4 {
		l.StopFPM()
		time.Sleep(500 * time.Millisecond)
		l.MustStartFPM()
		time.Sleep(500 * time.Millisecond)
	}
	for range 3 {
		l.ReloadNginx()
	}
	close(stop)
	if err := <-scraped; err != nil {
		t.Fatalf("a scrape failed during the churn: %v", err)
	}
	l.MustStatus("/ok.php", 200)
	r.waitState(t, "no error finding once php-fpm stays up", func(s *watch.State) bool {
		for _, f := range s.Report.Findings {
			if f.Severity == report.Error && !strings.HasSuffix(f.ID, "-past") {
				return false
			}
		}
		return true
	})
	pool := map[string]string{"pool": "www", "scrape_uri": "unix:" + l.Path("run/php-fpm.sock")}
	r.waitMetric(t, "phpfpm_up", pool, "pool up after the churn", func(v float64, n int) bool { return n == 1 && v == 1 })
}
