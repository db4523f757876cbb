package checks_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestFPMDownRealServers: nginx runs, php-fpm does not: a real 502, and the
// finding names the pool's listen line and the fastcgi_pass line.
func TestFPMDownRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.MustStartNginx()
	l.MustStatus("/ok.php", 502)

	r := diagnose(t, l)
	first(t, r, "fpm-down")
	f := finding(t, r, "fpm-down", report.Error)
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), lineOf(t, l.Expand(lab.DefaultPool), "listen ="))
	evidenceAt(t, f, l.Path("etc/nginx/conf.d/site.conf"), lineOf(t, lab.DefaultSite, "fastcgi_pass"))
	evidenceText(t, f, report.KindFact, "does not exist")
	if r.Sites[0].Steps[1].Step != "service" || r.Sites[0].Steps[1].Status != "fail" {
		t.Fatalf("site marks: %+v", r.Sites[0].Steps)
	}
}

// TestFPMConfigInvalidRealServers: php-fpm refuses pm.max_children = 0 and
// cannot start; the finding names the directive's line and php-fpm's rule.
func TestFPMConfigInvalidRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "pm.max_children = 5", "pm.max_children = 0")
	if err := l.StartFPM(); err == nil {
		t.Fatal("php-fpm started with pm.max_children = 0")
	}
	l.MustStartNginx()
	l.MustStatus("/ok.php", 502)

	r := diagnose(t, l)
	first(t, r, "fpm-config-invalid")
	f := finding(t, r, "fpm-config-invalid", report.Error)
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), lineOf(t, lab.DefaultPool, "pm.max_children"))
	evidenceText(t, f, report.KindConfig, "pm.max_children must be a positive value")
	// php-fpm -t confirms it.
	evidenceText(t, f, report.KindFact, "-t -y")
	for _, other := range r.Findings {
		if other.Cause == "fpm-down" {
			t.Fatalf("fpm-down reported next to fpm-config-invalid: the invalid config is the cause\n%s", dump(r))
		}
	}
}

// TestFPMDownManyPoolsRealServers: one stopped master with several pools is
// one root cause: one fpm-down finding naming the master, every pool and
// site listed under affected, every site's service step failed, and the
// 502s logged for the other pools attached to it instead of reported as
// separate outages.
func TestFPMDownManyPoolsRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	names := []string{"shop", "blog", "wiki"}
	ports := map[string]int{}
	for _, name := range names {
		ports[name] = lab.FreePort(t)
		l.Write("etc/php/fpm/pool.d/"+name+".conf", "["+name+"]\nuser = www-data\ngroup = www-data\nlisten = {{DIR}}/run/"+name+".sock\nlisten.owner = www-data\nlisten.group = www-data\npm = static\npm.max_children = 1\n")
		l.Write("etc/nginx/conf.d/"+name+".conf", "server {\n    listen 127.0.0.1:"+itoa(ports[name])+";\n    server_name "+name+".test;\n    root {{DIR}}/www;\n"+
			"    location ~ ^/a/.*\\.php$ {\n        include /etc/nginx/fastcgi.conf;\n        fastcgi_pass unix:{{DIR}}/run/"+name+".sock;\n    }\n"+
			"    location ~ \\.php$ {\n        include /etc/nginx/fastcgi.conf;\n        fastcgi_pass unix:{{DIR}}/run/"+name+".sock;\n    }\n}\n")
	}
	l.MustStartNginx()
	l.MustStatus("/ok.php", 502)
	for _, name := range names {
		resp, err := http.Get("http://127.0.0.1:" + itoa(ports[name]) + "/ok.php")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 502 {
			t.Fatalf("%s: status %d, want 502", name, resp.StatusCode)
		}
	}

	r := diagnose(t, l)
	down := r.FindingsOf("fpm-down")
	if len(down) != 1 {
		t.Fatalf("%d fpm-down findings, want one for the master\n%s", len(down), dump(r))
	}
	f := down[0]
	// Sites are keyed by fastcgi_pass, as a finding's site is: seven here.
	if f.Severity != report.Error || !strings.Contains(f.Title, "4 pools of "+l.FPMConf()) || f.Affected == nil || len(f.Affected.Pools) != 4 || len(f.Affected.Sites) != 7 {
		t.Fatalf("finding does not cover the master's four pools and sites:\n%s", dump(r))
	}
	// Each server name once, although shop, blog and wiki have two PHP
	// locations each.
	if strings.Count(f.Detail, "shop.test") != 1 {
		t.Fatalf("detail repeats server names: %s", f.Detail)
	}
	if f.Logs == nil || f.Logs.Count < 1 {
		t.Fatalf("the logged 502s are not attached:\n%s", dump(r))
	}
	// A probe per pool would make a stopped master of 5,000 pools a
	// finding of 5,000 lines: three are quoted, the rest counted.
	probes := 0
	for _, e := range f.Evidence {
		if strings.HasPrefix(e.Text, "FastCGI probe of ") {
			probes++
		}
	}
	if probes != 3 {
		t.Fatalf("%d probe facts quoted, want 3\n%s", probes, dump(r))
	}
	evidenceText(t, f, report.KindFact, "1 more FastCGI probe of this finding's pools and sites failed as well")
	for _, other := range r.Findings {
		if strings.HasSuffix(other.ID, "-past") {
			t.Fatalf("a logged failure of a pool of the stopped master is reported as a past outage:\n%s", dump(r))
		}
	}
	for _, site := range r.Sites {
		if site.Steps[1].Step != "service" || site.Steps[1].Status != "fail" {
			t.Fatalf("site %s: %+v", site.Name, site.Steps)
		}
	}
}

