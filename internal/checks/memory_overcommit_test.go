package checks_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestMemoryOvercommitRealServers: a running pool whose pm.max_children
// (100000) times its real measured worker size exceeds the host's memory.
// Dynamic, it is a risk at peak (warning); switched to static on disk, the
// next restart would fork all 100000 workers (error).
func TestMemoryOvercommitRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	pool := "etc/php/fpm/pool.d/www.conf"
	l.Edit(pool, "pm.max_children = 5", "pm.max_children = 100000")
	l.Start()
	for range 4 { // warm the workers: they grow with the first requests
		l.MustStatus("/ok.php", 200)
	}

	r := diagnose(t, l)
	f := finding(t, r, "memory-overcommit", report.Warning)
	evidenceAt(t, f, l.Path(pool), lineOf(t, lab.DefaultPool, "pm.max_children"))
	evidenceText(t, f, report.KindFact, "MemAvailable")
	evidenceText(t, f, report.KindFact, "/proc/PID/smaps_rollup")
	// The title carries the real product: 100000 × the measured average.
	m := regexp.MustCompile(`pool www: (\d+) workers running, (\d+) measured: PSS average ([\d.]+) MiB`).FindStringSubmatch(evidenceString(f))
	if m == nil {
		t.Fatalf("no worker measurement in %+v", f.Evidence)
	}
	avg, _ := strconv.ParseFloat(m[3], 64)
	if avg < 1 || avg > 200 {
		t.Fatalf("implausible worker PSS %v MiB", avg)
	}
	if !strings.Contains(f.Detail, "100000 × "+m[3]+" MiB (www)") || f.Fix == nil || !strings.Contains(f.Fix.Summary, "pm.max_children 100000 → ") {
		t.Fatalf("detail/fix without the arithmetic: %q / %+v", f.Detail, f.Fix)
	}
	t.Logf("measured: %s workers, PSS avg %s MiB; %s; fix: %s", m[1], m[3], f.Title, f.Fix.Summary)

	// pm = static on disk: a restart forks every worker at once.
	l.Edit(pool, "pm = dynamic", "pm = static")
	r = diagnose(t, l)
	f = finding(t, r, "memory-overcommit", report.Error)
	evidenceAt(t, f, l.Path(pool), lineOf(t, lab.DefaultPool, "pm = dynamic"))
	if !strings.Contains(f.Detail, "pm = static") {
		t.Fatalf("error detail does not name the static pool: %q", f.Detail)
	}
}

// TestMemoryOvercommitHealthy: the stock pool fits easily and its queue
// is empty: no finding of this file's checks. (Other checks read the
// host's kernel log, which parallel tests fill with OOM kills.)
func TestMemoryOvercommitHealthy(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/ok.php", 200)
	r := diagnose(t, l)
	for _, f := range r.Findings {
		if f.Cause == "memory-overcommit" || f.ID == "backlog-overflow-queue" {
			t.Fatalf("healthy pool reported %s\n%s", f.Title, dump(r))
		}
	}
}

func evidenceString(f report.Finding) string {
	var b strings.Builder
	for _, e := range f.Evidence {
		b.WriteString(e.Text)
		b.WriteByte('\n')
	}
	return b.String()
}
