package checks_test

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/labproc"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// These tests drive real HTTP load (or scripts that sleep, crash or
// allocate) through real nginx into real php-fpm, then check that the
// logs are read, tied to the pool, counted and correlated.

const staticOne = "pm = static\npm.max_children = 1\n"
const dynamicDefault = "pm = dynamic\npm.max_children = 5\npm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\n"

func TestPoolExhaustedUnderLoadRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", dynamicDefault, "pm = dynamic\npm.max_children = 2\npm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 1\n")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 1s;\n        fastcgi_pass")
	l.Start()
	// 8 requests of 2.5 s on 2 workers, all at once: php-fpm's
	// maintenance (every second) finds no idle worker and says so; queued
	// requests wait past the 1 s read timeout: 504.
	counts := l.Load("/sleep.php?s=2.5", 8, 8, 10*time.Second)
	if counts[504] == 0 {
		t.Fatalf("no 504 under load: %v", counts)
	}
	// php-fpm's maintenance runs once a second: wait for its warning.
	l.WaitForLog("log/php-fpm.log", "server reached pm.max_children", 1)
	r := diagnose(t, l)
	first(t, r, "pool-exhausted")
	f := finding(t, r, "pool-exhausted", report.Error)
	evidenceText(t, f, report.KindLog, "server reached pm.max_children setting (2)")
	evidenceText(t, f, report.KindLog, "upstream timed out (110")
	evidenceText(t, f, report.KindConfig, "pm.max_children = 2")
	if f.Logs == nil || f.Logs.Count < 1 || len(f.Logs.TopURLs) == 0 || f.Logs.TopURLs[0].URL != "/sleep.php" {
		t.Fatalf("log summary: %+v", f.Logs)
	}
	// The 504s are listed too, as the symptom.
	if up := finding(t, r, "upstream-timeout", report.Warning); up.Logs.Count != counts[504] {
		t.Fatalf("upstream-timeout counts %d, nginx answered %d × 504", up.Logs.Count, counts[504])
	}
	if len(r.Timeline) == 0 || r.Timeline[len(r.Timeline)-1].Nginx504 == 0 {
		t.Fatalf("timeline: %+v", r.Timeline)
	}
}

func TestBacklogOverflowUnderLoadRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", dynamicDefault, staticOne+"listen.backlog = 1\n")
	l.Start()
	counts := l.Load("/sleep.php?s=1", 10, 10, 15*time.Second)
	if counts[502] == 0 {
		t.Fatalf("no 502 from a full backlog: %v", counts)
	}
	r := diagnose(t, l)
	f := finding(t, r, "backlog-overflow", report.Error)
	evidenceText(t, f, report.KindLog, "(11: Resource temporarily unavailable)")
	if f.Logs.Count != counts[502] {
		t.Fatalf("counted %d overflows, nginx answered %d × 502", f.Logs.Count, counts[502])
	}
	evidenceText(t, f, report.KindConfig, "listen.backlog = 1")
}

func TestRequestTimeoutRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes", "catch_workers_output = yes\nrequest_terminate_timeout = 1s")
	l.Start()
	l.MustStatus("/sleep.php?s=3", 502)
	r := diagnose(t, l)
	first(t, r, "request-timeout")
	f := finding(t, r, "request-timeout", report.Error)
	evidenceText(t, f, report.KindLog, "execution timed out")
	evidenceText(t, f, report.KindLog, "sleep.php")
	evidenceText(t, f, report.KindConfig, "request_terminate_timeout = 1s")
}

// TestRequestTimeoutStatic: no traffic, only a terminate timeout shorter
// than nginx's default 60 s read timeout: a warning, with both settings.
func TestRequestTimeoutStaticRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes", "catch_workers_output = yes\nrequest_terminate_timeout = 30s")
	l.Start()
	l.MustStatus("/ok.php", 200)
	r := diagnose(t, l)
	f := finding(t, r, "request-timeout", report.Warning)
	evidenceText(t, f, report.KindConfig, "request_terminate_timeout = 30s")
	evidenceText(t, f, report.KindFact, "default is 1m0s")
	noErrors(t, r)
}

func TestWorkerCrashRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	for range 3 {
		l.MustStatus("/crash.php?sig=11", 502)
	}
	// The master logs each exit when it reaps the child, just after nginx
	// has answered.
	l.WaitForLog("log/php-fpm.log", "exited on signal 11", 3)
	r := diagnose(t, l)
	first(t, r, "worker-crash")
	f := finding(t, r, "worker-crash", report.Error)
	if !strings.Contains(f.Title, "3 times on signal 11 (SIGSEGV)") || !strings.Contains(f.Detail, "not configuration") {
		t.Fatalf("title %q detail %q", f.Title, f.Detail)
	}
	evidenceText(t, f, report.KindLog, "exited on signal 11 (SIGSEGV)")
	evidenceText(t, f, report.KindLog, "crash.php")
}

func TestHeaderTooBigRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/header.php?n=8000", 502)
	l.MustStatus("/header.php?n=100", 200)
	r := diagnose(t, l)
	first(t, r, "header-too-big")
	f := finding(t, r, "header-too-big", report.Error)
	evidenceText(t, f, report.KindLog, "upstream sent too big header")
	evidenceText(t, f, report.KindConfig, "nginx's default 4096 bytes")
}

func TestUpstreamTimeoutRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 1s;\n        fastcgi_pass")
	l.Start()
	l.MustStatus("/sleep.php?s=2", 504)
	r := diagnose(t, l)
	first(t, r, "upstream-timeout")
	f := finding(t, r, "upstream-timeout", report.Error)
	evidenceText(t, f, report.KindLog, "upstream timed out (110")
	evidenceText(t, f, report.KindConfig, "fastcgi_read_timeout 1s;")
}

// TestUpstreamTimeoutAfterChangeRealServers: a 2 s request times out
// against fastcgi_read_timeout 1s (504). A reload that changes nothing
// leaves the config that timed it out running: still an error. After
// fastcgi_read_timeout is raised to 5s and nginx reloaded, the logged
// 504 predates a changed config; nginx does not log how long the request
// waited, so diagnose says it cannot tell (a warning), never "not present
// now" and never a current error.
func TestUpstreamTimeoutAfterChangeRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 1s;\n        fastcgi_pass")
	l.Start()
	l.MustStatus("/sleep.php?s=2", 504)
	l.WaitForLog("log/nginx-error.log", "upstream timed out", 1)
	l.ReloadNginx()
	finding(t, diagnose(t, l), "upstream-timeout", report.Error)

	// The file's time must show the change after the line's second.
	time.Sleep(1100 * time.Millisecond)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_read_timeout 1s;", "fastcgi_read_timeout 5s;")
	l.ReloadNginx()
	l.MustStatus("/sleep.php?s=2", 200)
	r := diagnose(t, l)
	f := finding(t, r, "upstream-timeout", report.Warning)
	if !strings.Contains(f.Title, "cannot be told") || f.Logs == nil || f.Logs.Count != 1 {
		t.Fatalf("%q %+v\n%s", f.Title, f.Logs, dump(r))
	}
	evidenceText(t, f, report.KindLog, "upstream timed out (110")
	evidenceText(t, f, report.KindConfig, "fastcgi_read_timeout 5s;")
	evidenceText(t, f, report.KindFact, "modified ")
}

func TestMemoryLimitRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/alloc.php?limit=16M", 500)
	r := diagnose(t, l)
	f := finding(t, r, "worker-oom", report.Warning)
	evidenceText(t, f, report.KindLog, "Allowed memory size of 16777216 bytes exhausted")
}

// TestHealthyBusySiteRealServers: sustained load within capacity reports
// no error finding.
func TestHealthyBusySiteRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	counts := l.Load("/ok.php", 200, 4, 5*time.Second)
	if counts[200] != 200 {
		t.Fatalf("healthy load: %v", counts)
	}
	noErrors(t, diagnose(t, l))
}

