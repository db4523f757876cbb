package checks

import (
	"fmt"
	"net"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// remoteTarget: fastcgi_pass names php-fpm on another host or container
// (docker-compose's "php:9000", a Kubernetes service, an app server).
// Its pools are not ours to read, but the probe is: an address that
// refuses now is an error now, with each address tried. The commonest
// reason is the official php-fpm Docker image's trap, a pool listening on
// 127.0.0.1:9000, which only its own container reaches.
var remoteTarget = Check{
	ID:    "remote-refused",
	Cause: "listen-mismatch",
	Step:  report.StepListen,
	Live:  true,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		if len(s.Nginx) == 0 {
			out = append(out, loopbackWithoutNginx(s)...)
		}
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				if t.Kind != nginxconf.TargetTCP {
					continue
				}
				if t.Unresolved {
					// A resolver that did not answer says nothing of the name.
					if !strings.HasPrefix(t.ResolveErr, snapshot.ResolveTimedOut) {
						out = append(out, unresolvedFinding(site, t))
					}
					continue
				}
				if f, ok := remoteRefused(s, site, t); ok {
					out = append(out, f)
				}
			}
		}
		return out
	},
}

func unresolvedFinding(site *snapshot.Site, t *snapshot.Target) report.Finding {
	why := t.ResolveErr
	if why == "" {
		why = "no address"
	}
	return report.Finding{
		ID:       "host-not-found",
		Severity: report.Error,
		Live:     true,
		Site:     site.Key(),
		Title:    fmt.Sprintf("%s does not resolve: nginx cannot load a config naming it", t.Host),
		Detail:   fmt.Sprintf("nginx resolves fastcgi_pass host names when it loads its config, through the hosts file and DNS; %s has no address (%s), so nginx -t fails with host not found in upstream and a reload keeps the old config.", t.Host, why),
		Evidence: []report.Evidence{directiveEvidence(t.Directive), fact("%s: %s", t.Host, why)},
		Fix:      &report.Fix{Summary: "make the name resolvable where nginx runs (the container's network, /etc/hosts, DNS), or use an IP address"},
	}
}

