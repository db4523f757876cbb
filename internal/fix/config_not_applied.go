package fix

import (
	"errors"
	"strconv"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// configNotApplied applies what is on disk: php-fpm is restarted (not
// reloaded: a reload keeps inherited sockets, so listen.* would still not
// apply), nginx is reloaded. Config tests run first, so a config that
// was edited but is broken is reported, not loaded.
var configNotApplied = Remedy{
	Cause: "config-not-applied",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		if err := p.requireLive(); err != nil {
			return nil, err
		}
		if f.ID == "fix-interrupted" {
			return nil, errors.New("fpmdoctor fix restores the interrupted run's files first (fpmdoctor fix --rollback)")
		}
		if f.Pool != "" {
			pl, err := p.pool(f)
			if err != nil {
				return nil, err
			}
			a, err := restartFPM(pl.FPM, "pool "+pl.Name)
			if err == nil {
				// The pool's own sites must answer; the other pools' must not get worse.
				a.Checks = guardedPoolChecks(pl)
			}
			return a, err
		}
		if strings.HasPrefix(f.Title, "nginx ") {
			n := nginxByPID(p.S, f)
			if n == nil {
				return nil, errors.New("cannot tell which nginx the finding is about")
			}
			return &Action{
				Summary: "reload nginx so it reads " + n.Conf,
				Why:     "nginx applies config files only on reload; nginx -t runs first",
				Ops:     []Op{{Kind: NginxReload, Nginx: n}},
				Checks:  noWorse(nginxChecks(p.S, n)),
			}, nil
		}
		for _, fp := range p.S.FPM {
			if strings.Contains(f.Title, "("+fp.Conf+")") {
				return p.once("restart "+fp.Conf, func() (*Action, error) { return restartFPM(fp, fp.Conf) })
			}
		}
		return nil, errors.New("cannot tell which server the finding is about")
	},
}

func restartFPM(f *snapshot.FPM, what string) (*Action, error) {
	if !f.Running() {
		return nil, errors.New("php-fpm is not running")
	}
	return &Action{
		Summary: "restart php-fpm (" + f.Conf + ") so " + what + " runs as configured",
		Why:     "a reload keeps the sockets php-fpm inherited, so changed listen.* settings need a restart; php-fpm -t runs first",
		Ops:     []Op{{Kind: FPMRestart, FPM: f}},
		Checks:  noWorse(fpmChecks(f)),
	}, nil
}

func nginxByPID(s *snapshot.Snapshot, f report.Finding) *snapshot.Nginx {
	for _, n := range s.Nginx {
		if n.Master == nil {
			continue
		}
		for _, e := range f.Evidence {
			if strings.Contains(e.Text, "nginx master pid "+strconv.Itoa(n.Master.PID)+" ") {
				return n
			}
		}
	}
	return nil
}

func nginxChecks(s *snapshot.Snapshot, n *snapshot.Nginx) []Check {
	var out []Check
	for _, site := range s.Sites {
		if site.Nginx != n {
			continue
		}
		c := Check{Site: site}
		for _, t := range site.Targets {
			if t.Pool != nil {
				c.Pool = t.Pool
				break
			}
		}
		out = append(out, c)
	}
	return out
}