// TestKernelOOMKillRealServers: php-fpm runs in a memory-limited cgroup;
// a script allocating without a memory_limit is killed by the kernel's OOM
// killer, php-fpm logs the SIGKILL, nginx answers 502, and fpmdoctor ties
// the kernel's record to the pool.
func TestKernelOOMKillRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", dynamicDefault, staticOne)
	l.Start()
	l.MustLimitFPMMemory(96 << 20)
	l.MustStatus("/alloc.php?limit=-1", 502)
	// The master reaps the killed worker just after nginx gave up on it.
	l.WaitForLog("log/php-fpm.log", "exited on signal 9", 1)
	r := diagnose(t, l)
	f := finding(t, r, "worker-oom", report.Error)
	evidenceText(t, f, report.KindLog, "Killed process")
	evidenceText(t, f, report.KindLog, "exited on signal 9 (SIGKILL)")
	if f.Pool == "" {
		t.Fatalf("OOM kill not tied to the pool: %+v", f)
	}
	// Correlated with the 502 nginx logged for the killed request.
	if !strings.Contains(f.Detail, "nginx failed 1 request within") {
		t.Fatalf("kill not correlated with nginx's 502: %q\n%s", f.Detail, dump(r))
	}
	evidenceText(t, f, report.KindLog, "alloc.php")
	if f.Logs == nil || len(f.Logs.TopURLs) != 1 || f.Logs.TopURLs[0] != (report.URLCount{URL: "/alloc.php", Count: 1}) {
		t.Fatalf("log summary: %+v", f.Logs)
	}
}

// TestWorkersKilledOutsideRealServers: two workers killed with kill -9
// (no OOM killer): the finding counts them in a sentence that reads
// ("2 workers of pool www were killed", not "2 workers were of pool www
// killed").
func TestWorkersKilledOutsideRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	workers := labproc.Children(l.FPMPid())
	if len(workers) < 2 {
		t.Fatalf("php-fpm has %d workers, want 2", len(workers))
	}
	for _, pid := range workers[:2] {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	l.WaitForLog("log/php-fpm.log", "exited on signal 9 (SIGKILL)", 2)
	r := diagnose(t, l)
	f := finding(t, r, "worker-oom", report.Warning)
	if !strings.HasPrefix(f.Title, "2 workers of pool www were killed with SIGKILL, with no OOM-killer record") {
		t.Fatalf("title %q\n%s", f.Title, dump(r))
	}
}

// TestWorkersOfSeveralPoolsKilledOutsideRealServers: one worker of each
// of two pools killed with SIGKILL is one incident: one finding that
// counts both pools and quotes a kill of each, not both kills filed under
// the first pool.
func TestWorkersOfSeveralPoolsKilledOutsideRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Write("etc/php/fpm/pool.d/shop.conf", strings.NewReplacer("[www]", "[shop]", "run/php-fpm.sock", "run/php-fpm-shop.sock").Replace(lab.DefaultPool))
	l.Start()
	byPool := map[string]int{}
	for _, pid := range labproc.Children(l.FPMPid()) {
		cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		if _, pool, ok := strings.Cut(strings.TrimRight(string(cmd), "\x00 "), "pool "); ok && byPool[pool] == 0 {
			byPool[pool] = pid
		}
	}
	if byPool["www"] == 0 || byPool["shop"] == 0 {
		t.Fatalf("workers by pool: %v", byPool)
	}
	for _, pid := range byPool {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	l.WaitForLog("log/php-fpm.log", "exited on signal 9 (SIGKILL)", 2)
	r := diagnose(t, l)
	kills := r.FindingsOf("worker-oom")
	if len(kills) != 1 {
		t.Fatalf("%d worker-oom findings, want 1\n%s", len(kills), dump(r))
	}
	f := kills[0]
	if f.Severity != report.Warning || f.Pool != "" || !strings.HasPrefix(f.Title, "2 workers of 2 pools (") || !strings.Contains(f.Title, "www") || !strings.Contains(f.Title, "shop") {
		t.Fatalf("severity %s pool %q title %q", f.Severity, f.Pool, f.Title)
	}
	evidenceText(t, f, report.KindLog, "[pool www] child")
	evidenceText(t, f, report.KindLog, "[pool shop] child")
}
