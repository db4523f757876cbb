package fix

import (
	"errors"
	"fmt"

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
		switch f.ID {
		case "remote-refused", "listen-loopback-only":
			// The pool must open its port to the network. Which client to
			// let in (listen.allowed_clients) is nginx's address, known
			// only from nginx's side, and php-fpm there runs in another
			// host or container, which a restart from here would not
			// reach: a person does it.
			return nil, errors.New("the pool must listen on every address with listen.allowed_clients naming nginx's address, and be restarted where it runs (another host or container); see the finding's fix")
		case "host-not-found":
			return nil, errors.New("the name must be made resolvable where nginx runs (network, /etc/hosts, DNS)")
		}
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
		pool := p.S.ClosestPool(t)
		if pool == nil {
			return nil, errors.New("no pool to point nginx at: add a pool that listens on " + t.ListenValue())
		}
		if !pool.FPM.Running() && p.S.Live {
			return nil, fmt.Errorf("the closest pool %s belongs to a php-fpm that is not running; start it first", pool.Name)
		}
		if t.Directive.Name == "server" {
			for _, c := range site.Targets {
				if c.Pool == pool {
					// Pointing this server at the pool too would list
					// the pool twice; removing a server is the owner's
					// call (something may be meant to listen there).
					return nil, fmt.Errorf("pool %s is already a server of upstream %s: remove %s by hand if nothing should listen on %s", pool.Name, site.Pass.Target.Upstream.Name, t.Directive, t.Target.Address())
				}
			}
		}
		users := wrongUsers(p.S, t)
		a := &Action{}
		if len(pool.Sites) == 0 && len(users) > 1 && pool.Setting != nil {
			e, err := p.FPMSet(pool, "listen", t.ListenValue())
			if err != nil {
				return nil, err
			}
			a.Summary = fmt.Sprintf("set pool %s's listen to %s", pool.Name, t.ListenValue())
			a.Why = fmt.Sprintf("%d nginx directives name %s and pool %s serves no site today, so moving the pool breaks nothing; listen changes need a php-fpm restart", len(users), t.Target.Address(), pool.Name)
			a.Edits = []Edit{e}
			a.Ops = []Op{{Kind: FPMRestart, FPM: pool.FPM}}
			for _, s := range users {
				a.Checks = append(a.Checks, Check{Site: s, Pool: pool, Addr: t.Target.Address()})
			}
			return a, nil
		}
		e, err := p.NginxArg(site.Nginx, t.Directive, 0, pool.NginxAddress())
		if err != nil {
			return nil, err
		}
		a.Summary = fmt.Sprintf("point %s at %s (pool %s)", t.Directive.Name, pool.NginxAddress(), pool.Name)
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
