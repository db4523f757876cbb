package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// allowedClients: a TCP pool's listen.allowed_clients excludes the address
// nginx connects from. php-fpm accepts the connection, then closes it, so
// nginx logs "upstream prematurely closed connection" or (104: Connection
// reset by peer), and php-fpm logs "Connection disallowed: IP address '…'
// has been dropped." only when catch_workers_output is on.
var allowedClients = Check{
	ID:    "allowed-clients",
	Cause: "allowed-clients",
	Step:  report.StepPermission,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				if t.Kind != nginxconf.TargetTCP || t.Pool == nil {
					continue
				}
				st := t.Pool.Pool.Get("listen.allowed_clients")
				if st == nil {
					continue
				}
				ac := fpmconf.ParseAllowedClients(st.Value)
				if !ac.Set {
					continue
				}
				for _, ip := range t.IPs {
					if !t.Pool.Listen.Covers(ip, t.Port) {
						continue
					}
					src, how := host.SourceAddress(s.Host, ip)
					if src == nil {
						continue
					}
					if ac.AllowsClient(t.Pool.Listen.Peer(src)) {
						continue
					}
					ev := []report.Evidence{directiveEvidence(t.Directive), settingEvidence(st), fact("nginx connects to %s from %s (%s)", ip, src, how)}
					if len(ac.Invalid) > 0 {
						ev = append(ev, fact("php-fpm ignores invalid entries: %q", ac.Invalid))
					}
					out = append(out, report.Finding{
						Severity: report.Error,
						Site:     site.Key(),
						Pool:     t.Pool.ID(),
						Title:    fmt.Sprintf("pool %s drops nginx's connections: %s is not in listen.allowed_clients", t.Pool.Name, src),
						Detail:   "php-fpm accepts the connection and closes it at once; nginx logs upstream prematurely closed connection (or 104: Connection reset by peer) and answers 502.",
						Evidence: ev,
						Fix:      &report.Fix{Summary: fmt.Sprintf("add %s to listen.allowed_clients of pool %s (comma-separated, no spaces), then restart php-fpm", src, t.Pool.Name)},
					})
					break
				}
			}
		}
		return out
	},
}
