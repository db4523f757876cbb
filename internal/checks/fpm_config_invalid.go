package checks

import (
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// fpmConfigInvalid: php-fpm refuses its configuration, so it cannot start
// or restart. The rule and message are php-fpm's own (internal/fpmconf
// reproduces its validation); php-fpm -t confirms it when available.
var fpmConfigInvalid = Check{
	ID:    "fpm-config-invalid",
	Cause: "fpm-config-invalid",
	Step:  report.StepConfig,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, f := range s.FPM {
			if f.Config == nil {
				continue
			}
			for _, p := range f.Problems {
				if p.Severity != fpmconf.Fatal || p.Extra || p.StartOnly && f.Running() {
					continue
				}
				fd := report.Finding{
					Severity: report.Error,
					Pool:     poolIDFor(f, p.Pool),
					Title:    "php-fpm refuses its configuration: " + p.Message,
					Detail:   p.Rule,
					Evidence: []report.Evidence{{Kind: report.KindConfig, File: p.File, Line: p.Line, Text: p.Message}},
					Fix:      &report.Fix{Summary: fixFor(f, p)},
				}
				if f.Running() {
					fd.Detail = strings.TrimSpace(sentence(fd.Detail) + " The running php-fpm (pid " + itoa(f.Master.PID) + ") still uses the config it started with; the next restart or reload will fail and take the pools down.")
				} else {
					if s.Live {
						fd.Detail = sentence(fd.Detail) + " php-fpm is not running and cannot start until this is fixed."
						fd.Live = true
					} else {
						fd.Detail = sentence(fd.Detail) + " php-fpm cannot start with this config."
					}
				}
				if t := f.Test; t != nil {
					fd.Evidence = append(fd.Evidence, fact("%s: %s", t.Command, firstLines(t.Output, 3)))
				}
				out = append(out, fd)
			}
		}
		return out
	},
}

func fixFor(f *snapshot.FPM, p fpmconf.Problem) string {
	what := "the setting"
	if p.Directive != "" {
		what = p.Directive
	}
	where := p.File
	if p.Line > 0 {
		where += ":" + itoa(p.Line)
	}
	return "correct " + what + " at " + where + ", then check with " + binOr(f, "php-fpm") + " -t -y " + f.Conf
}

// sentence ends s with a period so details can be joined.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// poolIDFor names pool in f as findings do, "" for global problems.
func poolIDFor(f *snapshot.FPM, name string) string {
	if p := f.PoolNamed(name); p != nil {
		return p.ID()
	}
	return ""
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, " | ")
}
