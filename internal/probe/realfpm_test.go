package probe

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/fastcgi"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// slack is how late a deadline may fire on a loaded machine (the tests of
// other packages run in parallel); a hang would still be caught, since the
// busy worker holds the pool for much longer.
const slack = 3 * time.Second

const stockPM = "pm = dynamic\npm.max_children = 5\npm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\n"

// newLab starts php-fpm with the lab's www pool plus extra pool lines.
func newLab(t *testing.T, extra string) (*lab.Lab, Target) {
	t.Helper()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes\n", "catch_workers_output = yes\n"+extra)
	l.MustStartFPM()
	return l, Target{Network: "unix", Address: l.Path("run/php-fpm.sock")}
}

func mustVerdict(t *testing.T, r Result, v Verdict, reason string) {
	t.Helper()
	if r.Verdict != v || r.Reason != reason {
		t.Fatalf("got %s/%s (%s; err %v), want %s/%s", r.Verdict, r.Reason, r.Detail, r.Err, v, reason)
	}
}

func TestRealHealthyPool(t *testing.T) {
	t.Parallel()
	_, target := newLab(t, "ping.path = /ping\nping.response = alive\npm.status_path = /status\n")
	ctx := context.Background()
	for _, c := range []struct {
		opts   Options
		method Method
	}{
		{Options{PingPath: "/ping", PingResponse: "alive"}, MethodPing},
		{Options{StatusPath: "/status"}, MethodStatus},
		{Options{}, MethodUnknownScript},
	} {
		c.opts.Timeout = 2 * time.Second
		r := Probe(ctx, target, c.opts)
		mustVerdict(t, r, VerdictHealthy, "ok")
		if r.Method != c.method || r.ExitCode() != 0 || r.Latency <= 0 || r.Latency > time.Second {
			t.Fatalf("%s: %+v", c.method, r)
		}
		if c.method == MethodStatus && (r.Status == nil || r.Status.Pool != "www" || r.Status.ProcessManager != "dynamic") {
			t.Fatalf("status %+v", r.Status)
		}
		if c.method == MethodUnknownScript && (r.HTTPStatus != 404 || r.Stderr != "Primary script unknown") {
			t.Fatalf("unknown script: %d %q", r.HTTPStatus, r.Stderr)
		}
	}
	// Thresholds. Process counts may lag by up to a second (the master
	// refreshes them), so only bounds no 5-child pool can meet or miss.
	zero, hundred := int64(0), int64(100)
	r := Probe(ctx, target, Options{Timeout: 2 * time.Second, StatusPath: "/status", Thresholds: Thresholds{MinIdle: &hundred}})
	mustVerdict(t, r, VerdictUnhealthy, "threshold")
	r = Probe(ctx, target, Options{Timeout: 2 * time.Second, StatusPath: "/status", Thresholds: Thresholds{MaxListenQueue: &zero, MaxActive: &hundred}})
	mustVerdict(t, r, VerdictHealthy, "ok")
	// A ping path the pool does not have: it answers, as a missing script.
	r = Probe(ctx, target, Options{Timeout: 2 * time.Second, PingPath: "/healthz"})
	mustVerdict(t, r, VerdictUnhealthy, "ping-not-configured")
}

// TestRealStatusFormats reads every status page format from a real php-fpm
// and parses it.
func TestRealStatusFormats(t *testing.T) {
	t.Parallel()
	_, target := newLab(t, "pm.status_path = /status\n")
	c := &fastcgi.Client{Network: target.Network, Address: target.Address, Options: fastcgi.Options{Timeout: 2 * time.Second}}
	for _, q := range []string{"", "json", "full", "json&full", "xml", "xml&full", "openmetrics", "openmetrics&full"} {
		req, _, _ := plan(Options{StatusPath: "/status"})
		req.Params["QUERY_STRING"] = q
		resp, err := c.Do(context.Background(), req)
		if err != nil {
			t.Fatalf("?%s: %v", q, err)
		}
		s, err := ParseStatus(resp.Body)
		if err != nil {
			t.Fatalf("?%s: %v\n%s", q, err, resp.Body)
		}
		// Process counts come from a scoreboard the master refreshes about
		// once a second, so right after start they may lag; the pool name,
		// manager and accepted-connection counter are exact.
		if s.Pool != "www" || s.ProcessManager != "dynamic" || s.AcceptedConn < 1 {
			t.Fatalf("?%s: %+v", q, s)
		}
	}
}

