package snapshot

import (
	"net"
	"strconv"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
)

// NginxAddress writes the pool's listen address the way fastcgi_pass
// names it: "unix:/run/php/php8.2-fpm.sock", "127.0.0.1:9000" (a port-only
// or wildcard listen is reached on loopback).
func (p *Pool) NginxAddress() string {
	a := p.Listen
	if a.Network == "unix" {
		return "unix:" + a.Path
	}
	h := a.Host
	if a.Wildcard || h == "" {
		h = "127.0.0.1"
	}
	return net.JoinHostPort(h, strconv.Itoa(a.Port))
}

// ListenValue is how the target would be written as a pool's listen.
func (t *Target) ListenValue() string {
	if t.Kind == nginxconf.TargetUnix {
		return t.Path
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// ClosestPool is the pool whose address is most like the target — the
// "did you mean" of listen-mismatch, and the pool fix points nginx at:
// the same family (unix or TCP) first, then the fewest character edits
// (a typo, another PHP version's socket, another port), then a pool whose
// php-fpm runs. nil when no pool has a valid listen.
func (s *Snapshot) ClosestPool(t *Target) *Pool {
	want := t.Target.Address()
	var best *Pool
	bestDist := 0
	for _, f := range s.FPM {
		for _, p := range f.Pools {
			if p.ListenErr != nil {
				continue
			}
			d := 2 * editDistance(want, p.NginxAddress())
			if (p.Listen.Network == "unix") != (t.Kind == nginxconf.TargetUnix) {
				d += 2000
			}
			if !p.FPM.Running() {
				d++
			}
			if best == nil || d < bestDist {
				best, bestDist = p, d
			}
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b, in bytes.
func EditDistance(a, b string) int { return editDistance(a, b) }

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
