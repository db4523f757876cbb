package checks_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// slowFnScript sleeps in a named function: its slowlog frames are
// usleep() called at line 3 inside wait_for_backend(), called at line 6.
const slowFnScript = `<?php
function wait_for_backend($s) {
    usleep((int)($s * 1e6));
}
function fetch_data($s) {
    wait_for_backend($s);
    return "data";
}
$s = isset($_GET['s']) ? (float)$_GET['s'] : 3;
echo fetch_data($s), "\n";
`

// TestSlowlogNamesScriptRealServers: a script that sleeps in a named
// function exhausts a pool of two workers under eight concurrent
// requests through nginx; nginx answers 504; pool-exhausted names the
// script, the function it waits in and the line, from the slowlog.
func TestSlowlogNamesScriptRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Write("www/slowfn.php", slowFnScript)
	l.Edit("etc/php/fpm/pool.d/www.conf", dynamicDefault, "pm = dynamic\npm.max_children = 2\npm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 1\n"+
		"slowlog = {{DIR}}/log/www.slow.log\nrequest_slowlog_timeout = 1s\n")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 2s;\n        fastcgi_pass")
	l.Start()
	counts := l.Load("/slowfn.php?s=3", 8, 8, 15*time.Second)
	if counts[504] == 0 {
		t.Fatalf("no 504 under load: %v", counts)
	}
	l.WaitForLog("log/php-fpm.log", "server reached pm.max_children", 1)
	l.WaitForLog("log/www.slow.log", "script_filename", 2)
	r := diagnose(t, l)
	script := l.Path("www/slowfn.php")
	for _, cause := range []string{"pool-exhausted", "upstream-timeout"} {
		var f report.Finding
		for _, x := range r.Findings {
			if x.Cause == cause {
				f = x
			}
		}
		sl := f.Slow
		if sl == nil || sl.Count < 2 || sl.Slowlog != l.Path("log/www.slow.log") {
			t.Fatalf("%s: slow requests %+v\n%s", cause, sl, dump(r))
		}
		if sl.Scripts[0].Script != script || sl.Scripts[0].Count != sl.Count {
			t.Fatalf("%s: scripts %+v", cause, sl.Scripts)
		}
		want := report.SlowFrame{Script: script, Function: "usleep", Caller: "wait_for_backend", File: script, Line: 3, Count: sl.Count}
		if len(sl.Frames) != 1 || sl.Frames[0] != want {
			t.Fatalf("%s: frames %+v, want %+v", cause, sl.Frames, want)
		}
		if sl.NginxFailures != counts[504] {
			t.Fatalf("%s: %d nginx failures tied to the slow requests, nginx answered %d × 504", cause, sl.NginxFailures, counts[504])
		}
		evidenceText(t, f, report.KindLog, "script_filename = "+script+" | usleep() "+script+":3 | wait_for_backend() "+script+":6")
	}
	// The text report says it in its slowlog line.
	var b strings.Builder
	if err := report.Render(&b, r, report.FormatText, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "waiting in usleep() in wait_for_backend() at "+script+":3") {
		t.Fatalf("text report:\n%s", b.String())
	}
	if strings.Contains(b.String(), "slowlog-disabled") {
		t.Fatalf("slowlog is on, yet:\n%s", b.String())
	}
}

// TestSlowlogDisabledRealServers: the same exhaustion without a slowlog:
// the findings say how to get one, and slowlog-disabled (info) names the
// pool.
func TestSlowlogDisabledRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Write("www/slowfn.php", slowFnScript)
	l.Edit("etc/php/fpm/pool.d/www.conf", dynamicDefault, "pm = dynamic\npm.max_children = 2\npm.start_servers = 1\npm.min_spare_servers = 1\npm.max_spare_servers = 1\n")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 1s;\n        fastcgi_pass")
	l.Start()
	if counts := l.Load("/slowfn.php?s=2.5", 6, 6, 15*time.Second); counts[504] == 0 {
		t.Fatalf("no 504 under load: %v", counts)
	}
	l.WaitForLog("log/php-fpm.log", "server reached pm.max_children", 1)
	r := diagnose(t, l)
	f := finding(t, r, "pool-exhausted", report.Error)
	if f.Slow != nil || !strings.Contains(f.Fix.Summary, "enable request_slowlog_timeout to see which scripts hold workers") {
		t.Fatalf("pool-exhausted: %+v", f)
	}
	d := finding(t, r, "slowlog-disabled", report.Info)
	if d.Pool != f.Pool || !strings.Contains(d.Detail, "ran out of workers") {
		t.Fatalf("slowlog-disabled: %+v", d)
	}
	evidenceText(t, d, report.KindFact, "sets no slowlog")
}

