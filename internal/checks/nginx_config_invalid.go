package checks

import (
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
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
				if d := earlierDuplicate(n.Config.Directives, p); d != nil {
					// The other half of the pair is often in another
					// file (Debian's snippets/fastcgi-php.conf has its
					// own try_files): show both, and do not send the
					// user to edit a packaged snippet.
					f.Evidence = append(f.Evidence, directiveEvidence(d))
					f.Detail += " The same block sets " + d.Name + " earlier, at " + d.File + ":" + itoa(d.Line) + ", and nginx allows one per block."
					f.Fix.Summary = "keep one " + d.Name + " in that block: remove the line at " + p.File + ":" + itoa(p.Line) + " or the one at " + d.File + ":" + itoa(d.Line) + " (in your own file, not a packaged snippet), then run nginx -t before reloading"
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

// earlierDuplicate is, for nginx's "is duplicate" problem p, the first
// directive of the same setting in the block where nginx met the second
// (includes are spliced in, so it may be in another file); nil for other
// problems.
func earlierDuplicate(top []*nginxconf.Directive, p nginxconf.Problem) *nginxconf.Directive {
	name, rest, ok := strings.Cut(strings.TrimPrefix(p.Message, `"`), `"`)
	if !ok || !strings.HasPrefix(p.Message, `"`) || !strings.HasPrefix(rest, " directive is duplicate") {
		return nil
	}
	same := func(a string) bool {
		return a == name || (a == "root" || a == "alias") && (name == "root" || name == "alias")
	}
	var found *nginxconf.Directive
	look := func(ds []*nginxconf.Directive) {
		for i, d := range ds {
			if d.Name != name || d.File != p.File || d.Line != p.Line {
				continue
			}
			for _, e := range ds[:i] {
				if !e.IsBlock && same(e.Name) {
					found = e
					return
				}
			}
		}
	}
	look(top)
	nginxconf.Walk(top, func(d *nginxconf.Directive) bool {
		if found == nil && d.IsBlock {
			look(d.Block)
		}
		return found == nil
	})
	return found
}
