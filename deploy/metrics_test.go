package deploy

import (
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/metrics"
)

// exportedMetrics lists the metric names fpmdoctor watch exports: what
// its collectors describe.
func exportedMetrics(t *testing.T) []string {
	t.Helper()
	names := metrics.Names()
	if len(names) < len(contractMetrics()) {
		t.Fatalf("metrics.Names() lists %d names: %v", len(names), names)
	}
	return names
}
