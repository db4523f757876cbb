package fix

import (
	"errors"
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// site finds the site a finding names.
func (p *Planner) site(f report.Finding) (*snapshot.Site, error) {
	if f.Site == "" {
		return nil, errors.New("the finding names no site")
	}
	s := p.S.SiteByKey(f.Site)
	if s == nil {
		return nil, fmt.Errorf("site %q is not in the snapshot", f.Site)
	}
	return s, nil
}

// pool finds the pool a finding names.
func (p *Planner) pool(f report.Finding) (*snapshot.Pool, error) {
	if f.Pool == "" {
		return nil, errors.New("the finding names no pool")
	}
	pl := p.S.PoolByID(f.Pool)
	if pl == nil {
		return nil, fmt.Errorf("pool %q is not in the snapshot", f.Pool)
	}
	return pl, nil
}

// poolChecks verifies every site routed to pool (or the pool alone when
// nginx routes no site there).
func poolChecks(pl *snapshot.Pool) []Check {
	return appendPoolChecks(make([]Check, 0, max(1, len(pl.Sites))), pl, false)
}

// appendPoolChecks appends poolChecks(pl) to out, as guards when noWorse:
// the checks of a php-fpm's thousands of pools then fill one slice.
func appendPoolChecks(out []Check, pl *snapshot.Pool, noWorse bool) []Check {
	if len(pl.Sites) == 0 {
		return append(out, Check{Pool: pl, NoWorse: noWorse})
	}
	for _, s := range pl.Sites {
		out = append(out, Check{Site: s, Pool: pl, NoWorse: noWorse})
	}
	return out
}

// checkCount is how many checks appendPoolChecks makes for the pools of f.
func checkCount(f *snapshot.FPM) int {
	n := 0
	for _, pl := range f.Pools {
		n += max(1, len(pl.Sites))
	}
	return n
}

// guardedPoolChecks verifies the sites of pl, and guards those of every
// other pool of its php-fpm (a reload or restart touches them all): they
// must not get worse.
func guardedPoolChecks(pl *snapshot.Pool) []Check {
	out := appendPoolChecks(make([]Check, 0, checkCount(pl.FPM)), pl, false)
	for _, o := range pl.FPM.Pools {
		if o != pl {
			out = appendPoolChecks(out, o, true)
		}
	}
	return out
}

// fpmChecks verifies every site of every pool of an installation.
func fpmChecks(f *snapshot.FPM) []Check {
	var out []Check
	if len(f.Pools) > 0 {
		out = make([]Check, 0, checkCount(f))
	}
	for _, pl := range f.Pools {
		out = appendPoolChecks(out, pl, false)
	}
	return out
}

// noWorse turns checks into guards: the sites must not get worse.
func noWorse(cs []Check) []Check {
	for i := range cs {
		cs[i].NoWorse = true
	}
	return cs
}

// requireLive refuses remedies that need the running host.
func (p *Planner) requireLive() error {
	if !p.S.Live {
		return errors.New("offline tree (--root): services are not touched")
	}
	return nil
}
