package fix

import (
	"errors"
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// notFastCGI points fastcgi_pass at the pool nginx was meant to reach
// when the address it names answers in another protocol (nginx's own
// HTTP listener, a database). Only nginx changes: the server that owns
// the port is somebody else's and stays as it is, and a reload of nginx
// drops no request. The closest pool must run, or there is nothing to
// point at yet.
var notFastCGI = Remedy{
	Cause: "not-fastcgi",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		site, err := p.site(f)
		if err != nil {
			return nil, err
		}
		var t *snapshot.Target
		for _, c := range site.Targets {
			for _, pr := range c.Probes {
				if pr != nil && pr.Reason == "not-fastcgi" && t == nil {
					t = c
				}
			}
		}
		if t == nil {
			return nil, errors.New("no target of the site answers in another protocol now")
		}
		pool := p.S.ClosestPool(t)
		if pool == nil {
			return nil, errors.New("no pool is configured to point nginx at: start php-fpm with a pool, then point fastcgi_pass at its listen address")
		}
		if !pool.FPM.Running() && p.S.Live {
			return nil, fmt.Errorf("the closest pool %s belongs to a php-fpm that is not running; start it first", pool.Name)
		}
		e, err := p.NginxArg(site.Nginx, t.Directive, 0, pool.NginxAddress())
		if err != nil {
			return nil, err
		}
		return &Action{
			Summary: fmt.Sprintf("point %s at %s (pool %s) instead of %s", t.Directive.Name, pool.NginxAddress(), pool.Name, t.Target.Address()),
			Why:     fmt.Sprintf("%s is another server, not php-fpm; pool %s is the closest php-fpm address, and changing nginx leaves that server alone", t.Target.Address(), pool.Name),
			Edits:   []Edit{e},
			Ops:     []Op{{Kind: NginxReload, Nginx: site.Nginx}},
			Checks:  []Check{{Site: site, Pool: pool}},
		}, nil
	},
}
