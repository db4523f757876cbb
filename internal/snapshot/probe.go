package snapshot

import (
	"context"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
)

// Probe defaults: a probe never waits past its deadline, and a hosting
// host's thousands of pools are not all woken up by one diagnosis.
const (
	DefaultProbeTimeout = 2 * time.Second
	DefaultProbeLimit   = 64
	probeWorkers        = 8
)

// probeTargets talks FastCGI to the targets nginx uses, the way nginx does:
// as its worker user when fpmdoctor runs as root. It asks ping.path, the
// status page, or a script that cannot exist, so no application code runs.
func probeTargets(ctx context.Context, s *Snapshot, opts Options) {
	timeout := opts.ProbeTimeout
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	limit := opts.ProbeLimit
	if limit == 0 {
		limit = DefaultProbeLimit
	}
	type job struct {
		targets []*Target
		site    *Site
	}
	byAddr := map[string]*job{}
	var order []string
	// Each target's addresses, in the order of the loops below and above
	// (a hosting host has thousands: computed once).
	var (
		targetKeys [][]string
		nkeys      int
	)
	for _, site := range s.Sites {
		for _, t := range site.Targets {
			if t.Kind != nginxconf.TargetUnix && (t.Kind != nginxconf.TargetTCP || len(t.IPs) == 0) {
				continue
			}
			keys := probeAddresses(t)
			targetKeys = append(targetKeys, keys)
			nkeys += len(keys)
			for _, key := range keys {
				j, ok := byAddr[key]
				if !ok {
					j = &job{site: site}
					byAddr[key] = j
					order = append(order, key)
				}
				j.targets = append(j.targets, t)
			}
		}
	}
	if limit > 0 && len(order) > limit {
		s.skip(FactProbe, ProbeLimitNote(limit, len(order)))
		order = order[:limit]
	}
	results := make(map[string]*probe.Result, len(order))
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan string)
	for range min(probeWorkers, len(order)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range work {
				j := byAddr[key]
				t := j.targets[0]
				po := ProbeOptions(t.Pool, j.site.Nginx, s.Users, t.Kind == nginxconf.TargetUnix, timeout)
				pt, err := probe.ParseTarget(key)
				if err != nil {
					continue
				}
				res := probe.Probe(ctx, pt, po)
				mu.Lock()
				results[key] = &res
				mu.Unlock()
			}
		}()
	}
	for _, key := range order {
		work <- key
	}
	close(work)
	wg.Wait()
	// Every target sharing an address shares its result; a target's
	// addresses beyond the limit stay unprobed (nil).
	arena := make([]*probe.Result, nkeys) // every target's Probes, in one allocation
	for _, site := range s.Sites {
		for _, t := range site.Targets {
			if t.Kind != nginxconf.TargetUnix && (t.Kind != nginxconf.TargetTCP || len(t.IPs) == 0) {
				continue
			}
			keys := targetKeys[0]
			targetKeys = targetKeys[1:]
			t.Probes = arena[:len(keys):len(keys)]
			arena = arena[len(keys):]
			for i, key := range keys {
				t.Probes[i] = results[key]
			}
			t.Probe = t.Probes[0]
		}
	}
}

// probeAddresses are the addresses nginx connects to for a target, in
// its order: the socket, or each address of the name.
func probeAddresses(t *Target) []string {
	if t.Kind == nginxconf.TargetUnix {
		return []string{"unix:" + t.Path}
	}
	out := make([]string, len(t.IPs))
	for i, ip := range t.IPs {
		out[i] = net.JoinHostPort(ip.String(), strconv.Itoa(t.Port))
	}
	return out
}

// ProbeOptions are the options to probe pool p (nil: unknown) the way
// nginx n reaches it: the pool's ping and status pages and, as root on a
// unix socket, the identity of n's workers, so a permission problem shows
// as nginx meets it. users names that identity (nil: by uid).
func ProbeOptions(p *Pool, n *Nginx, users *host.Users, unix bool, timeout time.Duration) probe.Options {
	po := probe.Options{Timeout: timeout}
	if p != nil {
		po.PingPath = p.Pool.Value("ping.path")
		po.PingResponse = p.Pool.Value("ping.response")
		po.StatusPath = p.Pool.Value("pm.status_path")
	}
	if unix && os.Geteuid() == 0 && n != nil && n.Cred != nil && n.Cred.UID != 0 {
		name := strconv.Itoa(n.Cred.UID)
		if users != nil {
			name = users.UserName(n.Cred.UID)
		}
		po.As = probe.CredentialsOf(name, *n.Cred)
	}
	return po
}

// ProbeLimitNote is the skipped-list entry for a host with more targets
// than the probe limit; it names the flag's values the way its help does.
func ProbeLimitNote(probed, total int) string {
	return "probed " + strconv.Itoa(probed) + " of " + strconv.Itoa(total) + " fastcgi_pass targets (--probe-limit N raises the limit; -1 probes all)"
}
