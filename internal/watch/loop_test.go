package watch_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
	"github.com/fpmdoctor/fpmdoctor/internal/watch"
)

// TestDiagnosisPanicsAndHangs: a diagnosis that panics does not take the
// watcher down (the previous findings stay, the panic is counted); one
// that ignores its deadline is reported stuck and no second one starts
// until it returns. The diagnoses are the real one on an offline example.
func TestDiagnosisPanicsAndHangs(t *testing.T) {
	var (
		calls, inFlight, maxInFlight atomic.Int32
		release                      = make(chan struct{})
		mode                         atomic.Int32 // 0 real, 1 panic, 2 hang
	)
	diag := func(ctx context.Context, o doctor.Options) (*report.Report, *snapshot.Snapshot, error) {
		calls.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		switch mode.Load() {
		case 1:
			var m map[string]int
			m["a check with a bug"]++ // a nil-map write: a real runtime panic
		case 2:
			<-release // ignores ctx, as a wedged read would
		}
		return doctor.Diagnose(ctx, o)
	}
	var logs watch.LogBuffer
	w := watch.New(watch.Options{
		Doctor:       doctor.Options{Root: "../../examples/php-upgrade"},
		Interval:     20 * time.Millisecond,
		Debounce:     5 * time.Millisecond,
		CheckTimeout: 100 * time.Millisecond,
		Diagnose:     diag,
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
	})
	srv := httptest.NewServer(w.Handler(http.NotFoundHandler()))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	stats := func() watch.CollectorStats {
		for _, c := range w.Collectors() {
			if c.Name == watch.CollectorDiagnosis {
				return c
			}
		}
		return watch.CollectorStats{}
	}
	wait := func(what string, cond func() bool) {
		t.Helper()
		if err := lab.WaitFor(cond, time.Minute); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, logs.String())
		}
	}
	wait("first diagnosis", func() bool { return w.State() != nil })
	first := w.State()
	if !hasFinding(first, "listen-mismatch", report.Error) {
		t.Fatalf("the example's listen-mismatch is missing:\n%s", first.JSON)
	}

	mode.Store(1)
	wait("a panic recovered", func() bool { return stats().Panics >= 2 })
	if logs.Count("diagnosis panicked") < 2 {
		t.Fatalf("no log line for the panics\n%s", logs.String())
	}
	if st := w.State(); st.Seq > first.Seq+2 || !hasFinding(st, "listen-mismatch", report.Error) {
		t.Fatalf("the findings did not stay through the panics")
	}
	resp, err := http.Get(srv.URL + "/api/findings")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/api/findings after panics: %v %v", err, resp)
	}
	resp.Body.Close()

	mode.Store(2)
	wait("stuck reported", func() bool { return stats().Stuck })
	before := calls.Load()
	// Many intervals pass while the diagnosis hangs: none starts.
	time.Sleep(50 * 20 * time.Millisecond)
	if got := calls.Load(); got != before {
		t.Fatalf("%d diagnoses started while one hung", got-before)
	}
	mode.Store(0)
	close(release)
	seq := w.State().Seq
	wait("diagnoses resume", func() bool { return w.State().Seq > seq+1 && !stats().Stuck })
	if m := maxInFlight.Load(); m != 1 {
		t.Fatalf("%d diagnoses ran at once", m)
	}
}