// remoteRefused reports the addresses of a target on another host that
// refuse or cannot be reached now.
func remoteRefused(s *snapshot.Snapshot, site *snapshot.Site, t *snapshot.Target) (report.Finding, bool) {
	var failed, answered []addrProbe
	for _, a := range addrProbes(t) {
		if a.probe == nil || anyLocal(s, []net.IP{a.ip}) {
			continue
		}
		switch a.probe.Reason {
		case "refused", "connect-failed":
			failed = append(failed, a)
		case "connect-timeout": // the firewall check's
		default:
			answered = append(answered, a)
		}
	}
	if len(failed) == 0 {
		return report.Finding{}, false
	}
	a := failed[0]
	f := report.Finding{
		Severity: report.Error,
		Live:     true,
		Site:     site.Key(),
		Address:  t.Address(),
		Evidence: append([]report.Evidence{directiveEvidence(t.Directive)}, resolutionEvidence(t)...),
	}
	for _, b := range failed {
		f.Evidence = append(f.Evidence, addrProbeEvidence(b))
	}
	for _, b := range answered {
		f.Evidence = append(f.Evidence, addrProbeEvidence(b))
	}
	src, how := host.SourceAddress(s.Host, a.ip)
	from := "nginx's address"
	if src != nil {
		from = src.String()
		f.Evidence = append(f.Evidence, fact("nginx connects to %s from %s (%s)", a.ip, src, how))
	}
	if len(answered) > 0 {
		// nginx fails over to the addresses that answer: every request
		// pays a failed connect first, and a busy moment marks them all down.
		f.Severity = report.Warning
	}
	addrs := make([]string, len(failed))
	for i, b := range failed {
		addrs[i] = b.addr
	}
	if t.Pool != nil {
		f.Pool = t.Pool.ID() // reached through the addresses that answer
	}
	switch {
	case len(answered) > 0:
		ok := make([]string, len(answered))
		for i, b := range answered {
			ok[i] = b.addr
		}
		f.Title = fmt.Sprintf("%s refuses connections now; nginx fails over to %s", targetName(t, a.ip), strings.Join(ok, ", "))
		f.Detail = fmt.Sprintf("nginx makes a peer of every address of %s. Connects to %s fail (%s) and are retried on %s: every request routed there pays a failed connect first, and when all peers are marked down users get 502 (no live upstreams). php-fpm there listens on some of the name's addresses only (0.0.0.0 is IPv4 only; listen = %d takes both families).", t.Host, strings.Join(addrs, ", "), a.probe.Detail, strings.Join(ok, ", "), t.Port)
		f.Fix = &report.Fix{Summary: fmt.Sprintf("make the pool listen on every address of %s (listen = %d), or have the name resolve only to addresses it serves", t.Host, t.Port)}
		if a.probe.Reason != "refused" {
			// No route, host unreachable: no host answers at that
			// address at all, so no listen setting can be the reason.
			f.Title = fmt.Sprintf("%s cannot be reached now; nginx fails over to %s", targetName(t, a.ip), strings.Join(ok, ", "))
			f.Detail = fmt.Sprintf("nginx makes a peer of every address of %s. Connects to %s fail before reaching any host (%s) and are retried on %s: every request routed there pays a failed connect first, and when all peers are marked down users get 502 (no live upstreams). The name resolves to an address where no host is now: a stale hosts or DNS entry, or a container or server that is gone.", t.Host, strings.Join(addrs, ", "), a.probe.Detail, strings.Join(ok, ", "))
			f.Fix = &report.Fix{Summary: fmt.Sprintf("remove %s from what %s resolves to (hosts file, DNS), or bring that host back; then reload nginx, which resolves the name only when it loads its config", strings.Join(addrs, ", "), t.Host)}
		}
		return f, true
	case a.probe.Reason == "refused":
		f.Title = fmt.Sprintf("%s refuses connections now: php-fpm there is not running or listens only on its own loopback", targetName(t, a.ip))
		f.Detail = fmt.Sprintf("nginx connects to %s on another host or container and gets (111: Connection refused): nothing listens on that address there, or a firewall there rejects the connect (fpmdoctor run on that side names the rule). Either php-fpm is not running, or its pool listens on 127.0.0.1 (the php-fpm Docker image's listen = 127.0.0.1:9000 is the classic case), which only its own host or container reaches. A pool reachable from nginx needs listen = %s (every address; or 0.0.0.0:%d) and listen.allowed_clients = %s.", strings.Join(addrs, ", "), openListen(t.Port), t.Port, from)
	default:
		f.Title = fmt.Sprintf("%s cannot be reached now: %s", targetName(t, a.ip), a.probe.Detail)
		f.Detail = fmt.Sprintf("nginx connects to %s on another host or container and the connect fails before reaching php-fpm: a route, an interface or the host is missing.", strings.Join(addrs, ", "))
	}
	if p := loopbackPool(s, t.Port); p != nil {
		// The pool's config is readable here (a shared volume, a host
		// running both containers): show the line to change.
		f.Evidence = append(f.Evidence, settingEvidenceOrHeader(p))
		if ev, ok := namespaceEvidence(s, p); ok {
			f.Evidence = append(f.Evidence, ev)
		}
		f.Pool = p.ID()
		f.Fix = &report.Fix{Summary: fmt.Sprintf("set pool %s's listen = %s and listen.allowed_clients = %s, then restart php-fpm", p.Name, openListen(t.Port), from)}
	} else {
		f.Fix = &report.Fix{Summary: fmt.Sprintf("on the php-fpm side: start php-fpm, or set the pool's listen = %s (not 127.0.0.1:%d) and listen.allowed_clients = %s, then restart it; fpmdoctor run there shows its pools", openListen(t.Port), t.Port, from)}
	}
	return f, true
}

