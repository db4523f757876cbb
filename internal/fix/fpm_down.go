package fix

import (
	"errors"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// fpmDown starts the php-fpm that owns the pool, after php-fpm's own
// config test. Nothing is edited.
var fpmDown = Remedy{
	Cause: "fpm-down",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		if err := p.requireLive(); err != nil {
			return nil, err
		}
		pl, err := p.pool(f)
		if err != nil {
			return nil, err
		}
		if pl.FPM.Running() {
			return nil, errors.New("php-fpm runs now")
		}
		if pl.FPM.Binary == "" {
			return nil, errors.New("no php-fpm binary found for " + pl.FPM.Conf)
		}
		return p.once("start "+pl.FPM.Conf, func() (*Action, error) {
			return &Action{
				Summary: "start php-fpm with " + pl.FPM.Conf,
				Why:     "no master runs with this config; php-fpm -t runs first",
				Ops:     []Op{{Kind: FPMStart, FPM: pl.FPM}},
				Checks:  fpmChecks(pl.FPM),
			}, nil
		})
	},
}
