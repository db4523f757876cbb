package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// unusedPool: a pool that no fastcgi_pass reaches. It is often the other
// half of a mismatch already reported (the pool nginx should reach), or a
// leftover of a removed site or an older PHP version that still holds
// pm.start_servers workers and memory. Only pools nginx on this host is
// the one client of are judged: unix sockets and loopback TCP. A pool
// listening on other addresses may serve another host's nginx.
var unusedPool = Check{
	ID:    "unused-pool",
	Cause: "unused-pool",
	Step:  report.StepPass,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		if len(s.Nginx) == 0 {
			return nil
		}
		unresolvedTCP := false
		for _, n := range s.Nginx {
			if n.Model == nil || n.LoadErr != nil {
				return nil // a site nginx could not read may be the user
			}
		}
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				if t.Kind == nginxconf.TargetTCP && t.Unresolved {
					unresolvedTCP = true
				}
			}
		}
		// The pool a listen-mismatch names as "did you mean" is that
		// finding's other half: reported there, not twice.
		meant := map[*snapshot.Pool]bool{}
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				if t.Pool == nil && !t.Unresolved && (t.Kind == nginxconf.TargetUnix || t.Kind == nginxconf.TargetTCP) {
					if p := s.ClosestPool(t); p != nil {
						meant[p] = true
					}
				}
			}
		}
		var out []report.Finding
		for _, f := range s.FPM {
			for _, p := range f.Pools {
				if len(p.Sites) > 0 || meant[p] || p.ListenErr != nil || p.Setting == nil {
					continue
				}
				switch p.Listen.Network {
				case "unix":
				case "tcp":
					if unresolvedTCP || p.Listen.IP == nil || !p.Listen.IP.IsLoopback() {
						continue
					}
				default:
					continue
				}
				out = append(out, report.Finding{
					Severity: report.Warning,
					Pool:     p.ID(),
					Title:    fmt.Sprintf("no fastcgi_pass reaches pool %s (%s)", p.Name, p.Listen),
					Detail:   "No PHP site of nginx's config passes to this address. If a site should use it, its fastcgi_pass names another address (a 502 there); if none should, the pool is a leftover that keeps workers and memory.",
					Evidence: []report.Evidence{settingEvidence(p.Setting), poolHeaderEvidence(p),
						fact("%s: none of the %d fastcgi_pass targets of nginx's config", p.Listen, len(s.Sites))},
					Fix: &report.Fix{Summary: fmt.Sprintf("point the site's fastcgi_pass at %s, or remove pool %s", p.Listen, p.Name)},
				})
			}
		}
		return out
	},
}
