package checks_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestUpstreamFailoverRealServers: an upstream of two pools, each of its
// own php-fpm. With one php-fpm stopped nginx fails over to the other and
// every request still gets 200: a warning (each request first pays a
// failed connect), not an error; with fastcgi_next_upstream off half the
// requests get 502: an error. With both stopped every request gets 502:
// an error. The site line lists both pools.
func TestUpstreamFailoverRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	conf2 := l.Write("etc/php/fpm2/php-fpm.conf", "[global]\npid = {{DIR}}/run/php-fpm2.pid\nerror_log = {{DIR}}/log/php-fpm2.log\ninclude = {{DIR}}/etc/php/fpm2/pool.d/*.conf\n")
	l.Write("etc/php/fpm2/pool.d/two.conf", strings.NewReplacer("[www]", "[two]", "run/php-fpm.sock", "run/php-fpm2.sock").Replace(lab.DefaultPool))
	l.Write("etc/nginx/conf.d/site.conf", "upstream php {\n    server unix:{{DIR}}/run/php-fpm.sock;\n    server unix:{{DIR}}/run/php-fpm2.sock;\n}\n"+
		strings.Replace(lab.DefaultSite, "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass php;", 1))
	l.Start() // the lab's php-fpm (pool www); the second one stays stopped
	for range 6 {
		l.MustStatus("/ok.php", 200)
	}
	diag := func() *report.Report {
		t.Helper()
		r, _, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf(), conf2}})
		if err != nil {
			t.Fatalf("diagnose: %v", err)
		}
		return roundTrip(t, r)
	}

	r := diag()
	for _, f := range r.Findings {
		if f.Severity == report.Error {
			t.Fatalf("an error while every request succeeds: %s\n%s", f.Title, dump(r))
		}
	}
	f := finding(t, r, "fpm-down", report.Warning)
	if !strings.Contains(f.Detail, "fails over") || !strings.Contains(f.Detail, "www") {
		t.Errorf("the detail does not say nginx fails over to pool www: %q", f.Detail)
	}
	if len(r.Sites) != 1 || !slices.Equal(r.Sites[0].Pools, []string{"www", "two"}) {
		t.Fatalf("site line: %+v", r.Sites)
	}
	var text strings.Builder
	if err := report.Render(&text, r, report.FormatText, false); err != nil || !strings.Contains(text.String(), "→ pools www, two") {
		t.Errorf("the text report does not list both pools (%v):\n%s", err, text.String())
	}
	t.Logf("one php-fpm down:\n%s", text.String())

	// Without failover on connect errors, round robin sends every other
	// request to the dead server: 502s, and an error.
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass php;", "fastcgi_pass php;\n        fastcgi_next_upstream off;")
	l.ReloadNginx()
	codes := map[int]int{}
	for range 6 {
		code, _, err := l.Get("/ok.php")
		if err != nil {
			t.Fatal(err)
		}
		codes[code]++
	}
	if codes[502] == 0 || codes[200] == 0 {
		t.Fatalf("with fastcgi_next_upstream off: %v", codes)
	}
	r = diag()
	if f := finding(t, r, "fpm-down", report.Error); strings.Contains(f.Detail, "fails over") {
		t.Errorf("fastcgi_next_upstream off, yet the detail speaks of failover: %q", f.Detail)
	}
	l.Edit("etc/nginx/conf.d/site.conf", "\n        fastcgi_next_upstream off;", "")
	l.ReloadNginx()

	l.StopFPM()
	l.MustStatus("/ok.php", 502)
	r = diag()
	f = finding(t, r, "fpm-down", report.Error)
	if strings.Contains(f.Detail, "fails over") {
		t.Errorf("with every server down the detail still speaks of failover: %q", f.Detail)
	}
}

// TestUpstreamFailoverDeadAddressRealServers: an upstream whose first
// server is a TCP port where nothing listens and no pool is configured, the
// second the lab's pool. nginx fails over and every request gets 200, so
// "no php-fpm pool listens on" that address is a warning naming the pool
// nginx goes to instead; with the pool stopped too it is an error again.
func TestUpstreamFailoverDeadAddressRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	dead := l.WriteFailoverUpstream()
	l.Start()
	for range 6 {
		l.MustStatus("/ok.php", 200)
	}
	r := diagnose(t, l)
	for _, f := range r.Findings {
		if f.Severity == report.Error {
			t.Fatalf("an error while every request succeeds: %s\n%s", f.Title, dump(r))
		}
	}
	f := finding(t, r, "listen-mismatch", report.Warning)
	if !strings.Contains(f.Title, dead) || !strings.Contains(f.Detail, "fails over") || !strings.Contains(f.Detail, "pool www") {
		t.Errorf("the warning does not name %s and the failover to pool www: %q / %q", dead, f.Title, f.Detail)
	}
	// The upstream has pool www already: the way out is the dead line,
	// not a second server line for the same pool.
	if want := "remove server " + dead + "; from upstream php (pool www is its server already)"; !strings.Contains(f.Fix.Summary, want) {
		t.Errorf("fix %q, want %q", f.Fix.Summary, want)
	}

	l.StopFPM()
	l.MustStatus("/ok.php", 502)
	r = diagnose(t, l)
	if f := finding(t, r, "listen-mismatch", report.Error); strings.Contains(f.Detail, "fails over") {
		t.Errorf("with every server down the detail still speaks of failover: %q", f.Detail)
	}
}
