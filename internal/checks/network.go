package checks

import (
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// Helpers shared by the checks about TCP targets: firewall, not-fastcgi,
// remote targets and pools reachable only from their own host.

// addrProbe is one address of a TCP target with its live exchange.
type addrProbe struct {
	ip    net.IP
	addr  string // ip:port
	probe *probe.Result
}

// addrProbes pairs a TCP target's addresses with their probes (nil when
// not probed).
func addrProbes(t *snapshot.Target) []addrProbe {
	out := make([]addrProbe, len(t.IPs))
	for i, ip := range t.IPs {
		out[i] = addrProbe{ip: ip, addr: net.JoinHostPort(ip.String(), strconv.Itoa(t.Port))}
		if i < len(t.Probes) {
			out[i].probe = t.Probes[i]
		}
	}
	return out
}

// targetName writes a target for a title: "php:9000 (10.0.0.2)" for a
// name, "10.0.0.2:9000" for a literal.
func targetName(t *snapshot.Target, ip net.IP) string {
	addr := t.Target.Address()
	if net.ParseIP(t.Host) == nil {
		return addr + " (" + ip.String() + ")"
	}
	return addr
}

// resolutionEvidence says how a name became addresses, as nginx resolves
// it at load time.
func resolutionEvidence(t *snapshot.Target) []report.Evidence {
	if t.ResolvedBy == "" || t.ResolvedBy == "literal" {
		return nil
	}
	return []report.Evidence{fact("%s resolves to %s (%s; nginx resolves it when it loads its config)", t.Host, joinIPs(t.IPs), t.ResolvedBy)}
}

// addrProbeEvidence quotes one address's exchange.
func addrProbeEvidence(a addrProbe) report.Evidence {
	p := a.probe
	return fact("FastCGI probe of %s: %s (%s after %s)", a.addr, p.Detail, p.Reason, probeTime(p.Latency))
}

// listenerAt finds the live TCP listener that takes connections to
// ip:port on this host (an exact address, or a wildcard of its family).
func listenerAt(s *snapshot.Snapshot, ip net.IP, port int) *host.Listener {
	var wildcard *host.Listener
	for i := range s.Listeners {
		l := &s.Listeners[i]
		if l.Network != "tcp" || l.Port != port {
			continue
		}
		if l.IP.Equal(ip) {
			return l
		}
		if l.IP.IsUnspecified() && (l.IP.To4() == nil || ip.To4() != nil) {
			wildcard = l
		}
	}
	return wildcard
}

// loopbackPool finds a pool that listens on a loopback address at port:
// the php-fpm Docker image's listen = 127.0.0.1:9000, reachable only from
// inside its own host or container.
func loopbackPool(s *snapshot.Snapshot, port int) *snapshot.Pool {
	for _, f := range s.FPM {
		for _, p := range f.Pools {
			if p.ListenErr == nil && p.Listen.Network == "tcp" && p.Listen.Port == port && p.Listen.IP != nil && p.Listen.IP.IsLoopback() {
				return p
			}
		}
	}
	return nil
}

// openListen is what a pool must listen on to be reached from another
// host or container, keeping its port.
func openListen(port int) string { return strconv.Itoa(port) }

// namespaceEvidence says when a pool's master runs in another network
// namespace than fpmdoctor: its 127.0.0.1 is not this one.
func namespaceEvidence(s *snapshot.Snapshot, p *snapshot.Pool) (report.Evidence, bool) {
	if p == nil || p.FPM.Master == nil {
		return report.Evidence{}, false
	}
	ns := s.Network.FPMNetNS[p.FPM.Conf]
	if ns == "" || s.Network.NetNS == "" || ns == s.Network.NetNS {
		return report.Evidence{}, false
	}
	return fact("php-fpm master pid %d runs in network namespace %s, not this one (%s): its loopback is its own", p.FPM.Master.PID, ns, s.Network.NetNS), true
}

// nginxListenFor finds the listen directive of an nginx that owns a port:
// "nginx master 1234 listens on 127.0.0.1:8080, conf.d/site.conf:13".
func nginxListenFor(s *snapshot.Snapshot, owners []host.SocketOwner, ip net.IP, port int) (*snapshot.Nginx, *nginxconf.Directive) {
	for _, n := range s.Nginx {
		if n.Model == nil || n.Master == nil {
			continue
		}
		owns := false
		for _, o := range owners {
			owns = owns || o.PID == n.Master.PID || o.PPID == n.Master.PID
		}
		if !owns {
			continue
		}
		for _, srv := range n.Model.Servers {
			for _, l := range srv.Listens {
				if listenCovers(l.Address, ip, port) {
					return n, l.Directive
				}
			}
		}
		return n, nil
	}
	return nil, nil
}

// listenCovers reports whether an nginx listen address ("8080",
// "127.0.0.1:8080", "*:8080", "[::]:8080") takes connections to ip:port.
// Only the address is read, not parameters such as ipv6only=off.
func listenCovers(addr string, ip net.IP, port int) bool {
	if strings.HasPrefix(addr, "unix:") {
		return false
	}
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		h, p = "", addr
	}
	if p != strconv.Itoa(port) {
		return false
	}
	switch h {
	case "", "*":
		return ip.To4() != nil
	}
	lip := net.ParseIP(h)
	if lip == nil {
		return h == "localhost" && ip.IsLoopback()
	}
	// nginx listens on [::] with ipv6only=on unless told otherwise: no IPv4.
	return lip.Equal(ip) || (lip.IsUnspecified() && (lip.To4() == nil) == (ip.To4() == nil))
}

// probeTime writes how long a probe took, to the millisecond; a refusal
// comes back in microseconds, which "after 0s" made read as if nothing
// had been tried.
func probeTime(d time.Duration) string {
	if d < time.Millisecond {
		return "<1ms"
	}
	return d.Round(time.Millisecond).String()
}