// saturate makes the pool's only worker busy with sleep.php for d, using the
// FastCGI client (a test may run a script; the probe never does).
func saturate(t *testing.T, l *lab.Lab, target Target, d time.Duration) {
	t.Helper()
	c := &fastcgi.Client{Network: target.Network, Address: target.Address, Options: fastcgi.Options{Timeout: d + 5*time.Second}}
	req := &fastcgi.Request{Params: map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/sleep.php", "SCRIPT_FILENAME": l.Path("www/sleep.php"),
		"QUERY_STRING": "s=" + strings.TrimSuffix(d.String(), "s"),
	}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Do(ctx, req)                  //nolint:errcheck // only its load matters
	time.Sleep(200 * time.Millisecond) // an idle static worker accepts at once
}

func TestRealSaturatedPool(t *testing.T) {
	t.Parallel()
	l, target := newLab(t, "ping.path = /ping\n")
	l.Edit("etc/php/fpm/pool.d/www.conf", stockPM, "pm = static\npm.max_children = 1\n")
	l.StopFPM()
	l.MustStartFPM()
	t.Cleanup(l.KillFPM) // the sleeping worker would delay a graceful stop
	saturate(t, l, target, 10*time.Second)

	start := time.Now()
	r := Probe(context.Background(), target, Options{Timeout: 500 * time.Millisecond, PingPath: "/ping"})
	elapsed := time.Since(start)
	mustVerdict(t, r, VerdictSaturated, "saturated")
	if r.ExitCode() != ExitSaturated || elapsed > 500*time.Millisecond+slack {
		t.Fatalf("exit %d after %s (deadline 500ms): %+v %v", r.ExitCode(), elapsed, r.Timing, r.Err)
	}
	var te *fastcgi.TimeoutError
	if !errors.As(r.Err, &te) || te.Phase != fastcgi.PhaseFirstByte {
		t.Fatalf("err %v, want a first-byte timeout", r.Err)
	}
}

// TestRealPoolKilledMidRequest kills php-fpm while the probe waits in the
// saturated pool's queue: the probe must end at once with an error, never a
// success and never a hang.
func TestRealPoolKilledMidRequest(t *testing.T) {
	t.Parallel()
	l, target := newLab(t, "ping.path = /ping\n")
	l.Edit("etc/php/fpm/pool.d/www.conf", stockPM, "pm = static\npm.max_children = 1\n")
	l.StopFPM()
	l.MustStartFPM()
	saturate(t, l, target, 10*time.Second)
	time.AfterFunc(300*time.Millisecond, l.KillFPM)
	start := time.Now()
	r := Probe(context.Background(), target, Options{Timeout: 5 * time.Second, PingPath: "/ping"})
	mustVerdict(t, r, VerdictFailed, "early-close")
	if d := time.Since(start); d > 300*time.Millisecond+slack {
		t.Fatalf("took %s after the kill", d)
	}
}

func TestRealStoppedAndStalePool(t *testing.T) {
	t.Parallel()
	l, target := newLab(t, "")
	l.KillFPM() // the socket file stays: stale
	// KillFPM waits for the master only; until the kernel has reaped the
	// workers too, the shared listening socket still accepts.
	var r Result
	_ = lab.WaitFor(func() bool {
		r = Probe(context.Background(), target, Options{Timeout: time.Second})
		return r.Reason != "early-close"
	}, 3*time.Second)
	mustVerdict(t, r, VerdictUnreachable, "refused")
	if r.ExitCode() != ExitUnreachable || r.Errno != syscall.ECONNREFUSED.Error() {
		t.Fatalf("%+v", r)
	}
	os.Remove(target.Address) // as a clean stop leaves it: no socket at all
	r = Probe(context.Background(), target, Options{Timeout: time.Second})
	mustVerdict(t, r, VerdictUnreachable, "no-socket")
}

