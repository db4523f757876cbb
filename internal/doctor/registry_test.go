package doctor_test

import (
	"slices"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/docs"
	"github.com/fpmdoctor/fpmdoctor/internal/checks"
	"github.com/fpmdoctor/fpmdoctor/internal/fix"
)

// TestRegistry ties the three lists a cause lives in together, so none can
// be forgotten: the checks (checks.All), their pages (docs/causes, which
// `explain` and SARIF rules serve) and the remedies (fix). Check IDs are
// unique, every check's cause has a page with a title and a usual
// severity, every page has a check, and every remedy repairs a cause some
// check reports.
func TestRegistry(t *testing.T) {
	ids := map[string]bool{}
	var causes []string
	for _, c := range checks.All() {
		if c.ID == "" || c.Cause == "" || c.Run == nil {
			t.Errorf("check %+v: ID, Cause and Run are required", c.ID)
		}
		if ids[c.ID] {
			t.Errorf("check ID %q is used twice", c.ID)
		}
		ids[c.ID] = true
		causes = append(causes, c.Cause)
		if _, ok := docs.Cause(c.Cause); !ok {
			t.Errorf("check %s reports cause %q, which has no page docs/causes/%s.md", c.ID, c.Cause, c.Cause)
			continue
		}
		if docs.Title(c.Cause) == "" {
			t.Errorf("cause %s: its page has no title line", c.Cause)
		}
		switch docs.UsualSeverity(c.Cause) {
		case "error", "warning", "info":
		default:
			t.Errorf("cause %s: no usual severity in docs/causes/README.md", c.Cause)
		}
	}
	for _, page := range docs.Causes() {
		if !slices.Contains(causes, page) {
			t.Errorf("docs/causes/%s.md describes a cause no check reports", page)
		}
	}
	seen := map[string]bool{}
	for _, cause := range fix.RemedyCauses() {
		if seen[cause] {
			t.Errorf("two remedies for %s: fix uses only the first", cause)
		}
		seen[cause] = true
		if !slices.Contains(causes, cause) {
			t.Errorf("fix has a remedy for %q, which no check reports", cause)
		}
	}
}
