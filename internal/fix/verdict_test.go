package fix

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestConcludeOneVerdict: every combination of what Apply did and what
// diagnose still reports gets exactly one verdict, and no verdict's text
// contradicts it ("Fixed and verified" never next to "Still failing", a
// not-verified action never under "verified").
func TestConcludeOneVerdict(t *testing.T) {
	plan := &Plan{Actions: []*Action{{Finding: report.Finding{Cause: "header-too-big"}, Summary: "raise fastcgi_buffer_size 4k → 12k"}}}
	still := []report.Finding{{Cause: "fpm-down", Title: "php-fpm is not running"}}
	cases := []struct {
		name      string
		res       Result
		remaining []report.Finding
		want      Outcome
		code      int
		has, not  []string
	}{
		{"verified", Result{Fixed: true, Restored: true}, nil, FixedVerified, 0, []string{"Fixed and verified."}, []string{"Still failing", "not verified"}},
		{"not verified", Result{Fixed: true, Restored: true, NotVerified: []string{"header-too-big: … (not verified: --no-replay)"}}, nil, AppliedNotVerified, 0,
			[]string{"Applied but not verified", "--no-replay"}, []string{"Fixed and verified", "Still failing"}},
		{"partly", Result{Fixed: true, Restored: true}, still, PartlyFixed, 1,
			[]string{"Partly fixed.", "[header-too-big] raise fastcgi_buffer_size", "Still failing (fix by hand):", "[fpm-down] php-fpm is not running"}, []string{"Fixed and verified", "Applied but not verified"}},
		{"partly, one not verified", Result{Fixed: true, Restored: true, NotVerified: []string{"x (not verified: --no-replay)"}}, still, PartlyFixed, 1,
			[]string{"Partly fixed.", "Not verified:", "Still failing"}, []string{"Fixed and verified"}},
		{"rolled back", Result{RolledBack: true, Restored: true, Err: errors.New("verification failed")}, nil, RolledBack, 1,
			[]string{"Failed and rolled back: verification failed", "byte-identical"}, []string{"Fixed", "Still failing"}},
		{"rollback incomplete", Result{RolledBack: true, Err: errors.New("x")}, nil, RollbackIncomplete, 2,
			[]string{"rollback did not complete"}, []string{"Fixed", "byte-identical"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Conclude(plan, &c.res, c.remaining)
			text := strings.Join(got.Lines, "\n")
			if got.Outcome != c.want || got.Code != c.code {
				t.Fatalf("outcome %q code %d, want %q %d\n%s", got.Outcome, got.Code, c.want, c.code, text)
			}
			for _, h := range c.has {
				if !strings.Contains(text, h) {
					t.Errorf("lacks %q:\n%s", h, text)
				}
			}
			for _, n := range c.not {
				if strings.Contains(text, n) {
					t.Errorf("has %q:\n%s", n, text)
				}
			}
		})
	}
}

// TestLoggedRequest: the replayed request comes from nginx's request and
// host fields (php-fpm's line has no host: the site's name), GET and HEAD
// only, never a cut line.
func TestLoggedRequest(t *testing.T) {
	ev := func(text string) report.Finding {
		return report.Finding{Evidence: []report.Evidence{{Kind: report.KindConfig, Text: "x"}, {Kind: report.KindLog, Text: text}}}
	}
	nginxLine := `2026/12/04 12:00:01 [error] 123#123: *5 upstream sent too big header while reading response header from upstream, client: 127.0.0.1, server: shop.test, request: "GET /header.php?n=8000 HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "shop.test:8080"`
	rp, err := loggedRequest(ev(nginxLine), nil, 0)
	if err != nil || rp.Method != "GET" || rp.URI != "/header.php?n=8000" || rp.Host != "shop.test:8080" {
		t.Fatalf("nginx line: %+v %v", rp, err)
	}
	fpmLine := `[04-Dec-2026 12:00:01] WARNING: [pool www] child 77, script '/srv/www/sleep.php' (request: "HEAD /sleep.php?s=2") execution timed out (1.001 sec), terminating`
	if rp, err := loggedRequest(ev(fpmLine), nil, 0); err != nil || rp.Method != "HEAD" || rp.URI != "/sleep.php?s=2" || rp.Host != "localhost" {
		t.Fatalf("php-fpm line: %+v %v", rp, err)
	}
	post := strings.Replace(nginxLine, `"GET `, `"POST `, 1)
	if _, err := loggedRequest(ev(post), nil, 0); err == nil || !strings.Contains(err.Error(), "POST") {
		t.Fatalf("POST replayed: %v", err)
	}
	if _, err := loggedRequest(ev(nginxLine[:200]+"…"), nil, 0); err == nil {
		t.Fatal("a cut line was replayed")
	}
}

// TestHeaderBuffer: the measured header plus FastCGI record overhead and
// a quarter of headroom, in whole pages.
func TestHeaderBuffer(t *testing.T) {
	for _, c := range []struct {
		n    int
		want int64
	}{{100, 4096}, {3000, 4096}, {3300, 8192}, {8000, 12288}, {12000, 16384}, {40000, 53248}} {
		if got := headerBuffer(c.n, 4096); got != c.want {
			t.Errorf("headerBuffer(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

// TestConcludeEarlierLogs: after a verified header-too-big fix of pool
// www, its log lines from before the change are history ("earlier"), not
// "still failing"; a line logged after the change, a finding with a live
// fact, or the same cause on another pool still fails.
func TestConcludeEarlierLogs(t *testing.T) {
	applied := time.Date(2026, 12, 4, 12, 0, 10, 5e8, time.UTC)
	plan := &Plan{Actions: []*Action{{Finding: report.Finding{Cause: "header-too-big", Pool: "www"}, Summary: "raise"}}}
	res := &Result{Fixed: true, Restored: true, AppliedAt: applied}
	logged := func(pool string, last time.Time, kinds ...string) report.Finding {
		f := report.Finding{Cause: "header-too-big", Pool: pool, Title: pool, Logs: &report.LogSummary{Count: 2, Last: last}}
		for _, k := range kinds {
			f.Evidence = append(f.Evidence, report.Evidence{Kind: k})
		}
		return f
	}
	before := applied.Add(-2 * time.Second)
	c := Conclude(plan, res, []report.Finding{logged("www", before, report.KindLog, report.KindConfig)})
	if c.Outcome != FixedVerified || len(c.Earlier) != 1 || len(c.Remaining) != 0 || !strings.Contains(strings.Join(c.Lines, "\n"), "history, not a failure now") {
		t.Fatalf("history: %q %+v", c.Outcome, c.Lines)
	}
	for name, f := range map[string]report.Finding{
		"logged after":  logged("www", applied.Add(time.Second), report.KindLog),
		"live fact":     logged("www", before, report.KindLog, report.KindFact),
		"another pool":  logged("shop", before, report.KindLog),
		"no log at all": {Cause: "header-too-big", Pool: "www"},
	} {
		if c := Conclude(plan, res, []report.Finding{f}); c.Outcome != PartlyFixed || len(c.Remaining) != 1 {
			t.Errorf("%s: %q remaining %d", name, c.Outcome, len(c.Remaining))
		}
	}
}
