package checks

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// listenMismatch: a fastcgi_pass target (directly or through an upstream)
// is no pool's listen address. The finding names the closest pool address:
// a typo, the socket of another PHP version, another port, or localhost
// resolving to an address family php-fpm does not listen on.
var listenMismatch = Check{
	ID:    "listen-mismatch",
	Cause: "listen-mismatch",
	Step:  report.StepListen,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		if len(s.FPM) == 0 {
			return nil
		}
		var out []report.Finding
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				if f, ok := mismatch(s, site, t); ok {
					out = append(out, f)
				}
			}
		}
		return out
	},
}

func mismatch(s *snapshot.Snapshot, site *snapshot.Site, t *snapshot.Target) (report.Finding, bool) {
	switch t.Kind {
	case nginxconf.TargetUnix:
		if t.Pool != nil {
			return report.Finding{}, false
		}
	case nginxconf.TargetTCP:
		if t.Unresolved {
			return report.Finding{}, false // DNS at nginx's load time: not guessed
		}
		// For another host, the live probe of each address (remote.go)
		// says which family is served, better than a pool config read
		// here, which may not be what runs there.
		if f, ok := partialFamily(s, site, t); ok && !(s.Live && len(t.Probes) > 0 && !anyLocal(s, t.IPs)) {
			return f, true
		}
		if t.Pool != nil {
			return report.Finding{}, false
		}
		if notFastCGIProbe(t) != nil {
			return report.Finding{}, false // not-fastcgi names who answers there
		}
		if f, ok := loopbackOnly(s, site, t); ok {
			return f, true
		}
		if !anyLocal(s, t.IPs) {
			return report.Finding{}, false // another host or container: its pools are not ours to read
		}
	default:
		return report.Finding{}, false
	}
	addr := t.Target.Address()
	ev := []report.Evidence{directiveEvidence(t.Directive)}
	if t.Directive != site.Pass.Directive {
		ev = append([]report.Evidence{directiveEvidence(site.Pass.Directive)}, ev...)
	}
	f := report.Finding{
		Severity: report.Error,
		Site:     site.Key(),
		Address:  addr,
		Title:    fmt.Sprintf("no php-fpm pool listens on %s", addr),
		Detail:   fmt.Sprintf("nginx sends %s's PHP requests to %s, but no pool listens there (%s read).", site.Name, addr, countWord(countPools(s), "pool", "pools")),
		Evidence: ev,
	}
	if t.Listener != nil {
		// Something does listen: a php-fpm whose config was not read, or
		// another service. Say so rather than claim a mismatch.
		f.Severity = report.Warning
		f.Detail = fmt.Sprintf("Something listens on %s, but no php-fpm config that was read declares it (pass its config with --fpm-conf).", addr)
	}
	if pool := s.ClosestPool(t); pool != nil {
		best := pool.NginxAddress()
		f.Title += "; did you mean " + best + "?"
		if pool.Setting != nil {
			f.Evidence = append(f.Evidence, settingEvidence(pool.Setting))
		}
		if why := mismatchKind(addr, best); why != "" {
			f.Detail += " " + why
		}
		f.Fix = &report.Fix{Summary: fmt.Sprintf("point fastcgi_pass at %s (pool %s), or set the pool's listen to %s; then nginx -t and reload", best, pool.Name, t.ListenValue())}
		if t.Directive.Name == "server" {
			f.Fix.Summary = fmt.Sprintf("point %s at %s (pool %s), or set the pool's listen to %s; then nginx -t and reload", t.Directive, best, pool.Name, t.ListenValue())
			if upstreamReaches(site, pool) {
				// The upstream has that pool already: a second server
				// line for it would only double its share.
				f.Fix.Summary = fmt.Sprintf("remove %s from upstream %s (pool %s is its server already), or start what should listen on %s; then nginx -t and reload", t.Directive, site.Pass.Target.Upstream.Name, pool.Name, addr)
			}
		}
	} else {
		f.Fix = &report.Fix{Summary: "add a pool that listens on " + t.ListenValue() + ", or point fastcgi_pass at an existing pool"}
	}
	if t.Kind == nginxconf.TargetUnix && s.Live {
		if t.Socket.Exists {
			f.Evidence = append(f.Evidence, fact("%s exists but is not any configured pool's socket", t.Path))
		} else {
			f.Evidence = append(f.Evidence, fact("%s does not exist: nginx logs (2: No such file or directory)", t.Path))
		}
	}
	f.Live = s.Live && t.Listener == nil
	return f, true
}

