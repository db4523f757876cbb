package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// A log group spanning days shows dates: times of day alone would read as
// a window running backwards ("between 20:46:01 and 20:45:55").
func TestTextLogSpan(t *testing.T) {
	day := time.Date(2026, 11, 26, 20, 45, 55, 0, time.UTC)
	for _, tc := range []struct {
		first time.Time
		want  string
	}{
		{day.Add(-time.Hour), "between 19:45:55 and 20:45:55"},
		{day.Add(-30*24*time.Hour + 6*time.Second), "between 2026-10-27 20:46:01 and 2026-11-26 20:45:55"},
	} {
		r := &Report{Findings: []Finding{{ID: "x", Cause: "pool-exhausted", Severity: Error, Title: "t",
			Logs: &LogSummary{Count: 3, First: tc.first, Last: day}}}}
		var b bytes.Buffer
		if err := Render(&b, r, FormatText, false); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("want %q in:\n%s", tc.want, b.String())
		}
	}
}
