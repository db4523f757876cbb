package deploy

import "testing"

// exportedMetrics lists the metric names fpmdoctor watch exports.
func exportedMetrics(t *testing.T) []string {
	t.Helper()
	return contractMetrics()
}
