package checks_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// diagnose runs the whole pipeline on a lab's configs, as
// `fpmdoctor diagnose --nginx-conf … --fpm-conf …` would, and round-trips
// the report through JSON so tests assert the contract users see.
func diagnose(t *testing.T, l *lab.Lab) *report.Report {
	t.Helper()
	r, _, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}})
	if err != nil {
		t.Fatalf("diagnose: %v", err)
	}
	return roundTrip(t, r)
}

func roundTrip(t *testing.T, r *report.Report) *report.Report {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out report.Report
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// finding returns the first finding of cause, failing the test (with the
// whole report) when there is none or its severity differs.
func finding(t *testing.T, r *report.Report, cause string, sev report.Severity) report.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Cause == cause {
			if f.Severity != sev {
				t.Fatalf("%s has severity %s, want %s\n%s", cause, f.Severity, sev, dump(r))
			}
			return f
		}
	}
	t.Fatalf("no %s finding\n%s", cause, dump(r))
	return report.Finding{}
}

// first asserts the likeliest root cause (the first finding) is cause.
func first(t *testing.T, r *report.Report, cause string) {
	t.Helper()
	if len(r.Findings) == 0 || r.Findings[0].Cause != cause {
		t.Fatalf("first finding is not %s\n%s", cause, dump(r))
	}
}

// noErrors asserts a healthy setup reports no error finding.
func noErrors(t *testing.T, r *report.Report) {
	t.Helper()
	for _, f := range r.Findings {
		if f.Severity == report.Error {
			t.Fatalf("healthy setup reported an error\n%s", dump(r))
		}
	}
	if len(r.Sites) == 0 {
		t.Fatalf("no site found\n%s", dump(r))
	}
}

// evidenceAt asserts f cites file:line (line 0: any line of file).
func evidenceAt(t *testing.T, f report.Finding, file string, line int) report.Evidence {
	t.Helper()
	for _, e := range f.Evidence {
		if e.File == file && (line == 0 || e.Line == line) {
			return e
		}
	}
	t.Fatalf("%s cites no evidence at %s:%d: %+v", f.Cause, file, line, f.Evidence)
	return report.Evidence{}
}

// evidenceText asserts some evidence of kind contains substr.
func evidenceText(t *testing.T, f report.Finding, kind, substr string) {
	t.Helper()
	for _, e := range f.Evidence {
		if e.Kind == kind && strings.Contains(e.Text, substr) {
			return
		}
	}
	t.Fatalf("%s has no %s evidence containing %q: %+v", f.Cause, kind, substr, f.Evidence)
}

// lineOf returns the 1-based line of the first line containing substr.
func lineOf(t *testing.T, content, substr string) int {
	t.Helper()
	for i, line := range strings.Split(content, "\n") {
		if strings.Contains(line, substr) {
			return i + 1
		}
	}
	t.Fatalf("%q not found", substr)
	return 0
}

func dump(r *report.Report) string {
	b, _ := json.MarshalIndent(r, "", "  ")
	return string(b)
}
