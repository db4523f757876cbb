package checks

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/netfilter"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// firewall: a packet filter stands between nginx and a port php-fpm
// listens on. The kernel tells the two kinds apart: a connect that times
// out while the port is in LISTEN state was dropped on the way (a drop
// rule); one refused while it listens was answered by a reject rule
// (ICMP port unreachable or a TCP reset), since the listening socket
// itself would have accepted. The rule is named from the nftables
// ruleset (iptables on current distributions is its front end).
//
// For an address on another host or container, nothing here says whether
// the port listens: a timeout is still a drop (or a host that is down),
// and the rule is looked for in this host's own output chains.
var firewall = Check{
	ID:    "firewall",
	Cause: "firewall",
	Step:  report.StepSocket,
	Live:  true,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		seen := map[string]bool{} // one finding per address, however many sites use it
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				if t.Kind != nginxconf.TargetTCP {
					continue
				}
				for _, a := range addrProbes(t) {
					if a.probe == nil || seen[a.addr] {
						continue
					}
					if f, ok := firewallFinding(s, site, t, a); ok {
						seen[a.addr] = true
						out = append(out, f)
					}
				}
			}
		}
		return out
	},
}

func firewallFinding(s *snapshot.Snapshot, site *snapshot.Site, t *snapshot.Target, a addrProbe) (report.Finding, bool) {
	local := anyLocal(s, []net.IP{a.ip})
	l := listenerAt(s, a.ip, t.Port)
	var kind string
	switch {
	case a.probe.Reason == "connect-timeout" && local && l != nil:
		kind = "drop"
	case a.probe.Reason == "refused" && local && l != nil:
		kind = "reject"
	case a.probe.Reason == "connect-timeout" && !local:
		kind = "remote"
	default:
		return report.Finding{}, false
	}
	name := targetName(t, a.ip)
	f := report.Finding{
		Severity: report.Error,
		Live:     true,
		Site:     site.Key(),
		Evidence: []report.Evidence{directiveEvidence(t.Directive)},
	}
	if t.Pool != nil {
		f.Pool = t.Pool.ID()
	}
	f.Evidence = append(f.Evidence, resolutionEvidence(t)...)
	switch kind {
	case "drop":
		f.Title = fmt.Sprintf("connects to %s time out although php-fpm listens there: a packet filter drops them", name)
		f.Detail = fmt.Sprintf("The port is in LISTEN state on this host (%s), yet the connect gets no answer at all: a firewall rule drops the packets. nginx waits fastcgi_connect_timeout, then answers 504 or, with other servers to try, 502.", l)
	case "reject":
		f.Title = fmt.Sprintf("connects to %s are refused although php-fpm listens there: a packet filter rejects them", name)
		f.Detail = fmt.Sprintf("The port is in LISTEN state on this host (%s), so the socket itself would accept; the refusal comes from a firewall rule that rejects (ICMP port unreachable or a TCP reset). nginx logs (111: Connection refused) and answers 502.", l)
	default:
		f.Title = fmt.Sprintf("connects to %s time out: a packet filter drops them, or that host is down", name)
		f.Detail = fmt.Sprintf("%s is on another host or container. Nothing answers the connect at all, not even a refusal: packets are dropped on the way (a firewall there, here, or between) or the host is down. nginx waits fastcgi_connect_timeout, then answers 504. Run fpmdoctor on the php-fpm side to see its rules.", a.ip)
	}
	if l != nil {
		f.Evidence = append(f.Evidence, fact("%s is in LISTEN state (socket inode %d)", l, l.Inode))
	}
	if kind == "reject" {
		// The probe's own words, "nothing listens there", are what a
		// refusal usually means; here the listener is in the line above.
		f.Evidence = append(f.Evidence, fact("FastCGI probe of %s: connect refused although the port listens (111: Connection refused) (refused after %s)", a.addr, probeTime(a.probe.Latency)))
	} else {
		f.Evidence = append(f.Evidence, addrProbeEvidence(a))
	}
	// nginx's 504s of the same drop ("upstream timed out … while
	// connecting to upstream") become this finding's evidence in
	// applyLogs, which ties every logged connection failure to the live
	// finding about its address.
	rules, note := blockingRules(s, t.Port, local)
	for _, r := range rules {
		f.Evidence = append(f.Evidence, fact("nftables %s: %s", r.Where(), r.Text))
	}
	if note != "" {
		f.Evidence = append(f.Evidence, fact("%s", note))
	}
	// A name with several addresses is one upstream of several peers to
	// nginx: when another of them answers, nginx fails over after
	// fastcgi_connect_timeout and the request still succeeds.
	var others []string
	for _, o := range addrProbes(t) {
		if o.addr == a.addr || o.probe == nil {
			continue
		}
		switch o.probe.Reason {
		case "refused", "connect-failed", "connect-timeout":
		default:
			others = append(others, o.addr)
		}
	}
	if len(others) > 0 {
		f.Severity = report.Warning
		f.Title += "; nginx fails over to " + strings.Join(others, ", ")
		f.Detail = sentence(strings.Replace(f.Detail, ", then answers 504.", ".", 1)) + " Here requests still succeed: nginx then tries " + strings.Join(others, ", ") + ", which answers, but every request sent to " + a.addr + " first waits fastcgi_connect_timeout (until max_fails failures make nginx skip it for fail_timeout)."
	}
	fix := "let nginx's address through to port " + fmt.Sprint(t.Port) + " (an accept rule before the blocking one), or remove the rule; then check with fpmdoctor probe " + a.addr
	if len(rules) > 0 && !rules[0].Policy() {
		r := rules[0]
		fix = fmt.Sprintf("remove or narrow the rule (nft delete rule %s %s %s handle %d), or insert an accept for nginx's address before it; fpmdoctor never changes firewall rules itself", r.Family, r.Table, r.Chain, r.Handle)
		if iptablesTable(r) {
			// nft warns "managed by iptables-nft, do not touch!": the
			// tool that wrote the rule should remove it.
			cmd := "iptables"
			if r.Family == "ip6" {
				cmd = "ip6tables"
			}
			fix = fmt.Sprintf("remove or narrow the rule with the tool that manages table %s %s (%s -S %s lists it; %s -D %s with the same arguments removes it; or ufw/firewalld if they wrote it), or insert an accept for nginx's address before it; fpmdoctor never changes firewall rules itself", r.Family, r.Table, cmd, r.Chain, cmd, r.Chain)
		}
	}
	f.Fix = &report.Fix{Summary: fix}
	return f, true
}

