package checks

import (
	"slices"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// nginxConfigInvalid: nginx refuses its configuration (syntax, includes,
// addresses), so a reload or restart fails and the old workers — or none —
// keep serving.
var nginxConfigInvalid = Check{
	ID:    "nginx-config-invalid",
	Cause: "nginx-config-invalid",
	Step:  report.StepConfig,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, n := range s.Nginx {
			if n.Config == nil {
				continue
			}
			// Concat, not append: append could write into the spare
			// capacity of the snapshot's own slice.
			for _, p := range slices.Concat(n.Config.Problems, n.Model.Problems) {
				f := report.Finding{
					Severity: report.Error,
					Title:    "nginx refuses its configuration: " + p.Message,
					Detail:   "nginx -t fails with this, so a reload is refused and a restart leaves nginx down.",
					Evidence: []report.Evidence{{Kind: report.KindConfig, File: p.File, Line: p.Line, Text: p.Error()}},
					Fix:      &report.Fix{Summary: "correct " + p.File + " at the line shown, then run nginx -t before reloading"},
				}
				if n.Master != nil {
					f.Detail = "nginx -t fails with this: the running nginx (pid " + itoa(n.Master.PID) + ") keeps its old config, and a restart would leave it down."
				}
				out = append(out, f)
			}
		}
		return out
	},
}
