package checks

import (
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// TestPanickingCheckIsSkipped: a bug in one check is reported under
// skipped with its message; the other checks still run.
func TestPanickingCheckIsSkipped(t *testing.T) {
	s := &snapshot.Snapshot{Live: true}
	var nilPool *snapshot.Pool
	boom := Check{ID: "boom", Cause: "boom", Step: report.StepSocket, Run: func(*snapshot.Snapshot) []report.Finding {
		_ = nilPool.Name // a nil dereference, as a real bug would make
		return nil
	}}
	ran := false
	fine := Check{ID: "fine", Cause: "fine", Step: report.StepLogs, Run: func(*snapshot.Snapshot) []report.Finding {
		ran = true
		return []report.Finding{{Severity: report.Warning, Title: "still here"}}
	}}
	r, outcomes := run(s, []Check{boom, fine})
	if !ran || len(r.Findings) != 1 || r.Findings[0].Cause != "fine" {
		t.Fatalf("the check after the panic did not report: %+v", r.Findings)
	}
	var why string
	for _, sk := range r.Skipped {
		if sk.Check == "boom" {
			why = sk.Reason
		}
	}
	if !strings.Contains(why, "internal error") || !strings.Contains(why, "nil pointer") {
		t.Fatalf("skipped entry for the panicking check: %q (all: %+v)", why, r.Skipped)
	}
	if outcomes[0].Panic == "" || !outcomes[1].Ran || outcomes[1].Panic != "" {
		t.Fatalf("outcomes: %+v", outcomes)
	}
}

// TestNeedsSkipCheck: a check whose fact is lacking does not run.
func TestNeedsSkipCheck(t *testing.T) {
	s := &snapshot.Snapshot{Live: true}
	s.Lack(snapshot.FactProcesses, "cannot list processes: permission denied")
	c := Check{ID: "needy", Cause: "needy", Step: report.StepService, Needs: []snapshot.Fact{snapshot.FactProcesses}, Run: func(*snapshot.Snapshot) []report.Finding {
		t.Fatal("ran without its fact")
		return nil
	}}
	r, outcomes := run(s, []Check{c})
	if outcomes[0].Ran {
		t.Fatal("outcome says it ran")
	}
	found := false
	for _, sk := range r.Skipped {
		found = found || (sk.Check == "needy" && strings.Contains(sk.Reason, "the process list"))
	}
	if !found {
		t.Fatalf("skipped: %+v", r.Skipped)
	}
}
