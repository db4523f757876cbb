package checks_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestRetriedTriesRealServers: an upstream of three pools, two of them
// dead (a TCP pool and a unix one of a stopped php-fpm: refused, socket
// file missing) before a live one, max_fails=0 so nginx tries the dead ones on every pass of its
// round robin. Every request gets 200, by nginx's access log, while its
// error log fills with connect() failures, several for one request. The
// timeline must show no 502 and every one of those lines as a retried try,
// the finding stays a warning and the log summary says how many were
// retried. The control, with php-fpm stopped too: every request gets 502,
// the timeline counts exactly one 502 per request, and each request's
// earlier tries as retried.
func TestRetriedTriesRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	conf2 := l.WriteDeadServersUpstream()
	diagnose := func() *report.Report {
		t.Helper()
		r, _, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf(), conf2}})
		if err != nil {
			t.Fatalf("diagnose: %v", err)
		}
		return roundTrip(t, r)
	}
	l.Start()
	const n = 12
	for range n {
		l.MustStatus("/ok.php", 200)
	}
	accessLogged(t, l, `" 200 `, n)
	tries := countIn(t, l.Path("log/nginx-error.log"), "while connecting to upstream")
	if tries == 0 {
		t.Fatalf("no failed connect in nginx's error log: the dead servers were never tried")
	}

	r := diagnose()
	tl := sumTimeline(r)
	t.Logf("%d requests, all 200; %d failed connects logged; timeline: %+v", n, tries, tl)
	if tl.Nginx502 != 0 || tl.Nginx504 != 0 || tl.Retried != tries {
		t.Fatalf("timeline: %d× 502, %d× 504, %d retried; want 0, 0 and the %d failed connects nginx retried\n%s", tl.Nginx502, tl.Nginx504, tl.Retried, tries, dump(r))
	}
	retried := 0
	for _, f := range r.Findings {
		if f.Severity == report.Error {
			t.Fatalf("an error while every request succeeds: %s\n%s", f.Title, dump(r))
		}
		if f.Logs != nil {
			if f.Logs.Retried != f.Logs.Count {
				t.Errorf("%s: logs count %d, retried %d: every logged connect was retried", f.ID, f.Logs.Count, f.Logs.Retried)
			}
			retried += f.Logs.Retried
		}
	}
	finding(t, r, "fpm-down", report.Warning)
	if retried == 0 {
		t.Errorf("no finding carries the retried connects in its log summary\n%s", dump(r))
	}
	var text strings.Builder
	if err := report.Render(&text, r, report.FormatText, false); err != nil || !strings.Contains(text.String(), "nginx retried") {
		t.Errorf("the text timeline has no row of retried tries (%v):\n%s", err, text.String())
	}

	// Control: nothing answers, every request's last try fails.
	l.StopFPM()
	for range n {
		l.MustStatus("/ok.php", 502)
	}
	accessLogged(t, l, `" 502 `, n)
	all := countIn(t, l.Path("log/nginx-error.log"), "while connecting to upstream")
	r = diagnose()
	tl = sumTimeline(r)
	t.Logf("%d more requests, all 502; %d failed connects logged in all; timeline: %+v", n, all, tl)
	if tl.Nginx502 != n || tl.Retried != all-n {
		t.Fatalf("timeline: %d× 502, %d retried; want %d (one per request) and %d (the tries before each request's last)\n%s", tl.Nginx502, tl.Retried, n, all-n, dump(r))
	}
	finding(t, r, "fpm-down", report.Error)
}

// sumTimeline adds up the report's timeline.
func sumTimeline(r *report.Report) report.Bucket {
	var sum report.Bucket
	for _, b := range r.Timeline {
		sum.Nginx502 += b.Nginx502
		sum.Nginx504 += b.Nginx504
		sum.Retried += b.Retried
		sum.FPM += b.FPM
	}
	return sum
}

// accessLogged waits for nginx's access log to show want answers with
// status (nginx writes it once the response is sent, so it may lag the
// client by a moment), and fails on more or fewer.
func accessLogged(t *testing.T, l *lab.Lab, status string, want int) {
	t.Helper()
	path := l.Path("log/nginx-access.log")
	lab.WaitFor(func() bool { return countIn(t, path, status) >= want }, 10*time.Second)
	if got := countIn(t, path, status); got != want {
		b, _ := os.ReadFile(path)
		t.Fatalf("nginx's access log has %d answers %s, want %d:\n%s", got, status, want, b)
	}
}

// countIn counts the lines of path that contain s.
func countIn(t *testing.T, path, s string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}