func TestRealWorkerCredentials(t *testing.T) {
	t.Parallel()
	www, err := LookupUser(lab.WorkerUser)
	if err != nil {
		lab.Unavailable(t, "no "+lab.WorkerUser+" user: "+err.Error())
	}
	l, target := newLab(t, "")
	ctx := context.Background()

	// The stock socket (owner www-data): the worker user gets in, through
	// a connect on a thread with its identity.
	r := Probe(ctx, target, Options{Timeout: 2 * time.Second, As: www})
	mustVerdict(t, r, VerdictHealthy, "ok")
	if r.AsUser != lab.WorkerUser {
		t.Fatalf("as user %q", r.AsUser)
	}

	// root:root 0660: root still connects, www-data is refused as nginx is.
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen.owner = www-data\nlisten.group = www-data\n",
		"listen.owner = root\nlisten.group = root\nlisten.mode = 0660\n")
	l.StopFPM() // listen.* only changes on a full restart
	l.MustStartFPM()
	mustVerdict(t, Probe(ctx, target, Options{Timeout: 2 * time.Second}), VerdictHealthy, "ok")
	start := time.Now()
	r = Probe(ctx, target, Options{Timeout: 2 * time.Second, As: www})
	mustVerdict(t, r, VerdictUnreachable, "permission-denied")
	if r.Errno != syscall.EACCES.Error() || !strings.Contains(r.Detail, "as "+lab.WorkerUser) || !errors.Is(r.Err, syscall.EACCES) {
		t.Fatalf("%+v", r)
	}
	t.Logf("permission denied as the worker user in %s", time.Since(start))

	// A parent directory www-data cannot search is the same error.
	if err := os.Chmod(l.Path("run"), 0o700); err != nil {
		t.Fatal(err)
	}
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen.owner = root\nlisten.group = root\n", "listen.owner = www-data\nlisten.group = www-data\n")
	l.StopFPM()
	l.MustStartFPM()
	mustVerdict(t, Probe(ctx, target, Options{Timeout: 2 * time.Second, As: www}), VerdictUnreachable, "permission-denied")
}

// TestIdentityIsGivenBack: probes as the worker user, many at once, take
// its identity on their own threads only and give root's back: afterwards
// every thread of the process has root's filesystem identity and groups
// again. A probe as a user when not root is a usage error.
func TestIdentityIsGivenBack(t *testing.T) {
	if os.Geteuid() != 0 {
		r := Probe(context.Background(), Target{"unix", "/x.sock"}, Options{As: &Credentials{User: "other", UID: uint32(os.Geteuid()) + 1}})
		mustVerdict(t, r, VerdictError, "usage")
		lab.Unavailable(t, "not root: probes as another user cannot run")
	}
	www, err := LookupUser(lab.WorkerUser)
	if err != nil {
		lab.Unavailable(t, "no "+lab.WorkerUser+" user: "+err.Error())
	}
	before := threadIdentities(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil { // www-data may not enter: EACCES
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := Probe(context.Background(), Target{"unix", filepath.Join(dir, "php.sock")}, Options{Timeout: time.Second, As: www})
			if r.Reason != "permission-denied" {
				t.Errorf("probe as %s into a 0700 root directory: %s %s (%v)", www.User, r.Verdict, r.Reason, r.Err)
			}
			// root itself gets through to ENOENT: this goroutine's thread is root again.
			r = Probe(context.Background(), Target{"unix", filepath.Join(dir, "php.sock")}, Options{Timeout: time.Second})
			if r.Reason != "no-socket" {
				t.Errorf("probe as root after one as %s: %s %s (%v)", www.User, r.Verdict, r.Reason, r.Err)
			}
		}()
	}
	wg.Wait()
	for tid, id := range threadIdentities(t) {
		if id != before[0] {
			t.Errorf("thread %d kept another identity after the probes:\n%s\nwant\n%s", tid, id, before[0])
		}
	}
}

// threadIdentities reads the Uid, Gid and Groups lines of every thread of
// this process, keyed by thread id; key 0 holds the process's own.
func threadIdentities(t *testing.T) map[int]string {
	t.Helper()
	read := func(path string) string {
		data, err := os.ReadFile(path)
		if err != nil {
			return ""
		}
		var keep []string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") || strings.HasPrefix(l, "Groups:") {
				keep = append(keep, strings.Join(strings.Fields(l), " "))
			}
		}
		return strings.Join(keep, "\n")
	}
	ids := map[int]string{0: read("/proc/self/status")}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if id := read("/proc/self/task/" + task.Name() + "/status"); id != "" {
			ids[tid] = id
		}
	}
	return ids
}
