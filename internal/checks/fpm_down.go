package checks

import (
	"fmt"
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
		// One stopped master is one root cause, however many pools it
		// has: a hosting host's 5,000 pools make one finding, not 5,000.
		type down struct {
			fpm   *snapshot.FPM
			pools []*snapshot.Pool
			first *snapshot.Target // the first fastcgi_pass reaching them
		}
		var order []*down
		byFPM := map[*snapshot.FPM]*down{}
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
				d := byFPM[p.FPM]
				if d == nil {
					d = &down{fpm: p.FPM, first: t}
					byFPM[p.FPM] = d
					order = append(order, d)
				}
				d.pools = append(d.pools, p)
			}
		}
		out := make([]report.Finding, 0, len(order))
		for _, d := range order {
			out = append(out, fpmDownFinding(d.fpm, d.pools, d.first))
		}
		return out
	},
}

// fpmDownFinding reports the pools of one master that does not run,
// evidenced by the first pool nginx reaches.
func fpmDownFinding(fpm *snapshot.FPM, pools []*snapshot.Pool, t *snapshot.Target) report.Finding {
	p := pools[0]
	ev := []report.Evidence{directiveEvidence(t.Directive), settingEvidenceOrHeader(p)}
	ev = append(ev, fact("no php-fpm master process runs with %s (checked every process in /proc)", fpm.Conf))
	if p.Listen.Network == "unix" {
		ev = append(ev, fact("%s does not exist, so nginx logs connect() ... failed (2: No such file or directory)", p.Listen.Path))
	} else {
		ev = append(ev, fact("nothing listens on %s, so nginx logs connect() failed (111: Connection refused)", p.Listen.String()))
	}
	var sites []*snapshot.Site
	for _, pl := range pools {
		sites = append(sites, pl.Sites...)
	}
	f := report.Finding{
		Severity: report.Error,
		Live:     true,
		// The first pool names the master for fix; Affected lists them all.
		Pool:     p.ID(),
		Title:    "php-fpm is not running: pool " + p.Name + " has no master",
		Detail:   "nginx passes " + siteNames(sites) + " to pool " + p.Name + " of " + fpm.Conf + ", but no php-fpm runs with that config, so every PHP request gets 502.",
		Evidence: ev,
		Fix:      &report.Fix{Summary: "start php-fpm: " + fpmStartCommand(fpm)},
	}
	if len(pools) > 1 {
		names := make([]string, len(pools))
		ids := make([]string, len(pools))
		for i, pl := range pools {
			names[i], ids[i] = pl.Name, pl.ID()
		}
		f.Title = fmt.Sprintf("php-fpm is not running: %d pools of %s have no master", len(pools), fpm.Conf)
		f.Detail = "nginx passes " + countedNames(siteNameList(sites), "site", "sites") + " to " + countedNames(names, "pool", "pools") + " of " + fpm.Conf + ", but no php-fpm runs with that config, so every PHP request to them gets 502."
		f.Evidence = append(f.Evidence, fact("%d pools of %s in all: %s; --format json lists every pool and site under affected", len(pools), fpm.Conf, firstNames(names, 5)))
		f.Affected = &report.Affected{Pools: ids, Sites: siteKeys(sites)}
	}
	return f
}

// refusesConfig: php-fpm (and php-fpm -t) stops on one of ps.
func refusesConfig(ps []fpmconf.Problem) bool {
	return slices.ContainsFunc(ps, func(p fpmconf.Problem) bool {
		return p.Severity == fpmconf.Fatal && !p.Extra && !p.StartOnly
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
