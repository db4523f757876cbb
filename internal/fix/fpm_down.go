package fix

import (
	"errors"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// fpmDown starts the php-fpm that owns the pool, after php-fpm's own
// config test. Nothing is edited.
var fpmDown = Remedy{
	Cause: "fpm-down",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		pl, err := p.pool(f)
		if err != nil {
			return nil, err
		}
		return startFPM(p, pl)
	},
}

// staleSocket: the socket file is left over from a php-fpm that was
// killed (SIGKILL, the OOM killer) and no master runs now. Starting
// php-fpm is the whole repair: it unlinks the file at its listen path
// before it binds there, so nothing is deleted by hand. A socket that a
// running php-fpm no longer holds, or one no pool is configured for,
// stays manual.
var staleSocket = Remedy{
	Cause: "stale-socket",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		if f.Pool == "" {
			return nil, errors.New("no configured pool listens at that path: which php-fpm should serve it is a choice; " + NextStep(f))
		}
		pl, err := p.pool(f)
		if err != nil {
			return nil, err
		}
		if pl.FPM.Running() {
			return nil, errors.New("php-fpm runs but does not hold the socket (the file was replaced after it bound it): restart php-fpm by hand once whatever replaced it is found")
		}
		return startFPM(p, pl)
	},
}

// startFPM is the one start of pl's php-fpm, shared by every finding
// that asks for it (fpm-down and stale-socket of all its pools).
func startFPM(p *Planner, pl *snapshot.Pool) (*Action, error) {
	if err := p.requireLive(); err != nil {
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
			Why:     "no master runs with this config; php-fpm -t runs first; php-fpm replaces a socket file left behind at its listen path when it binds",
			Ops:     []Op{{Kind: FPMStart, FPM: pl.FPM}},
			Checks:  fpmChecks(pl.FPM),
		}, nil
	})
}
