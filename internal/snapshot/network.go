package snapshot

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/netfilter"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
)

// NetworkFacts are what decides whether a TCP connection gets through,
// beyond who listens: the packet filter and the network namespaces.
type NetworkFacts struct {
	// Firewall is this network namespace's nftables ruleset, read only
	// when a probe met a silent drop or a refusal at a listening port
	// (nil otherwise, or when it could not be read: see FirewallErr).
	Firewall    []netfilter.Rule
	FirewallErr string
	// NetNS is fpmdoctor's own network namespace ("net:[4026531840]");
	// FPMNetNS the namespace of each running php-fpm master, by config.
	// A pool on 127.0.0.1 in another namespace (a container) is out of
	// reach of an nginx in this one.
	NetNS    string
	FPMNetNS map[string]string
}

// resolveTimeout bounds one DNS question: nginx would wait at load time,
// a diagnosis must not hang on a dead resolver.
const resolveTimeout = 2 * time.Second

// resolver resolves fastcgi_pass host names as nginx does when it loads
// its config (getaddrinfo): the hosts file first, then, on the live host,
// DNS through the system resolver, keeping every A and AAAA answer. Each
// name is asked once per diagnosis.
type resolver struct {
	ctx   context.Context
	s     *Snapshot
	live  bool
	hosts map[string][]net.IP
	cache map[string]resolved
	// dead is set once a question timed out: a hosting host's thousands
	// of names must not each wait for a resolver that does not answer.
	dead bool
}

// ResolveTimedOut prefixes Target.ResolveErr when DNS did not answer (or
// was not asked again after it did not): the name is not judged.
const ResolveTimedOut = "DNS did not answer"

type resolved struct {
	ips []net.IP
	by  string
	err string
}

func newResolver(ctx context.Context, s *Snapshot, hosts map[string][]net.IP) *resolver {
	return &resolver{ctx: ctx, s: s, live: s.Live, hosts: hosts, cache: map[string]resolved{}}
}

func (r *resolver) lookup(name string) ([]net.IP, string, string) {
	key := strings.ToLower(name)
	if ips, ok := r.hosts[key]; ok {
		return ips, "hosts file", ""
	}
	if !r.live {
		return nil, "", "not in the hosts file; offline, DNS is not asked"
	}
	if c, ok := r.cache[key]; ok {
		return c.ips, c.by, c.err
	}
	if r.dead {
		return nil, "", ResolveTimedOut + " earlier in this diagnosis; " + name + " was not asked"
	}
	ctx, cancel := context.WithTimeout(r.ctx, resolveTimeout)
	defer cancel()
	var c resolved
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, name)
	var dnsErr *net.DNSError
	switch {
	case err == nil:
	case ctx.Err() != nil || (errors.As(err, &dnsErr) && (dnsErr.IsTimeout || dnsErr.IsTemporary)):
		r.dead = true
		c.err = ResolveTimedOut + " for " + name + ": " + err.Error()
		r.s.skip("resolve", c.err+"; names not in the hosts file are not judged")
	default:
		c.err = "DNS: " + err.Error()
	}
	for _, a := range addrs {
		c.ips = append(c.ips, a.IP)
	}
	if len(c.ips) > 0 {
		c.by = "DNS"
	}
	r.cache[key] = c
	return c.ips, c.by, c.err
}

// gatherNetwork runs after the probes: it reads what explains a connect
// that failed although something listens (the firewall), who answers
// where php-fpm was expected (the socket's owner), and the namespaces.
func gatherNetwork(ctx context.Context, s *Snapshot) {
	s.Network.NetNS = host.NetNamespace("/proc", os.Getpid())
	s.Network.FPMNetNS = map[string]string{}
	for _, f := range s.FPM {
		if f.Master != nil {
			if ns := host.NetNamespace("/proc", f.Master.PID); ns != "" {
				s.Network.FPMNetNS[f.Conf] = ns
			}
		}
	}
	needFirewall := false
	owned := map[uint64][]*Target{}
	var inodes []uint64
	for _, site := range s.Sites {
		for _, t := range site.Targets {
			if t.Kind != nginxconf.TargetTCP {
				continue
			}
			for _, p := range t.Probes {
				if p == nil {
					continue
				}
				switch p.Reason {
				case "connect-timeout":
					needFirewall = true
				case "refused":
					needFirewall = needFirewall || t.Listener != nil
				case "not-fastcgi":
					if t.Listener != nil && t.Listener.Inode != 0 && t.Owners == nil {
						if owned[t.Listener.Inode] == nil {
							inodes = append(inodes, t.Listener.Inode)
						}
						owned[t.Listener.Inode] = append(owned[t.Listener.Inode], t)
					}
				}
			}
		}
	}
	if len(inodes) > 0 {
		owners := host.SocketOwners(ctx, "/proc", inodes)
		for ino, ts := range owned {
			for _, t := range ts {
				t.Owners = owners[ino]
			}
		}
	}
	if needFirewall {
		rules, err := netfilter.Read()
		switch {
		case err == nil:
			s.Network.Firewall = rules
			if rules == nil {
				s.Network.Firewall = []netfilter.Rule{} // read, and empty
			}
		case errors.Is(err, syscall.EPERM) || os.Geteuid() != 0:
			s.Network.FirewallErr = "not root: cannot read the nftables ruleset (" + err.Error() + ")"
			s.skip("firewall", s.Network.FirewallErr)
		default:
			s.Network.FirewallErr = "cannot read the nftables ruleset: " + err.Error()
			s.skip("firewall", s.Network.FirewallErr)
		}
	}
}