// TestNothingRunsRealServers: nginx and php-fpm are installed (configured)
// but neither runs. The report says so first, with the command that starts
// each, before anything about sites; once both run, it lists them as
// running with their pids and says nothing of it in text.
func TestNothingRunsRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	r := diagnose(t, l)
	if len(r.Services) != 2 {
		t.Fatalf("services: %+v", r.Services)
	}
	for _, sv := range r.Services {
		if sv.Running || sv.PID != 0 || !strings.Contains(sv.Start, sv.Config) {
			t.Fatalf("service %+v: want stopped, with a start command naming its config", sv)
		}
	}
	var b strings.Builder
	if err := report.Render(&b, r, report.FormatText, false); err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(b.String()), " ") // the text wraps
	if !strings.HasPrefix(flat, "Nothing runs:") || !strings.Contains(flat, "nginx ("+l.NginxConf()+") is not running; start it:") {
		t.Fatalf("text report does not open with what is stopped:\n%s", b.String())
	}

	l.Start()
	l.MustStatus("/ok.php", 200)
	r = diagnose(t, l)
	for _, sv := range r.Services {
		want := map[string]int{"nginx": l.NginxPid(), "php-fpm": l.FPMPid()}[sv.Name]
		if !sv.Running || sv.PID != want || sv.Start != "" {
			t.Fatalf("service %+v: want running with pid %d", sv, want)
		}
	}
	b.Reset()
	report.Render(&b, r, report.FormatText, false)
	if strings.Contains(b.String(), "not running") {
		t.Fatalf("running servers reported as stopped:\n%s", b.String())
	}
}

// TestFPMDownSiteNamesOnceRealServers: one server block passes PHP to the
// pool from three locations, one of them named (as Drupal's and Magento's
// published sites do). php-fpm is down: the detail names the server once,
// and the site line writes the named location as nginx.conf does.
func TestFPMDownSiteNamesOnceRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/nginx/conf.d/site.conf", "    location ~ \\.php$ {", `    location = /named.php { try_files /nonexistent @php; }
    location @php {
        include /etc/nginx/fastcgi.conf;
        fastcgi_param SCRIPT_FILENAME $document_root/ok.php;
        fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;
    }
    location = /exact.php {
        include /etc/nginx/fastcgi.conf;
        fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;
    }
    location ~ \.php$ {`)
	l.MustStartNginx()
	l.MustStatus("/ok.php", 502)
	l.MustStatus("/named.php", 502)

	r := diagnose(t, l)
	f := finding(t, r, "fpm-down", report.Error)
	if n := strings.Count(f.Detail, "lab.test"); n != 1 {
		t.Errorf("detail names lab.test %d times: %q", n, f.Detail)
	}
	var locations []string
	for _, s := range r.Sites {
		locations = append(locations, s.Location)
	}
	if !slices.Contains(locations, "location @php") || !slices.Contains(locations, "location = /exact.php") {
		t.Errorf("site locations %q", locations)
	}
}

// TestBOMPoolFileRealServers: a pool file saved on Windows (a UTF-8 byte
// order mark, CRLF line ends) and a php-fpm.conf with a BOM too: php-fpm
// runs and serves, and diagnose reports no refused configuration and no
// unknown entry.
func TestBOMPoolFileRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Write("etc/php/fpm/php-fpm.conf", "\uFEFF"+lab.DefaultFPMConf)
	l.Write("etc/php/fpm/pool.d/www.conf", "\uFEFF"+strings.ReplaceAll(lab.DefaultPool, "\n", "\r\n"))
	l.Start()
	l.MustStatus("/ok.php", 200)

	r := diagnose(t, l)
	noErrors(t, r)
	for _, f := range r.Findings {
		if f.Cause == "fpm-config-invalid" {
			t.Fatalf("a BOM is reported: %s\n%s", f.Title, dump(r))
		}
	}
	if len(r.Sites) != 1 || r.Sites[0].Pool != "www" {
		t.Fatalf("the pool of the BOM file is not linked: %+v", r.Sites)
	}
}

// TestFPMAccessLogRealServers: php-fpm cannot start when the directory of
// access.log is missing, or access.format has a token it does not know;
// diagnose names the line with php-fpm's own message, which php-fpm -t
// confirms.
func TestFPMAccessLogRealServers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, setting, at, want string }{
		{"missing directory", "access.log = {{DIR}}/nodir/access.log", "access.log =", "failed to open access log ({{DIR}}/nodir/access.log): No such file or directory (2)"},
		{"bad format", "access.log = {{DIR}}/log/access.log\naccess.format = \"%R %{x}s\"", "access.format =", "[pool www] wrong format for access.format '%R %{x}s'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := lab.New(t)
			l.Write("etc/php/fpm/pool.d/www.conf", lab.DefaultPool+tc.setting+"\n")
			if err := l.StartFPM(); err == nil {
				t.Fatal("php-fpm started")
			}
			l.MustStartNginx()
			l.MustStatus("/ok.php", 502)

			r := diagnose(t, l)
			first(t, r, "fpm-config-invalid")
			f := finding(t, r, "fpm-config-invalid", report.Error)
			want := l.Expand(tc.want)
			if f.Title != "php-fpm refuses its configuration: "+want {
				t.Errorf("title %q, want php-fpm's %q", f.Title, want)
			}
			evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), lineOf(t, l.Expand(lab.DefaultPool+tc.setting), tc.at))
			evidenceText(t, f, report.KindFact, "-t -y")
		})
	}
}
