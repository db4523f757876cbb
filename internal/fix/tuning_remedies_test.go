package fix_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/fix"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

const stockPM = "pm = dynamic\npm.max_children = 5\npm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\n"

// TestFixRequestTimeoutRealServers: php-fpm kills requests after 1 s while
// nginx waits 5 s: a 2 s request ends as a 502. fix sets
// request_terminate_timeout to 5s and reloads php-fpm.
func TestFixRequestTimeoutRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	pool := "etc/php/fpm/pool.d/www.conf"
	l.Edit(pool, "catch_workers_output = yes", "catch_workers_output = yes\nrequest_terminate_timeout = 1s ; was 30s")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 5s;\n        fastcgi_pass")
	l.Start()
	l.MustStatus("/sleep.php?s=2", 502)
	l.WaitForLog("log/php-fpm.log", "execution timed out", 1)
	r, _ := plan(t, l)
	automatic(t, r, "request-timeout")

	p := mustFix(t, l, "request-timeout")
	replays(t, p, "GET http://lab.test/sleep.php?s=2")
	// The replay ran once, after the change: php-fpm killed the user's
	// request only, not a copy fix sent before it changed anything.
	if b, err := os.ReadFile(l.Path("log/php-fpm.log")); err != nil || strings.Count(string(b), "execution timed out") != 1 {
		t.Fatalf("php-fpm's log (%v):\n%s", err, b)
	}
	l.MustStatus("/sleep.php?s=2", 200)
	fileHas(t, l, pool, "request_terminate_timeout = 5s ; was 30s\n")
	if len(p.Ops) != 1 || p.Ops[0].Kind.String() != "reload php-fpm" {
		t.Fatalf("ops: %+v", p.Ops)
	}
	// The kills are in the log still, but older than the running config:
	// a second run plans nothing for them.
	_, p2 := plan(t, l)
	for _, a := range p2.Actions {
		if a.Finding.Cause == "request-timeout" {
			t.Fatalf("second run plans again: %s", a.Summary)
		}
	}
}

// TestFixRequestTimeoutReplayFailsRealServers: the logged killed request
// is replayed after the reload; here the script became slower than nginx
// waits (6 s against fastcgi_read_timeout 4s), so the replay gets nginx's
// real 504: the verification fails, the pool file is restored byte for
// byte and php-fpm reloaded back onto it.
func TestFixRequestTimeoutReplayFailsRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	pool := "etc/php/fpm/pool.d/www.conf"
	l.Write("www/slow.php", "<?php sleep((int)file_get_contents(__DIR__ . '/secs')); echo \"slept\\n\";\n")
	l.Write("www/secs", "2")
	l.Edit(pool, "catch_workers_output = yes", "catch_workers_output = yes\nrequest_terminate_timeout = 1s")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 4s;\n        fastcgi_pass")
	l.Start()
	l.MustStatus("/slow.php", 502)
	l.WaitForLog("log/php-fpm.log", "execution timed out", 1)
	before := l.ConfigSums()
	_, p := plan(t, l)
	replays(t, p, "GET http://lab.test/slow.php")
	l.Write("www/secs", "6")
	opts := options(t)
	opts.Settle = 300e6
	res, err := fix.Apply(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	rolledBack(t, res, "replay of the logged failing request GET http://lab.test/slow.php")
	sameSums(t, before, l.ConfigSums())
	noJournal(t, opts.StateDir)
	l.Write("www/secs", "2")
	l.MustStatus("/slow.php", 502) // killed after 1 s again: the old config runs
}