// blockingRules lists the rules that end a TCP connection to port:
// in the input path (prerouting, input) for a local address, and in the
// output path for any. A rule counts only when no port-specific accept
// comes before it in its chain. note says why none can be shown.
func blockingRules(s *snapshot.Snapshot, port int, local bool) ([]netfilter.Rule, string) {
	if s.Network.Firewall == nil {
		if s.Network.FirewallErr != "" {
			return nil, "the firewall rule cannot be named: " + s.Network.FirewallErr
		}
		return nil, ""
	}
	// A regular chain (ufw-user-input, DOCKER-USER) filters what the
	// hooked chains that jump to it pass on: it counts under their hooks.
	hooks := map[string][]string{} // chain → hooks it is reached from
	for changed := true; changed; {
		changed = false
		for _, r := range s.Network.Firewall {
			chain := r.Family + " " + r.Table + " " + r.Chain
			from := hooks[chain]
			if r.Hook != "" {
				from = []string{r.Hook}
			}
			if r.JumpTo == "" {
				continue
			}
			to := r.Family + " " + r.Table + " " + r.JumpTo
			for _, h := range from {
				if !slices.Contains(hooks[to], h) {
					hooks[to] = append(hooks[to], h)
					changed = true
				}
			}
		}
	}
	var out []netfilter.Rule
	accepted := map[string]bool{} // chain → a port accept came first
	for _, r := range s.Network.Firewall {
		chain := r.Family + " " + r.Table + " " + r.Chain
		reached := hooks[chain]
		if r.Hook != "" {
			reached = []string{r.Hook}
		}
		hookOK := slices.Contains(reached, "output") || (local && (slices.Contains(reached, "input") || slices.Contains(reached, "prerouting")))
		if !hookOK || accepted[chain] {
			continue
		}
		if r.Accepts(port) {
			accepted[chain] = true
			continue
		}
		if r.Blocks(port) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Sprintf("no rule of this network namespace's nftables ruleset (%d rules read) blocks TCP port %d: the filter is elsewhere (iptables-legacy, the host of a container, a cloud security group, the php-fpm host)", len(s.Network.Firewall), port)
	}
	return out, ""
}

// connectTimesOutNow: nginx's logged connect timeouts whose address a
// probe still cannot connect to now: whatever the firewall check says,
// they are not over.
func connectTimesOutNow(s *snapshot.Snapshot, g logscan.Group) bool {
	if !g.Connect {
		return false
	}
	for _, site := range s.Sites {
		for _, t := range site.Targets {
			if t.Kind != nginxconf.TargetTCP {
				continue
			}
			for _, a := range addrProbes(t) {
				if a.probe != nil && a.probe.Reason == "connect-timeout" && (g.Target == a.addr || (t.Pool != nil && g.Target == t.Pool.ID())) {
					return true
				}
			}
		}
	}
	return false
}

// iptablesTable: a table iptables-nft made (Debian 12's iptables, ufw,
// Docker): the built-in tables of the ip/ip6 families (nft's own
// rulesets use inet tables or names of their own).
func iptablesTable(r netfilter.Rule) bool {
	if r.Family != "ip" && r.Family != "ip6" {
		return false
	}
	switch r.Table {
	case "filter", "raw", "mangle", "nat", "security":
		return true
	}
	return false
}
