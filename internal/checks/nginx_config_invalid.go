package checks

import (
	"regexp"
	"slices"
	"strings"
	"sync"

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
				if t := n.Test; t != nil {
					f.Evidence = append(f.Evidence, nginxTestEvidence(t, p.Error()))
					if t.OK {
						// nginx itself accepts: fpmdoctor's reading is
						// what is wrong, not the configuration.
						f.Severity = report.Warning
						f.Title = "fpmdoctor reads a problem nginx -t does not report: " + p.Message
						f.Detail = "nginx -t accepts this configuration; please report the difference."
					}
				}
				out = append(out, f)
			}
		}
		return out
	},
}

// nginxTestEvidence quotes nginx -t: its own line for the problem when it
// reports the same, else what it said first (it stops at its first error,
// which may be another one).
func nginxTestEvidence(t *snapshot.ConfigTest, problem string) report.Evidence {
	if t.OK {
		return fact("%s accepts the configuration", t.Command)
	}
	out := nginxLogStamp().ReplaceAllString(t.Output, "nginx: [$1] ")
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, problem) {
			return fact("%s confirms: %s", t.Command, strings.TrimSpace(line))
		}
	}
	return fact("%s: %s", t.Command, firstLines(out, 2))
}

// nginxLogStamp is the time and pid nginx puts before a message when its
// error log is stderr (Debian builds it so): the quote keeps only the
// level, as nginx prints it on a terminal otherwise.
var nginxLogStamp = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(\w+)\] \d+#\d+: `)
})
