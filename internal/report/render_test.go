package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
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

// Text lines stay within textWidth columns, counting characters (×, →
// take several bytes) and not colour codes; a title that fits stays on its
// line whatever the severity's label.
func TestTextWidth(t *testing.T) {
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for _, sev := range []Severity{Error, Warning, Info} {
		for _, color := range []bool{false, true} {
			for _, fill := range []string{"a", "×"} {
				label := map[Severity]string{Error: "ERROR", Warning: "WARN", Info: "INFO"}[sev]
				head := "1. " + label + " [x] "
				title := strings.Repeat(fill, textWidth-len(head)-2) + " z"
				long := strings.TrimSpace(strings.Repeat(fill+fill+fill+" → ", 40))
				r := &Report{Findings: []Finding{{ID: "x", Cause: "x", Severity: sev, Title: title, Detail: long, Fix: &Fix{Summary: strings.Repeat(fill, 69) + " z " + long}}}}
				var b bytes.Buffer
				if err := Render(&b, r, FormatText, color); err != nil {
					t.Fatal(err)
				}
				out := ansi.ReplaceAllString(b.String(), "")
				if !strings.Contains(out, head+title+"\n") {
					t.Errorf("%s (color %v, %q): a title line of %d columns was wrapped:\n%s", sev, color, fill, textWidth, out)
				}
				for _, l := range strings.Split(out, "\n") {
					if n := utf8.RuneCountInString(l); n > textWidth {
						t.Errorf("%s (color %v, %q): line of %d columns: %q", sev, color, fill, n, l)
					}
				}
			}
		}
	}
}
