package fix

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// allowedClients adds the address nginx connects from to the pool's
// listen.allowed_clients. php-fpm's children read the list when they
// start, and a reload re-executes php-fpm with the new config, so a
// reload is enough (the socket itself does not change).
var allowedClients = Remedy{
	Cause: "allowed-clients",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		pl, err := p.pool(f)
		if err != nil {
			return nil, err
		}
		site, err := p.site(f)
		if err != nil {
			return nil, err
		}
		st := pl.Pool.Get("listen.allowed_clients")
		if st == nil {
			return nil, errors.New("the pool has no listen.allowed_clients")
		}
		ac := fpmconf.ParseAllowedClients(st.Value)
		var src net.IP
		for _, t := range site.Targets {
			if t.Kind != nginxconf.TargetTCP || t.Pool != pl {
				continue
			}
			for _, ip := range t.IPs {
				if s, _ := host.SourceAddress(p.S.Host, ip); s != nil && !ac.AllowsClient(pl.Listen.Peer(s)) {
					src = s
					break
				}
			}
		}
		if src == nil {
			return nil, errors.New("cannot tell which address nginx connects from")
		}
		val := strings.TrimSpace(st.Value)
		if val != "" {
			val += ","
		}
		val += src.String()
		e, err := p.FPMSetting(pl.FPM, st, val)
		if err != nil {
			return nil, err
		}
		return &Action{
			Summary: fmt.Sprintf("allow %s in listen.allowed_clients of pool %s", src, pl.Name),
			Why:     "php-fpm's workers read the list when they start, so a reload (not a restart) applies it",
			Edits:   []Edit{e},
			Ops:     []Op{{Kind: FPMReload, FPM: pl.FPM}},
			Checks:  guardedPoolChecks(pl),
		}, nil
	},
}