// TestFixHeaderTooBigRealServers: an 8000-byte header does not fit nginx's
// default 4k buffer: 502. fix measures the logged request's header over
// FastCGI (8000 bytes of value and the rest of the header), inserts
// fastcgi_buffer_size 12k (the header, its record overhead and a quarter
// of headroom in whole pages), reloads nginx and replays the logged GET.
func TestFixHeaderTooBigRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/header.php?n=8000", 502)
	l.WaitForLog("log/nginx-error.log", "too big header", 1)
	r, _ := plan(t, l)
	automatic(t, r, "header-too-big")
	if os.Getpagesize() != 4096 {
		t.Skipf("page size %d: nginx's default buffer is not 4k", os.Getpagesize())
	}

	p := mustFix(t, l, "header-too-big")
	replays(t, p, "GET http://lab.test/header.php?n=8000")
	l.MustStatus("/header.php?n=8000", 200)
	healthyExcept(t, l, "header-too-big")
	b := fileHas(t, l, "etc/nginx/conf.d/site.conf", "        fastcgi_pass unix:"+l.Path("run/php-fpm.sock")+";\n        fastcgi_buffer_size 12k;\n    }")
	if strings.Contains(b, "fastcgi_buffers") {
		t.Fatalf("fastcgi_buffers changed although 8 4k stays valid:\n%s", b)
	}
	if len(p.Ops) != 1 || p.Ops[0].Nginx == nil {
		t.Fatalf("ops: %+v", p.Ops)
	}
	if !strings.Contains(p.Actions[0].Why, "measures 80") {
		t.Fatalf("why does not give the measured size: %s", p.Actions[0].Why)
	}
}

// TestFixHeaderTooBigSeveralRequestsRealServers: two pages failed with
// headers of 5000 and 12000 bytes, the smaller first. The fix measures
// both, sizes the buffer for the bigger and replays that one: both answer
// 200 afterwards (sizing for the first line's request left the other one
// failing under "fixed and verified").
func TestFixHeaderTooBigSeveralRequestsRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/header.php?n=5000", 502)
	l.MustStatus("/header.php?n=12000", 502)
	l.WaitForLog("log/nginx-error.log", "too big header", 2)
	p := mustFix(t, l, "header-too-big")
	replays(t, p, "GET http://lab.test/header.php?n=12000")
	if why := p.Actions[0].Why; !strings.Contains(why, "header.php?n=12000 measures 120") || !strings.Contains(why, "the biggest of the 2 distinct logged failing requests") {
		t.Fatalf("why: %s", why)
	}
	l.MustStatus("/header.php?n=12000", 200)
	l.MustStatus("/header.php?n=5000", 200)
}

// replays asserts the plan's checks replay the logged request (the check
// line shown to the user says so).
func replays(t *testing.T, p *fix.Plan, want string) {
	t.Helper()
	for _, c := range p.CheckLines() {
		if strings.Contains(c, "replay the logged failing request "+want) {
			return
		}
	}
	t.Fatalf("no check replays %s: %q", want, p.CheckLines())
}

// TestFixHeaderTooBigBuffersRealServers: the location already sets
// fastcgi_buffer_size 8k and a 12000-byte header is refused. The
// measured header needs 16k; with the default 8 4k buffers nginx -t
// would refuse the default busy size 32k ≥ 7 × 4k, so fastcgi_buffers
// gets the 10 buffers of 4k the rule needs (32k < 9 × 4k).
func TestFixHeaderTooBigBuffersRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock; # php\n        fastcgi_buffer_size 8k;")
	l.Start()
	l.MustStatus("/header.php?n=12000", 502)
	l.WaitForLog("log/nginx-error.log", "too big header", 1)
	if os.Getpagesize() != 4096 {
		t.Skipf("page size %d: nginx's default buffers are not 4k", os.Getpagesize())
	}

	p := mustFix(t, l, "header-too-big")
	replays(t, p, "GET http://lab.test/header.php?n=12000")
	l.MustStatus("/header.php?n=12000", 200)
	fileHas(t, l, "etc/nginx/conf.d/site.conf", "php-fpm.sock; # php\n        fastcgi_buffers 10 4k;\n        fastcgi_buffer_size 16k;\n")
	healthyExcept(t, l, "header-too-big")
}