// TestMemoryLimitFatalRealServers: a script exceeding memory_limit ends
// with PHP's fatal error, which nginx passes on as a 500 (not a 502):
// worker-oom counts the error per place and says nginx answered 500.
func TestMemoryLimitFatalRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	for range 2 {
		l.MustStatus("/alloc.php?limit=16M", 500)
	}
	l.WaitForLog("log/php-fpm.log", "Allowed memory size", 2)
	r := diagnose(t, l)
	f := finding(t, r, "worker-oom", report.Warning)
	if len(f.PHPErrors) != 1 {
		t.Fatalf("php errors %+v\n%s", f.PHPErrors, dump(r))
	}
	pe := f.PHPErrors[0]
	if pe.Kind != "memory-exhausted" || pe.File != l.Path("www/alloc.php") || pe.Line != 1 || pe.Count != 2 || pe.Status != 500 ||
		!strings.HasPrefix(pe.Message, "Allowed memory size of 16777216 bytes exhausted") {
		t.Fatalf("php error %+v", pe)
	}
	// No 502/504 was caused: nothing says otherwise.
	for _, x := range r.Findings {
		if x.Severity == report.Error {
			t.Fatalf("error finding from a 500: %+v", x)
		}
	}
}

// TestMemoryLimitErrorLogRealServers: the pool sends PHP's errors to its
// own php_admin_value[error_log] file: the fatal error is read there,
// tied to the pool although the line names none, and counted per place.
func TestMemoryLimitErrorLogRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	errLog := l.Write("log/www-php-error.log", "")
	if err := os.Chown(errLog, 33, 33); err != nil { // www-data on Debian
		t.Fatal(err)
	}
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes", "catch_workers_output = yes\nphp_admin_value[error_log] = "+errLog+"\nphp_admin_flag[log_errors] = on")
	l.Start()
	for range 3 {
		l.MustStatus("/alloc.php?limit=16M", 500)
	}
	l.WaitForLog("log/www-php-error.log", "Allowed memory size", 3)
	r := diagnose(t, l)
	f := finding(t, r, "worker-oom", report.Warning)
	if f.Pool == "" || len(f.PHPErrors) != 1 {
		t.Fatalf("worker-oom %+v\n%s", f, dump(r))
	}
	pe := f.PHPErrors[0]
	if pe.Kind != "memory-exhausted" || pe.File != l.Path("www/alloc.php") || pe.Line != 1 || pe.Count != 3 {
		t.Fatalf("php error %+v", pe)
	}
	// PHP wrote the error to the file only: nginx's log says nothing of
	// it, so no status is claimed (the client got 500, MustStatus saw).
	if pe.Status != 0 {
		t.Fatalf("status %d claimed without nginx's word", pe.Status)
	}
}

// TestWorkerCrashAfterFatalRealServers: a script hits memory_limit and
// its shutdown function then crashes the worker (SIGSEGV): worker-crash
// carries what PHP said just before the worker died.
func TestWorkerCrashAfterFatalRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Write("www/fatalcrash.php", "<?php\nregister_shutdown_function(function () { posix_kill(getmypid(), 11); });\nini_set('memory_limit', '16M');\n$a = [];\nwhile (true) { $a[] = str_repeat('x', 1 << 20); }\n")
	l.Start()
	code, _, err := l.Get("/fatalcrash.php")
	if err != nil {
		t.Fatal(err)
	}
	l.WaitForLog("log/php-fpm.log", "exited on signal 11", 1)
	r := diagnose(t, l)
	f := finding(t, r, "worker-crash", report.Error)
	if len(f.PHPErrors) != 1 || f.PHPErrors[0].Kind != "memory-exhausted" || f.PHPErrors[0].File != l.Path("www/fatalcrash.php") || f.PHPErrors[0].Line != 5 {
		t.Fatalf("php errors %+v\n%s", f.PHPErrors, dump(r))
	}
	// The worker died before PHP's error reached nginx: the client got
	// the crash's 502, and no 500 is claimed for the error.
	if code != 502 || f.PHPErrors[0].Status != 0 {
		t.Fatalf("nginx answered %d; php error %+v", code, f.PHPErrors[0])
	}
}

// TestRequestTimeoutSlowlogRealServers: php-fpm logs a request as slow
// at 1 s and kills it at 3 s (502): request-timeout names the killed
// script and where it waited, and ties the 502 to it. (PHP's own
// max_execution_time counts CPU time, so whether a spinning script hits
// it before php-fpm's wall-clock kill depends on the machine's load: not
// tested here; phpErrorText reads its message.)
func TestRequestTimeoutSlowlogRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Write("www/slowfn.php", slowFnScript)
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes", "catch_workers_output = yes\nrequest_terminate_timeout = 3s\nslowlog = {{DIR}}/log/www.slow.log\nrequest_slowlog_timeout = 1s")
	l.Start()
	l.MustStatus("/slowfn.php?s=5", 502)
	l.WaitForLog("log/php-fpm.log", "execution timed out", 1)
	l.WaitForLog("log/www.slow.log", "slowfn.php", 1)
	r := diagnose(t, l)
	f := finding(t, r, "request-timeout", report.Error)
	script := l.Path("www/slowfn.php")
	if f.Slow == nil || f.Slow.Scripts[0].Script != script || f.Slow.Frames[0].Function != "usleep" || f.Slow.Frames[0].Caller != "wait_for_backend" || f.Slow.NginxFailures != 1 {
		t.Fatalf("slow requests %+v\n%s", f.Slow, dump(r))
	}
	evidenceText(t, f, report.KindLog, "script_filename = "+script)
}
