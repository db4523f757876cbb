package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// A log group spanning days shows dates: times of day alone would read as
// a window running backwards ("between 20:46:01 and 20:45:55").
func TestTextLogSpan(t *testing.T) {
	day := time.Date(2026, 11, 26, 20, 45, 55, 0, time.UTC)
	for _, tc := range []struct {
		first time.Time
		want  string
	}{
		{day.Add(-time.Hour), "between 19:45:55 and 20:45:55"},
		{day.Add(-30*24*time.Hour + 6*time.Second), "between 2026-10-27 20:46:01 and 2026-11-26 20:45:55"},
	} {
		r := &Report{Findings: []Finding{{ID: "x", Cause: "pool-exhausted", Severity: Error, Title: "t",
			Logs: &LogSummary{Count: 3, First: tc.first, Last: day}}}}
		var b bytes.Buffer
		if err := Render(&b, r, FormatText, false); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("want %q in:\n%s", tc.want, b.String())
		}
	}
}

// Text lines stay within the width asked for (a pipe's 80 columns, a
// phone's 50), counting characters (×, → take several bytes) and not
// colour codes; a title that fits stays on its line whatever the
// severity's label. Site chains and step marks wrap too.
func TestTextWidth(t *testing.T) {
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for _, termWidth := range []int{0, 50, 120} {
		textWidth := termWidth - 2
		if termWidth == 0 {
			textWidth = 78
		}
		for _, sev := range []Severity{Error, Warning, Info} {
			for _, color := range []bool{false, true} {
				for _, fill := range []string{"a", "×"} {
					label := map[Severity]string{Error: "ERROR", Warning: "WARN", Info: "INFO"}[sev]
					head := "1. " + label + " [x] "
					title := strings.Repeat(fill, textWidth-len(head)-2) + " z"
					long := strings.TrimSpace(strings.Repeat(fill+fill+fill+" → ", 40))
					steps := []StepResult{}
					for _, st := range []string{"config", "service", "fastcgi_pass", "listen", "socket", "permission", "logs", "limits", "applied"} {
						steps = append(steps, StepResult{Step: st, Status: "ok"})
					}
					r := &Report{
						Sites:    []Site{{Name: "shop.example.com", File: "/etc/nginx/sites-enabled/shop", Line: 1, Location: "location ~ \\.php$", Pass: "unix:/run/php/php8.2-fpm-shop.sock", Pool: "shop (/etc/php/8.2/fpm/php-fpm.conf)", Steps: steps}},
						Findings: []Finding{{ID: "x", Cause: "x", Severity: sev, Title: title, Detail: long, Fix: &Fix{Summary: strings.Repeat(fill, textWidth-9) + " z " + long}}},
						Timeline: []Bucket{{Minute: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC), Nginx502: 3}, {Minute: time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC), FPM: 1}},
					}
					var b bytes.Buffer
					if err := RenderText(&b, r, TextOptions{Color: color, Width: termWidth}); err != nil {
						t.Fatal(err)
					}
					out := ansi.ReplaceAllString(b.String(), "")
					if !strings.Contains(out, head+title+"\n") {
						t.Errorf("width %d, %s (color %v, %q): a title line of %d columns was wrapped:\n%s", termWidth, sev, color, fill, textWidth, out)
					}
					for _, l := range strings.Split(out, "\n") {
						if n := utf8.RuneCountInString(l); n > textWidth {
							t.Errorf("width %d, %s (color %v, %q): line of %d columns: %q", termWidth, sev, color, fill, n, l)
						}
					}
				}
			}
		}
	}
}

// The slowlog and PHP's errors take at most three lines of a finding in
// the text report, the most telling first; the JSON keeps everything.
func TestTextSlowAndPHPLines(t *testing.T) {
	slow := &SlowRequests{Count: 42, NginxFailures: 7,
		Scripts: []ScriptCount{{"/var/www/shop/cron.php", 38}, {"other", 4}},
		Frames: []SlowFrame{
			{Script: "/var/www/shop/cron.php", Function: "curl_exec", Caller: "fetch", File: "/var/www/shop/lib/Http.php", Line: 88, Count: 30},
			{Script: "/var/www/shop/cron.php", Function: "sleep", File: "/var/www/shop/cron.php", Line: 9, Count: 8},
			{Script: "/var/www/shop/a.php", Function: "???", File: "unknown", Count: 4},
		}}
	php := []PHPError{
		{Kind: "memory-exhausted", Count: 3, Message: "Allowed memory size of 16777216 bytes exhausted (tried to allocate 2097152 bytes) in /w/a.php on line 1", Status: 500},
		{Kind: "fatal", Count: 1, Message: "Uncaught Exception: x in /w/b.php:2"},
	}
	for _, tc := range []struct {
		f     Finding
		lines []string
	}{
		{Finding{Slow: slow}, []string{
			"slowlog: 42 slow requests in the window; 38 in /var/www/shop/cron.php, waiting in curl_exec() in fetch() at /var/www/shop/lib/Http.php:88 (nginx failed 7 requests on this pool meanwhile)",
			"slowlog: 8 in /var/www/shop/cron.php, waiting in sleep() at /var/www/shop/cron.php:9",
			"slowlog: 4 in /var/www/shop/a.php, waiting in ???()",
		}},
		{Finding{Slow: slow, PHPErrors: php}, []string{
			"slowlog: 42 slow requests",
			"slowlog: 8 in /var/www/shop/cron.php",
			"php: 3× Allowed memory size of 16777216 bytes exhausted (tried to allocate 2097152 bytes) in /w/a.php on line 1 (nginx answered 500)",
		}},
		{Finding{PHPErrors: php}, []string{"php: 3× Allowed memory", "php: 1× Uncaught Exception: x in /w/b.php:2"}},
	} {
		tc.f.ID, tc.f.Cause, tc.f.Severity, tc.f.Title = "x", "pool-exhausted", Error, "t"
		var b bytes.Buffer
		if err := Render(&b, &Report{Findings: []Finding{tc.f}}, FormatText, false); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range strings.Split(b.String(), "\n") {
			if strings.HasPrefix(l, "   slowlog: ") || strings.HasPrefix(l, "   php: ") {
				got = append(got, strings.TrimPrefix(l, "   "))
			}
		}
		if len(got) != len(tc.lines) {
			t.Fatalf("lines:\n%s", b.String())
		}
		for i, want := range tc.lines {
			if !strings.HasPrefix(got[i], want) {
				t.Errorf("line %d: %q, want prefix %q", i, got[i], want)
			}
		}
	}
}