// partialFamily: a name such as localhost resolves to ::1 and 127.0.0.1,
// nginx makes a peer of each, and php-fpm listens on only one of them.
func partialFamily(s *snapshot.Snapshot, site *snapshot.Site, t *snapshot.Target) (report.Finding, bool) {
	if len(t.IPs) < 2 || net.ParseIP(t.Host) != nil {
		return report.Finding{}, false
	}
	var covered, missed []string
	var pool *snapshot.Pool
	for _, ip := range t.IPs {
		p := poolCovering(s, ip, t.Port)
		if p != nil {
			covered = append(covered, ip.String())
			pool = p
		} else {
			missed = append(missed, ip.String())
		}
	}
	if pool == nil || len(missed) == 0 {
		return report.Finding{}, false
	}
	return report.Finding{
		Severity: report.Warning,
		Site:     site.Key(),
		Title:    fmt.Sprintf("%s resolves to %s, but pool %s listens only on %s", t.Host, strings.Join(append(missed, covered...), " and "), pool.Name, strings.Join(covered, ", ")),
		Detail:   fmt.Sprintf("nginx makes one peer per address of %s. Requests to %s fail with (111: Connection refused) and are retried on the other address, so users see delays and, when both are marked down, 502 (no live upstreams).", t.Host, strings.Join(missed, ", ")),
		Evidence: []report.Evidence{directiveEvidence(t.Directive), settingEvidenceOrHeader(pool), fact("hosts file: %s → %s", t.Host, joinIPs(t.IPs))},
		Fix:      &report.Fix{Summary: fmt.Sprintf("use an IP literal on both sides: fastcgi_pass %s;", net.JoinHostPort(covered[0], strconv.Itoa(t.Port)))},
	}, true
}

func settingEvidenceOrHeader(p *snapshot.Pool) report.Evidence {
	if p.Setting != nil {
		return settingEvidence(p.Setting)
	}
	return poolHeaderEvidence(p)
}

func poolCovering(s *snapshot.Snapshot, ip net.IP, port int) *snapshot.Pool {
	for _, f := range s.FPM {
		for _, p := range f.Pools {
			if p.ListenErr == nil && p.Listen.Network == "tcp" && p.Listen.Covers(ip, port) {
				return p
			}
		}
	}
	return nil
}

func joinIPs(ips []net.IP) string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return strings.Join(out, ", ")
}

// anyLocal: loopback, or (live) an address of this host.
func anyLocal(s *snapshot.Snapshot, ips []net.IP) bool {
	for _, ip := range ips {
		if ip.IsLoopback() || ip.IsUnspecified() {
			return true
		}
	}
	if !s.Live {
		return false
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			for _, ip := range ips {
				if n.IP.Equal(ip) {
					return true
				}
			}
		}
	}
	return false
}

func countPools(s *snapshot.Snapshot) int {
	n := 0
	for _, f := range s.FPM {
		n += len(f.Pools)
	}
	return n
}

var phpVersionRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`php(\d+(?:\.\d+)?)`) })

// mismatchKind explains the commonest reasons two addresses differ.
func mismatchKind(have, want string) string {
	hv, wv := phpVersionRe().FindStringSubmatch(have), phpVersionRe().FindStringSubmatch(want)
	if hv != nil && wv != nil && hv[1] != wv[1] {
		return fmt.Sprintf("nginx still points at the PHP %s socket while PHP %s is configured: typical after a PHP upgrade.", hv[1], wv[1])
	}
	hh, hp, err1 := net.SplitHostPort(strings.TrimPrefix(have, "unix:"))
	wh, wp, err2 := net.SplitHostPort(strings.TrimPrefix(want, "unix:"))
	if err1 == nil && err2 == nil && !strings.HasPrefix(have, "unix:") && !strings.HasPrefix(want, "unix:") {
		switch {
		case hh == wh && hp != wp:
			return "Same address, different port."
		case hp == wp && hh != wh:
			return "Same port, different address."
		}
	}
	if strings.HasPrefix(have, "unix:") != strings.HasPrefix(want, "unix:") {
		return "nginx uses " + family(have) + " but the pool listens on " + family(want) + "."
	}
	if d := snapshot.EditDistance(have, want); d <= 3 {
		return fmt.Sprintf("The paths differ by %d character(s): probably a typo.", d)
	}
	return ""
}

func family(a string) string {
	if strings.HasPrefix(a, "unix:") {
		return "a unix socket"
	}
	return "TCP"
}

// upstreamReaches reports whether another server of site's upstream
// already reaches pool.
func upstreamReaches(site *snapshot.Site, pool *snapshot.Pool) bool {
	for _, c := range site.Targets {
		if c.Pool == pool {
			return true
		}
	}
	return false
}
