package watch_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/watch"
)

// TestWatchFPMDownRealServers: real nginx and php-fpm, the watcher running.
// php-fpm stops → fpm-down holds within two diagnoses; N requests through
// nginx → fpmdoctor_upstream_failures_total grows by exactly N; php-fpm
// starts again → the error finding goes away and the pool is up.
func TestWatchFPMDownRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	statusPool(l)
	l.Start()
	l.MustStatus("/ok.php", 200)
	r := startWatch(t, l, nil)

	pool := map[string]string{"pool": "www", "scrape_uri": "unix:" + l.Path("run/php-fpm.sock")}
	body := r.waitMetric(t, "phpfpm_up", pool, "healthy pool up", func(v float64, n int) bool { return n == 1 && v == 1 })
	if v, n := sum(body, "phpfpm_pm_max_children_config", pool); n != 1 || v != 5 {
		t.Fatalf("phpfpm_pm_max_children_config = %v (%d series), want 5\n%s", v, n, body)
	}
	if _, n := sum(body, "fpmdoctor_finding", map[string]string{"severity": "error"}); n != 0 {
		t.Fatalf("error findings on a healthy lab\n%s", body)
	}
	if v, _ := sum(body, "fpmdoctor_last_check_timestamp_seconds", nil); v <= 0 {
		t.Fatalf("no last check timestamp\n%s", body)
	}

	l.StopFPM()
	// The diagnosis in flight when php-fpm stopped may have looked before;
	// the one after it must see it.
	st := r.afterDiagnoses(t, 2)
	if !hasFinding(st, "fpm-down", report.Error) {
		t.Fatalf("no fpm-down error finding two diagnoses after php-fpm stopped:\n%s", st.JSON)
	}
	body = r.waitMetric(t, "fpmdoctor_finding", map[string]string{"cause": "fpm-down", "severity": "error"}, "fpm-down finding exported",
		func(v float64, n int) bool { return n >= 1 && v >= 1 })
	before, _ := sum(body, "fpmdoctor_upstream_failures_total", nil)

	const n = 7
	for range n {
		l.MustStatus("/ok.php", 502)
	}
	failures := map[string]string{"cause": "fpm-down"}
	body = r.waitMetric(t, "fpmdoctor_upstream_failures_total", failures, "502s counted", func(v float64, _ int) bool { return v >= before+n })
	// Exactly n: wait for a few more polls of the log and look again.
	r.afterDiagnoses(t, 2)
	body = r.scrape(t)
	if v, _ := sum(body, "fpmdoctor_upstream_failures_total", nil); v != before+n {
		t.Fatalf("fpmdoctor_upstream_failures_total = %v, want %v (exactly the %d 502s)\n%s", v, before+n, n, body)
	}
	// Tied to the site and pool as diagnose ties the log entries.
	labels := ""
	for _, s := range parseSamples(body) {
		if s.name == "fpmdoctor_upstream_failures_total" && s.value > 0 {
			labels = s.labels["site"] + " | " + s.labels["pool"]
		}
	}
	if !strings.HasPrefix(labels, "lab.test ") || !strings.Contains(labels, "| www (") {
		t.Fatalf("failure series labels %q, want site lab.test and pool www\n%s", labels, body)
	}
	// The page draws the 502s of the window as a picture and lists the
	// finding; /api/findings is the report contract.
	page := get(t, r.url+"/")
	for _, want := range []string{"<svg", "fpm-down", "lab.test"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the page has no %q:\n%s", want, page)
		}
	}
	if js := get(t, r.url+"/api/findings"); !strings.Contains(js, `"cause": "fpm-down"`) {
		t.Fatalf("/api/findings has no fpm-down:\n%s", js)
	}
	if v, _ := sum(body, "phpfpm_up", pool); v != 0 {
		t.Fatalf("phpfpm_up = %v with php-fpm stopped\n%s", v, body)
	}

	l.MustStartFPM()
	st = r.waitState(t, "fpm-down resolved", func(s *watch.State) bool { return !hasFinding(s, "fpm-down", report.Error) })
	r.waitMetric(t, "fpmdoctor_finding", map[string]string{"cause": "fpm-down", "severity": "error"}, "fpm-down gone from /metrics",
		func(v float64, _ int) bool { return v == 0 })
	r.waitMetric(t, "phpfpm_up", pool, "pool up again", func(v float64, n int) bool { return n == 1 && v == 1 })
	_ = st
}

// TestWatchSaturatedPoolRealServers: every worker of the pool sleeps in a
// PHP script. /metrics keeps answering (it never waits on php-fpm), the
// pool shows phpfpm_up 0, and the diagnosis says the pool is saturated.
func TestWatchSaturatedPoolRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	statusPool(l)
	l.Edit("etc/php/fpm/pool.d/www.conf", "pm = dynamic", "pm = static")
	l.Edit("etc/php/fpm/pool.d/www.conf", "pm.max_children = 5", "pm.max_children = 2")
	l.Start()
	l.MustStatus("/ok.php", 200)
	r := startWatch(t, l, nil)
	pool := map[string]string{"pool": "www", "scrape_uri": "unix:" + l.Path("run/php-fpm.sock")}
	r.waitMetric(t, "phpfpm_up", pool, "healthy pool up", func(v float64, n int) bool { return n == 1 && v == 1 })

	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Load("/sleep.php?s=8", 4, 4, 15*time.Second)
	}()
	t.Cleanup(func() { <-done })

	st := r.waitState(t, "a saturated finding", func(s *watch.State) bool { return hasFinding(s, "pool-exhausted", report.Error) })
	// Scrapes answer while the pool is saturated: each has a 5 s client
	// deadline, and the pool reads are bounded by 500 ms in the background.
	for range 10 {
		body := r.scrape(t)
		if _, n := sum(body, "phpfpm_up", pool); n != 1 {
			t.Fatalf("no phpfpm_up for the pool\n%s", body)
		}
	}
	r.waitMetric(t, "phpfpm_up", pool, "saturated pool down", func(v float64, n int) bool { return n == 1 && v == 0 })
	body := r.scrape(t)
	if v, n := sum(body, "fpmdoctor_pool_status_age_seconds", pool); n != 1 || v <= 0 {
		t.Fatalf("status age %v (%d series): the last values must be served with their age\n%s", v, n, body)
	}
	if _, n := sum(body, "fpmdoctor_finding", map[string]string{"cause": "pool-exhausted", "severity": "error"}); n == 0 {
		t.Fatalf("no pool-exhausted series\n%s\nreport:\n%s", body, st.JSON)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}