// Beyond a screenful of sites the healthy ones collapse into a count and
// the broken ones come first, whatever their place in the config.
func TestTextCollapsesHealthySites(t *testing.T) {
	var sites []Site
	for i := range 500 {
		status := "ok"
		if i == 7 || i == 420 {
			status = "fail"
		}
		if i == 99 {
			status = "warn"
		}
		sites = append(sites, Site{Name: "site" + strconv.Itoa(i) + ".test", Steps: []StepResult{{Step: "config", Status: "ok"}, {Step: "service", Status: status}}})
	}
	var b bytes.Buffer
	if err := RenderText(&b, &Report{Sites: sites}, TextOptions{MaxSites: 5}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	i7, i420, i99, i0 := strings.Index(out, "site7.test"), strings.Index(out, "site420.test"), strings.Index(out, "site99.test"), strings.Index(out, "site0.test")
	if i7 < 0 || i420 < 0 || i99 < 0 || i0 < 0 || !(i7 < i420 && i420 < i99 && i99 < i0) {
		t.Fatalf("broken sites are not listed first (%d %d %d %d):\n%s", i7, i420, i99, i0, out)
	}
	if strings.Contains(out, "site2.test") || !strings.Contains(out, "495 more sites: every step checked is fine.") {
		t.Fatalf("healthy sites not collapsed:\n%s", out)
	}
	b.Reset()
	if err := RenderText(&b, &Report{Sites: sites}, TextOptions{MaxSites: 2}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "and 1 more sites with problems") || !strings.Contains(b.String(), "497 more sites: every step") {
		t.Fatalf("counts when broken sites overflow:\n%s", b.String())
	}
}

// The JSON report puts each site on one line and stays the same document:
// it decodes to what was encoded, with or without sites.
func TestJSONSitesOneLine(t *testing.T) {
	steps := []StepResult{{Step: "config", Status: "ok"}, {Step: "service", Status: "fail"}}
	for _, n := range []int{0, 1, 300} {
		r := New()
		r.Findings = append(r.Findings, Finding{ID: "x", Cause: "fpm-down", Severity: Error, Title: `"sites": [] <&>`, Evidence: []Evidence{}})
		for i := range n {
			r.Sites = append(r.Sites, Site{Name: "s" + strconv.Itoa(i), File: "/etc/nginx/x", Line: i, Pass: "unix:/run/x.sock", Steps: steps})
		}
		var b bytes.Buffer
		if err := Render(&b, r, FormatJSON, false); err != nil {
			t.Fatal(err)
		}
		var back Report
		if err := json.Unmarshal(b.Bytes(), &back); err != nil {
			t.Fatalf("%d sites: invalid JSON: %v\n%s", n, err, b.String())
		}
		want, _ := json.Marshal(r)
		got, _ := json.Marshal(&back)
		if !bytes.Equal(want, got) {
			t.Fatalf("%d sites: decoded report differs:\n%s\n%s", n, want, got)
		}
		if lines := strings.Count(b.String(), "\n"); n == 300 && lines > 300+40 {
			t.Fatalf("%d lines for 300 sites: sites are not one line each", lines)
		}
	}
}

// The text timeline shows failed tries nginx made good on another server
// on their own row, never among the 502s, and only when there are any.
func TestTextTimelineRetried(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	var b strings.Builder
	writeTimeline(&b, []Bucket{{Minute: t0, Retried: 12}, {Minute: t0.Add(2 * time.Minute), Nginx502: 1}}, palette{}, 80)
	out := b.String()
	for _, want := range []string{"  nginx 502/504  ··█\n", "  nginx retried  r·· (a server failed, another answered)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
	b.Reset()
	writeTimeline(&b, []Bucket{{Minute: t0, Nginx502: 1}}, palette{}, 80)
	if strings.Contains(b.String(), "retried") {
		t.Errorf("a retried row without any:\n%s", b.String())
	}
}

// TestTextSkippedAfterTimeline: "Not checked" starts a paragraph of its
// own, not a line glued under the timeline's last row.
func TestTextSkippedAfterTimeline(t *testing.T) {
	r := &Report{Timeline: []Bucket{{Minute: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), Nginx502: 1}}}
	r.Skip("probe", "probed 64 of 120 fastcgi_pass targets")
	var b strings.Builder
	if err := Render(&b, r, FormatText, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n\nNot checked:\n") {
		t.Fatalf("no blank line before Not checked:\n%s", b.String())
	}
}
