package checks

import (
	"slices"
	"strconv"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// fpmDown: nginx targets a pool whose php-fpm master does not run. When the
// config is invalid, fpm-config-invalid names the reason instead; when the
// socket file was left behind, stale-socket does.
var fpmDown = Check{
	ID:    "fpm-down",
	Cause: "fpm-down",
	Step:  report.StepService,
	Live:  true,
	Needs: []snapshot.Fact{snapshot.FactProcesses},
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		seen := map[*snapshot.Pool]bool{}
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				p := t.Pool
				if p == nil || seen[p] || p.FPM.Running() || refusesConfig(p.FPM.Problems) {
					continue
				}
				if p.Listen.Network == "unix" && p.Socket.Exists {
					continue // stale-socket reports it with the left-over file
				}
				seen[p] = true
				sites := p.Sites
				ev := []report.Evidence{directiveEvidence(t.Directive), settingEvidenceOrHeader(p)}
				ev = append(ev, fact("no php-fpm master process runs with %s (checked every process in /proc)", p.FPM.Conf))
				if p.Listen.Network == "unix" {
					ev = append(ev, fact("%s does not exist, so nginx logs connect() ... failed (2: No such file or directory)", p.Listen.Path))
				} else {
					ev = append(ev, fact("nothing listens on %s, so nginx logs connect() failed (111: Connection refused)", p.Listen.String()))
				}
				out = append(out, report.Finding{
					Severity: report.Error,
					Live:     true,
					Pool:     p.ID(),
					Title:    "php-fpm is not running: pool " + p.Name + " has no master",
					Detail:   "nginx passes " + siteNames(sites) + " to pool " + p.Name + " of " + p.FPM.Conf + ", but no php-fpm runs with that config, so every PHP request gets 502.",
					Evidence: ev,
					Fix:      &report.Fix{Summary: "start php-fpm: " + fpmStartCommand(p.FPM)},
				})
			}
		}
		return out
	},
}

// refusesConfig: php-fpm (and php-fpm -t) stops on one of ps.
func refusesConfig(ps []fpmconf.Problem) bool {
	return slices.ContainsFunc(ps, func(p fpmconf.Problem) bool {
		return p.Severity == fpmconf.Fatal && !p.Extra && !p.StartOnly
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