// TestFixHeaderTooBigNoReplayRealServers: with --no-replay nothing is
// measured or replayed: the buffer doubles, the plan says the action is
// not verifiable, and the result lists it as not verified (never
// "verified"), although the site answers.
func TestFixHeaderTooBigNoReplayRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/header.php?n=6000", 502)
	l.WaitForLog("log/nginx-error.log", "too big header", 1)
	r, s, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := fix.MakeWith(s, r, fix.MakeOptions{NoReplay: true})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fix.WritePlan(&b, p)
	if !strings.Contains(b.String(), "not verifiable: --no-replay") || strings.Contains(b.String(), "replay the logged") {
		t.Fatalf("plan:\n%s", b.String())
	}
	opts := options(t)
	var said strings.Builder
	opts.Out = &said
	res, err := fix.Apply(context.Background(), p, opts)
	if err != nil || !res.Fixed {
		t.Fatalf("apply: %v %+v\n%s", err, res, said.String())
	}
	// The site's check passes, but the run must not call anything
	// "verified" while the fix itself is not.
	if strings.Contains(said.String(), "verified site") || !strings.Contains(said.String(), "checked site") {
		t.Fatalf("progress:\n%s", said.String())
	}
	if len(res.NotVerified) != 1 || !strings.Contains(res.NotVerified[0], "header-too-big") {
		t.Fatalf("not verified: %q", res.NotVerified)
	}
	c := fix.Conclude(p, res, nil)
	if c.Outcome != fix.AppliedNotVerified || strings.Contains(strings.Join(c.Lines, "\n"), "Fixed and verified") {
		t.Fatalf("verdict %q: %q", c.Outcome, c.Lines)
	}
	l.MustStatus("/header.php?n=6000", 200)
}

// TestFixHeaderTooBigReplayFailsRealServers: the application's header
// grows between the plan (measured 9000 bytes: 12k) and the replay
// (20000 bytes): the replayed GET still gets a real 502, so the run fails
// its verification, the file is restored byte for byte and nginx runs the
// old config again (the request that failed before still fails, a small
// one still answers).
func TestFixHeaderTooBigReplayFailsRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Write("www/grow.php", "<?php header('X-Big: ' . str_repeat('a', (int)file_get_contents(__DIR__ . '/size'))); echo \"ok\\n\";\n")
	l.Write("www/size", "9000")
	l.Start()
	l.MustStatus("/grow.php", 502)
	l.WaitForLog("log/nginx-error.log", "too big header", 1)
	before := l.ConfigSums()
	r, p := plan(t, l)
	_ = r
	replays(t, p, "GET http://lab.test/grow.php")
	l.Write("www/size", "20000")
	opts := options(t)
	opts.Settle = 300e6
	res, err := fix.Apply(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	rolledBack(t, res, "replay of the logged failing request GET http://lab.test/grow.php")
	sameSums(t, before, l.ConfigSums())
	noJournal(t, opts.StateDir)
	l.MustStatus("/header.php?n=6000", 502) // the old 4k buffer runs again
	l.MustStatus("/ok.php", 200)
}

// TestFixPoolExhaustedRealServers: 2 static workers, 4 requests of 6 s at
// once, nginx waits 8 s: the 2 queued ones would need 12 s and get 504.
// diagnose runs while the workers are busy (its probe finds the pool
// saturated); fix raises pm.max_children as far as the measured memory
// allows (tune: doubled) and reloads php-fpm; the same load then gets
// 200 everywhere.
//
// pm = static, not dynamic: a dynamic (or ondemand) pool forks about one
// worker a second (pm.min_spare_servers at most), so a burst from cold
// times out whatever pm.max_children is; and only dynamic and ondemand
// log "server reached max_children", so the saturated probe is the
// evidence here.
func TestFixPoolExhaustedRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", stockPM, "pm = static\npm.max_children = 2\n")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 8s;\n        fastcgi_pass")
	l.Start()
	done := make(chan map[int]int)
	go func() { done <- l.Load("/sleep.php?s=6", 4, 4, 20*time.Second) }()
	if err := lab.WaitFor(func() bool { return busyWorkers(l) == 2 }, 5*time.Second); err != nil {
		t.Fatal("the load never kept both workers busy")
	}
	r, p := plan(t, l)
	if counts := <-done; counts[504] == 0 {
		t.Fatalf("no 504 under load: %v", counts)
	}
	automatic(t, r, "pool-exhausted")
	var b strings.Builder
	fix.WritePlan(&b, p)
	t.Logf("plan:\n%s", b.String())
	res, err := fix.Apply(context.Background(), p, options(t))
	if err != nil || !res.Fixed {
		t.Fatalf("not fixed: %v %+v", err, res)
	}
	fileHas(t, l, "etc/php/fpm/pool.d/www.conf", "pm = static\npm.max_children = 4\n")
	counts := l.Load("/sleep.php?s=6", 4, 4, 20*time.Second)
	if counts[200] != 4 {
		t.Fatalf("after the fix: %v", counts)
	}
}

