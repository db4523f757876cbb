package tune_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
	"github.com/fpmdoctor/fpmdoctor/internal/tune"
)

func gather(t *testing.T, l *lab.Lab) *snapshot.Snapshot {
	t.Helper()
	s, err := snapshot.Gather(context.Background(), snapshot.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTuneExhaustedPool: a dynamic pool of 2 workers with its status page
// on its own listener gets 5 concurrent slow requests through nginx. tune
// sees the exhaustion (status page and php-fpm's warning) and raises
// pm.max_children within memory, showing the arithmetic.
func TestTuneExhaustedPool(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	pool := "etc/php/fpm/pool.d/www.conf"
	statusPort := lab.FreePort(t)
	l.Edit(pool, "pm.max_children = 5", "pm.max_children = 2")
	l.Edit(pool, "pm.max_spare_servers = 3", fmt.Sprintf("pm.max_spare_servers = 2\npm.status_path = /status\npm.status_listen = 127.0.0.1:%d", statusPort))
	l.Start()
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.GetTimeout("/sleep.php?s=1", 20*time.Second)
		}()
	}
	wg.Wait()

	s := gather(t, l)
	peaks := tune.Observe(context.Background(), s, tune.ObserveOptions{Since: time.Hour})
	recs := tune.Recommend(s, tune.Options{Peaks: peaks})
	if len(recs) != 1 {
		t.Fatalf("%d recommendations, want 1: %+v", len(recs), recs)
	}
	r := recs[0]
	if r.Skipped != "" {
		t.Fatalf("skipped: %s", r.Skipped)
	}
	if r.Peak == nil || !r.Peak.StatusRead || r.Peak.MaxActiveProcesses != 2 || r.Peak.MaxChildrenReached < 1 || r.Peak.MaxChildrenEvents < 1 {
		t.Fatalf("peak %+v", r.Peak)
	}
	if r.Workers.Running != 2 || r.Workers.Measured != 2 || r.WorkerSize == 0 || r.MemoryMax < 4 {
		t.Fatalf("workers %+v size %d memory max %d", r.Workers, r.WorkerSize, r.MemoryMax)
	}
	got := map[string]tune.Change{}
	for _, c := range r.Changes {
		got[c.Key] = c
	}
	mc, ok := got["pm.max_children"]
	if !ok || mc.Old != "2" || mc.New != "4" || mc.Setting == nil || mc.File != l.Path(pool) || mc.Line != 8 {
		t.Fatalf("pm.max_children change %+v (all: %+v)", mc, r.Changes)
	}
	// A growing pool keeps the spare workers it had (they are valid under
	// the new pm.max_children): lowering them would slow the bursts it is
	// grown for. Unchanged values are not listed.
	for _, k := range []string{"pm.min_spare_servers", "pm.max_spare_servers", "pm.start_servers"} {
		if c, moved := got[k]; moved {
			t.Fatalf("%s changed although the pool only grows: %+v", k, c)
		}
	}
	if c := got["request_terminate_timeout"]; c.New != "60s" || !strings.Contains(c.Why, "nginx's default") {
		t.Fatalf("request_terminate_timeout %+v", c)
	}
	text := strings.Join(r.Arithmetic, "\n")
	for _, want := range []string{"MemAvailable", "headroom", "(largest worker) =", "max children reached", "\"server reached max_children\" warnings"} {
		if !strings.Contains(text, want) {
			t.Fatalf("arithmetic lacks %q:\n%s", want, text)
		}
	}
	// On this host RSS (shared pages counted per worker) is well above PSS,
	// so the rule of thumb lands below ours; the reasons are listed.
	if r.RuleOfThumb.MaxChildren <= 0 || len(r.RuleOfThumb.Differences) < 3 || !strings.Contains(r.RuleOfThumb.Differences[1], "RSS counts pages shared") {
		t.Fatalf("rule-of-thumb comparison %+v (ours %d)", r.RuleOfThumb, r.MemoryMax)
	}
	t.Logf("arithmetic:\n%s\nchanges: %+v\nrule of thumb: %+v", text, r.Changes, r.RuleOfThumb)
}

// TestTuneHealthyPool: a lightly loaded stock pool fits and was never
// exhausted: keep pm.max_children.
func TestTuneHealthyPool(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/ok.php", 200)
	s := gather(t, l)
	recs := tune.Recommend(s, tune.Options{Peaks: tune.Observe(context.Background(), s, tune.ObserveOptions{Since: time.Hour})})
	if len(recs) != 1 || recs[0].Skipped != "" {
		t.Fatalf("%+v", recs)
	}
	for _, c := range recs[0].Changes {
		if c.Key == "pm.max_children" || strings.HasPrefix(c.Key, "pm.") {
			t.Fatalf("healthy pool: unexpected change %+v", c)
		}
	}
	if !strings.Contains(strings.Join(recs[0].Arithmetic, "\n"), "pm.max_children = 5 fits in memory") {
		t.Fatalf("%s", strings.Join(recs[0].Arithmetic, "\n"))
	}
}

// TestTuneOffline: nothing to measure with --root.
func TestTuneOffline(t *testing.T) {
	s, err := snapshot.Gather(context.Background(), snapshot.Options{Root: "../../examples/php-upgrade"})
	if err != nil {
		t.Fatalf("bundled example tree: %v", err)
	}
	if recs := tune.Recommend(s, tune.Options{}); len(recs) != 0 {
		t.Fatalf("offline recommendations: %+v", recs)
	}
}