// loopbackOnly: seen from the php-fpm side. nginx targets an address of
// this host that is not loopback, and the pool on that port listens only
// on loopback: whoever connects from another host or container is
// refused. Returns false when the case does not apply.
func loopbackOnly(s *snapshot.Snapshot, site *snapshot.Site, t *snapshot.Target) (report.Finding, bool) {
	if t.Kind != nginxconf.TargetTCP || t.Pool != nil {
		return report.Finding{}, false
	}
	var ip net.IP
	for _, c := range t.IPs {
		if !c.IsLoopback() && anyLocal(s, []net.IP{c}) {
			ip = c
			break
		}
	}
	p := loopbackPool(s, t.Port)
	if ip == nil || p == nil {
		return report.Finding{}, false
	}
	f := report.Finding{
		ID:       "listen-loopback-only",
		Severity: report.Error,
		Live:     s.Live,
		Site:     site.Key(),
		Pool:     p.ID(),
		Title:    fmt.Sprintf("pool %s listens on %s, reachable only from this host: nginx connects to %s", p.Name, p.Listen.String(), targetName(t, ip)),
		Detail:   fmt.Sprintf("A pool on a loopback address takes connections only from its own host or container. nginx reaches this host at %s and is refused (111: Connection refused). The pool needs listen = %s (every address; or 0.0.0.0:%d) and listen.allowed_clients naming nginx's address, so that opening the port lets in nobody else.", ip, openListen(t.Port), t.Port),
		Evidence: append([]report.Evidence{directiveEvidence(t.Directive)}, resolutionEvidence(t)...),
	}
	f.Evidence = append(f.Evidence, settingEvidenceOrHeader(p))
	if p.Listener != nil {
		f.Evidence = append(f.Evidence, fact("%s listens; nothing listens on %s:%d", p.Listener, ip, t.Port))
	}
	for _, a := range addrProbes(t) {
		if a.probe != nil && a.ip.Equal(ip) {
			f.Evidence = append(f.Evidence, addrProbeEvidence(a))
		}
	}
	f.Fix = &report.Fix{Summary: fmt.Sprintf("set pool %s's listen = %s and listen.allowed_clients to nginx's address, then restart php-fpm", p.Name, openListen(t.Port))}
	return f, true
}

// loopbackWithoutNginx: run on the php-fpm side with no nginx here (a
// php-fpm container, an app server): nginx is elsewhere, and a running
// pool on a loopback TCP address is out of its reach. A warning, since
// a local client (a health check, a local proxy) may be all it serves.
func loopbackWithoutNginx(s *snapshot.Snapshot) []report.Finding {
	var out []report.Finding
	for _, fpm := range s.FPM {
		if !fpm.Running() {
			continue
		}
		for _, p := range fpm.Pools {
			if p.ListenErr != nil || p.Listen.Network != "tcp" || p.Listen.IP == nil || !p.Listen.IP.IsLoopback() {
				continue
			}
			f := report.Finding{
				ID:       "listen-loopback-only",
				Severity: report.Warning,
				Live:     true,
				Pool:     p.ID(),
				Title:    fmt.Sprintf("pool %s listens on %s, reachable only from this host, and no nginx runs here", p.Name, p.Listen.String()),
				Detail:   fmt.Sprintf("nginx is on another host or container, and a pool on a loopback address takes connections only from its own: nginx's connects are refused (111: Connection refused) and it answers 502. The pool needs listen = %d (every address; or 0.0.0.0:%d) and listen.allowed_clients naming nginx's address.", p.Listen.Port, p.Listen.Port),
				Evidence: []report.Evidence{settingEvidenceOrHeader(p)},
				Fix:      &report.Fix{Summary: fmt.Sprintf("set pool %s's listen = %d and listen.allowed_clients to nginx's address, then restart php-fpm", p.Name, p.Listen.Port)},
			}
			if p.Listener != nil {
				f.Evidence = append(f.Evidence, fact("%s listens (php-fpm master pid %d)", p.Listener, fpm.Master.PID))
			}
			out = append(out, f)
		}
	}
	return out
}