// busyWorkers counts the lab's php-fpm workers asleep in sleep.php: their
// /proc/PID/wchan is a timer wait, an idle worker's is the accept.
func busyWorkers(l *lab.Lab) int {
	n := 0
	master := l.FPMPid()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if len(f) < 2 || f[1] != strconv.Itoa(master) {
			continue
		}
		wchan, _ := os.ReadFile("/proc/" + e.Name() + "/wchan")
		if strings.Contains(string(wchan), "hrtimer") || strings.Contains(string(wchan), "nanosleep") {
			n++
		}
	}
	return n
}

// TestFixBacklogOverflowRealServers: one static worker behind a backlog
// of 1: a burst of 10 gets immediate 502s. fix doubles the workers (as
// memory allows), puts listen.backlog back to php-fpm's default and
// restarts php-fpm (a reload keeps the socket and its backlog).
func TestFixBacklogOverflowRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", stockPM, "pm = static\npm.max_children = 1\nlisten.backlog = 1\n")
	l.Start()
	counts := l.Load("/sleep.php?s=1", 10, 10, 20*time.Second)
	if counts[502] == 0 {
		t.Fatalf("no 502 from a full backlog: %v", counts)
	}
	r, _ := plan(t, l)
	automatic(t, r, "backlog-overflow")
	old := l.FPMPid()

	mustFix(t, l, "backlog-overflow")
	if l.FPMPid() == old {
		t.Fatal("php-fpm was not restarted")
	}
	fileHas(t, l, "etc/php/fpm/pool.d/www.conf", "pm.max_children = 2\nlisten.backlog = 511\n")
	counts = l.Load("/sleep.php?s=1", 10, 10, 20*time.Second)
	if counts[200] != 10 {
		t.Fatalf("after the fix: %v", counts)
	}
}

// TestFixMemoryOvercommitRealServers: pm.max_children = 100000 in a
// php-fpm limited to 256 MiB. fix lowers it (and the spare servers) to
// what the measured workers fit in and reloads; diagnose then finds no
// overcommit.
func TestFixMemoryOvercommitRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	pool := "etc/php/fpm/pool.d/www.conf"
	l.Edit(pool, stockPM, "pm = dynamic\npm.max_children = 100000\npm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\n")
	l.Start()
	l.MustLimitFPMMemory(256 << 20)
	for range 4 { // the workers grow with their first requests
		l.MustStatus("/ok.php", 200)
	}
	r, _ := plan(t, l)
	automatic(t, r, "memory-overcommit")

	mustFix(t, l, "memory-overcommit")
	l.MustStatus("/ok.php", 200)
	for range 4 {
		l.MustStatus("/ok.php", 200)
	}
	if b := fileHas(t, l, pool, "pm.max_children = "); strings.Contains(b, "pm.max_children = 100000") {
		t.Fatalf("pool:\n%s", b)
	}
	r, _ = plan(t, l)
	for _, f := range r.Findings {
		if f.Cause == "memory-overcommit" {
			t.Fatalf("still overcommitted: %s\n%s", f.Title, f.Detail)
		}
	}
	healthy(t, l)
}

// healthyExcept asserts diagnose reports no error but the logged ones of
// cause (its log lines stay in the window after the fix).
func healthyExcept(t *testing.T, l *lab.Lab, cause string) {
	t.Helper()
	r, _ := plan(t, l)
	for _, f := range r.Findings {
		if f.Severity == report.Error && f.Cause != cause {
			t.Fatalf("after the fix diagnose reports [%s] %s", f.Cause, f.Title)
		}
	}
}
