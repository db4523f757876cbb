package watch_test

import (
	"os"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/watch"
)

// TestWatchRetriedTriesRealServers: behind an upstream whose first two
// pools are dead (a stopped php-fpm's TCP and unix pools, max_fails=0 so
// nginx keeps trying them) and whose third answers, every request gets
// 200 while nginx logs failed connects. The watcher reads those lines
// (fpmdoctor_log_entries_total grows) but counts no upstream failure:
// nginx made each of them good on another server. The control, with the
// live php-fpm stopped too: exactly one failure per request, however
// many servers each request tried.
func TestWatchRetriedTriesRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	conf2 := l.WriteDeadServersUpstream()
	l.Start()
	r := startWatch(t, l, func(o *watch.Options) { o.Doctor.FPMConfs = append(o.Doctor.FPMConfs, conf2) })
	r.afterDiagnoses(t, 1)

	errLog := l.Path("log/nginx-error.log")
	before := connectLines(t, errLog)
	const n = 12
	for range n {
		l.MustStatus("/ok.php", 200)
	}
	logged := connectLines(t, errLog) - before
	if logged == 0 {
		t.Fatalf("no failed connect in nginx's error log: the dead servers were never tried")
	}
	connects := func(v float64, k int) bool { return v >= 1 }
	r.waitMetric(t, "fpmdoctor_log_entries_total", map[string]string{"source": "nginx"}, "failed connects read", connects)
	r.afterDiagnoses(t, 2)
	body := r.scrape(t)
	read, _ := sum(body, "fpmdoctor_log_entries_total", map[string]string{"source": "nginx"})
	t.Logf("%d requests, all 200: nginx logged %d failed connects, the watcher read %v", n, logged, read)
	if v, _ := sum(body, "fpmdoctor_upstream_failures_total", nil); v != 0 {
		t.Fatalf("fpmdoctor_upstream_failures_total = %v while every request got 200 (each failed connect was retried)\n%s", v, body)
	}

	l.StopFPM()
	for range n {
		l.MustStatus("/ok.php", 502)
	}
	r.waitMetric(t, "fpmdoctor_upstream_failures_total", nil, "502s counted", func(v float64, _ int) bool { return v >= n })
	r.afterDiagnoses(t, 2)
	body = r.scrape(t)
	all := connectLines(t, errLog) - before
	if v, _ := sum(body, "fpmdoctor_upstream_failures_total", nil); v != n {
		t.Fatalf("fpmdoctor_upstream_failures_total = %v after %d 502s (%d failed connects logged in all), want exactly %d\n%s", v, n, all, n, body)
	}
	t.Logf("%d more requests, all 502: %d failed connects logged in all, %d failures counted", n, all, n)
}

// connectLines counts nginx's failed connects in its error log.
func connectLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return strings.Count(string(b), "while connecting to upstream")
}

// TestWatchIgnoresOwnCheckRealServers: php-fpm is down; fpmdoctor fix's
// check request (a 502 before its repair) is no user's failure: the
// watcher counts exactly the users' 502s.
func TestWatchIgnoresOwnCheckRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	r := startWatch(t, l, nil)
	r.afterDiagnoses(t, 1)
	l.StopFPM()
	l.MustStatus("/fpmdoctor-check-0123456789ab.php", 502) // what fix sends before it repairs
	const n = 3
	for range n {
		l.MustStatus("/ok.php", 502)
	}
	r.waitMetric(t, "fpmdoctor_upstream_failures_total", nil, "502s counted", func(v float64, _ int) bool { return v >= n })
	r.afterDiagnoses(t, 2)
	body := r.scrape(t)
	if v, _ := sum(body, "fpmdoctor_upstream_failures_total", nil); v != n {
		t.Fatalf("fpmdoctor_upstream_failures_total = %v after %d users' 502s and fix's own check, want %d\n%s", v, n, n, body)
	}
}
