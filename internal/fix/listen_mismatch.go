package fix

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// listenMismatch points nginx at the pool that should serve the site, or
// the pool at what nginx expects, whichever side breaks no other site.
//
// The nginx side is preferred: every site using the wrong address is
// broken already, so rewriting it can only repair, and a reload of nginx
// drops no request. The pool side is chosen only when the pool serves no
// site today and several nginx directives name the wrong address (one
// edit instead of many); changing listen then needs a php-fpm restart.
var listenMismatch = Remedy{
	Cause: "listen-mismatch",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		site, err := p.site(f)
		if err != nil {
			return nil, err
		}
		var t *snapshot.Target
		for _, c := range site.Targets {
			if c.Pool == nil && (c.Kind == nginxconf.TargetUnix || c.Kind == nginxconf.TargetTCP && !c.Unresolved && len(c.IPs) > 0) {
				t = c
				break
			}
		}
		if t == nil {
			return nil, errors.New("the site's targets all reach a pool (only part of a name's addresses is served: change the name to an IP literal by hand)")
		}
		pool := closestPool(p.S, t)
		if pool == nil {
			return nil, errors.New("no pool to point nginx at: add a pool that listens on " + listenValue(t))
		}
		if !pool.FPM.Running() && p.S.Live {
			return nil, fmt.Errorf("the closest pool %s belongs to a php-fpm that is not running; start it first", pool.Name)
		}
		users := wrongUsers(p.S, t)
		a := &Action{}
		if len(pool.Sites) == 0 && len(users) > 1 && pool.Setting != nil {
			e, err := p.FPMSet(pool, "listen", listenValue(t))
			if err != nil {
				return nil, err
			}
			a.Summary = fmt.Sprintf("set pool %s's listen to %s", pool.Name, listenValue(t))
			a.Why = fmt.Sprintf("%d nginx directives name %s and pool %s serves no site today, so moving the pool breaks nothing; listen changes need a php-fpm restart", len(users), t.Target.Address(), pool.Name)
			a.Edits = []Edit{e}
			a.Ops = []Op{{Kind: FPMRestart, FPM: pool.FPM}}
			for _, s := range users {
				a.Checks = append(a.Checks, Check{Site: s, Pool: pool, Addr: t.Target.Address()})
			}
			return a, nil
		}
		e, err := p.NginxArg(site.Nginx, t.Directive, 0, nginxAddress(pool))
		if err != nil {
			return nil, err
		}
		a.Summary = fmt.Sprintf("point %s at %s (pool %s)", t.Directive.Name, nginxAddress(pool), pool.Name)
		a.Why = fmt.Sprintf("changing nginx touches only sites that are broken already; pool %s", pool.Name)
		if len(pool.Sites) > 0 {
			a.Why += fmt.Sprintf(" also serves %d working site(s), which moving its listen would break", len(pool.Sites))
		} else {
			a.Why += " keeps its address, and nginx reloads without dropping requests"
		}
		a.Edits = []Edit{e}
		a.Ops = []Op{{Kind: NginxReload, Nginx: site.Nginx}}
		a.Checks = []Check{{Site: site, Pool: pool}}
		return a, nil
	},
}

// wrongUsers lists the sites whose target is the same wrong address.
func wrongUsers(s *snapshot.Snapshot, t *snapshot.Target) []*snapshot.Site {
	var out []*snapshot.Site
	for _, site := range s.Sites {
		for _, c := range site.Targets {
			if c.Pool == nil && c.Target.Address() == t.Target.Address() {
				out = append(out, site)
				break
			}
		}
	}
	return out
}

// closestPool is the pool address most like the target: same family
// first, then the fewest character edits, then one whose php-fpm runs.
func closestPool(s *snapshot.Snapshot, t *snapshot.Target) *snapshot.Pool {
	want := t.Target.Address()
	best, bestDist := (*snapshot.Pool)(nil), 0
	for _, f := range s.FPM {
		for _, pl := range f.Pools {
			if pl.ListenErr != nil {
				continue
			}
			d := 2 * editDistance(want, nginxAddress(pl))
			if (pl.Listen.Network == "unix") != (t.Kind == nginxconf.TargetUnix) {
				d += 2000
			}
			if !pl.FPM.Running() {
				d++
			}
			if best == nil || d < bestDist {
				best, bestDist = pl, d
			}
		}
	}
	return best
}

// nginxAddress writes a pool's listen as fastcgi_pass would.
func nginxAddress(pl *snapshot.Pool) string {
	a := pl.Listen
	if a.Network == "unix" {
		return "unix:" + a.Path
	}
	h := a.Host
	if a.Wildcard || h == "" {
		h = "127.0.0.1"
	}
	return net.JoinHostPort(h, strconv.Itoa(a.Port))
}

// listenValue is how a target is written as a pool's listen.
func listenValue(t *snapshot.Target) string {
	if t.Kind == nginxconf.TargetUnix {
		return t.Path
	}
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

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
