package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

func htmlSample() *Report {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	r := New()
	r.Sites = []Site{{Name: "blog.example.com", File: "/etc/nginx/sites-enabled/blog", Line: 3, Location: "location ~ \\.php$",
		Pass: "unix:/run/php/php7.4-fpm.sock", PassFile: "/etc/nginx/sites-enabled/blog", PassLine: 16,
		Steps: []StepResult{{"config", "ok"}, {"fastcgi_pass", "ok"}, {"listen", "fail"}, {"socket", "skip"}}}}
	r.Findings = []Finding{
		{ID: "1", Cause: "listen-mismatch", Severity: Error, Title: `no pool listens on <script>alert("x")</script>`,
			Detail: "nginx & php-fpm disagree", Site: "blog.example.com",
			Evidence: []Evidence{{Kind: KindConfig, File: "/etc/nginx/sites-enabled/blog", Line: 16, Text: "fastcgi_pass unix:/run/php/php7.4-fpm.sock;"},
				{Kind: KindConfig, File: "/etc/php/8.2/fpm/pool.d/www.conf", Line: 4, Text: "env[DB_PASSWORD] = " + Masked}},
			Logs: &LogSummary{Count: 12, First: t0, Last: t0.Add(3 * time.Minute), TopURLs: []URLCount{{"/wp-login.php", 9}}},
			Fix:  &Fix{Summary: "point fastcgi_pass at the 8.2 socket", Automatic: true}},
		{ID: "2", Cause: "pool-exhausted", Severity: Warning, Title: "pool www reached pm.max_children"},
	}
	r.Timeline = []Bucket{{Minute: t0, Nginx502: 5}, {Minute: t0.Add(2 * time.Minute), Nginx502: 7, FPM: 1}}
	r.Skip("probe", "offline mode (--root): pools are not probed")
	r.LogsRead = []LogRead{{Path: "/var/log/nginx/error.log", Size: 3 << 20, BytesRead: 1 << 20, Entries: 12}}
	return r
}

// The page is self-contained (no script, nothing fetched), escapes what
// the configs and logs put in it, and shows every part of the report.
func TestHTML(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, htmlSample(), FormatHTML, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "<script") {
		t.Error("the page holds a <script> (an unescaped title?)")
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=|@import|url\(`).FindString(out); m != "" {
		t.Errorf("the page refers to something outside itself: %q", m)
	}
	for _, want := range []string{
		"no pool listens on &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "nginx &amp; php-fpm disagree",
		"pool www reached pm.max_children", "/etc/nginx/sites-enabled/blog:16", "env[DB_PASSWORD] = ********",
		"point fastcgi_pass at the 8.2 socket", "fpmdoctor fix can do this", "12× between 2026-12-04 10:00:00",
		"<svg", Color502, "offline mode (--root): pools are not probed", "/var/log/nginx/error.log", "3.0 MiB",
		`class="hop fail"`, "@media print", "/run/php/php7.4-fpm.sock",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	var again bytes.Buffer
	_ = Render(&again, htmlSample(), FormatHTML, false)
	if again.String() != out {
		t.Error("two renders differ")
	}
}

func TestHTMLEmpty(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, New(), ""); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No PHP site found", "No problems found.", "The logs were quiet", "Every check ran."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("empty report lacks %q", want)
		}
	}
}
