package checks

import (
	"fmt"
	"net"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
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
					src, how := sourceAddress(s, ip)
					if src == nil {
						continue
					}
					if ac.AllowsClient(clientAsSeen(t.Pool.Listen, src)) {
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

// sourceAddress is the address the kernel picks to reach dst: the same
// loopback address for loopback, else the route's source (a UDP "connect"
// sends nothing but asks the kernel).
func sourceAddress(s *snapshot.Snapshot, dst net.IP) (net.IP, string) {
	if dst.IsLoopback() {
		return dst, "a loopback connection comes from the address it goes to"
	}
	if !s.Live {
		return nil, ""
	}
	c, err := net.Dial("udp", net.JoinHostPort(dst.String(), "9"))
	if err != nil {
		return nil, ""
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP, "the kernel's route to it"
}

// clientAsSeen: a pool listening dual-stack on [::] sees IPv4 clients as
// IPv4-mapped IPv6 addresses.
func clientAsSeen(a fpmconf.Address, ip net.IP) net.IP {
	if ip4 := ip.To4(); ip4 != nil && (a.Wildcard || (a.IP != nil && a.IP.To4() == nil)) {
		return ip4.To16()
	}
	return ip
}
