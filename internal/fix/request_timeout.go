package fix

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// requestTimeout lets nginx, not php-fpm, decide when a slow request
// ends: the pool's request_terminate_timeout becomes the longest
// fastcgi_read_timeout of the sites nginx routes to it. A request nginx
// still waits for is then never killed under it (a 502 with the work
// lost); one nginx gave up on still ends, so a stuck script cannot hold a
// worker forever. php-fpm reads the setting when it (re)loads its
// config: a reload applies it.
var requestTimeout = Remedy{
	Cause: "request-timeout",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		pl, err := timeoutPool(p, f)
		if err != nil {
			return nil, err
		}
		if !pl.FPM.Running() {
			return nil, errors.New("php-fpm is not running")
		}
		read, where := longestReadTimeout(pl)
		if read <= 0 {
			return nil, fmt.Errorf("nginx routes no site to pool %s: nothing to align request_terminate_timeout with", pl.Name)
		}
		secs := int((read + time.Second - 1) / time.Second)
		term, set := terminateTimeout(pl)
		if !set || term == 0 {
			return nil, fmt.Errorf("pool %s sets no request_terminate_timeout now (php-fpm does not kill slow requests): the logged kills are from an older config", pl.Name)
		}
		if term >= time.Duration(secs)*time.Second {
			return nil, fmt.Errorf("request_terminate_timeout of pool %s (%s) already lets requests run as long as nginx waits (%s): the logged kills are older than it; make the slow scripts faster", pl.Name, pl.Pool.Value("request_terminate_timeout"), read)
		}
		val := strconv.Itoa(secs) + "s"
		e, err := p.FPMSet(pl, "request_terminate_timeout", val)
		if err != nil {
			return nil, err
		}
		a := &Action{
			Summary: fmt.Sprintf("set request_terminate_timeout = %s in pool %s (the longest fastcgi_read_timeout of its sites, %s)", val, pl.Name, where),
			Why: "php-fpm killed requests nginx was still waiting for, so each ended as a 502 instead of an answer; " +
				"raising the pool's limit to nginx's (rather than lowering nginx's) changes no site's timeout and still ends a request nobody waits for. " +
				"php-fpm reads the setting on reload, so a reload (not a restart) applies it",
			Edits:  []Edit{e},
			Ops:    []Op{{Kind: FPMReload, FPM: pl.FPM}},
			Checks: guardedPoolChecks(pl),
		}
		// The logged killed request, sent again, must now get its answer.
		p.replayChecks(a, f, min(read+5*time.Second, 5*time.Minute))
		return a, nil
	},
}

// timeoutPool is the pool a request-timeout finding is about: the logged
// kills name it; the static finding names the site whose pool kills
// before nginx stops waiting.
func timeoutPool(p *Planner, f report.Finding) (*snapshot.Pool, error) {
	if f.Pool != "" {
		return p.pool(f)
	}
	site, err := p.site(f)
	if err != nil {
		return nil, err
	}
	read := site.Pass.Settings().ReadTimeout
	for _, t := range site.Targets {
		if t.Pool == nil {
			continue
		}
		if term, set := terminateTimeout(t.Pool); set && term > 0 && term < read {
			return t.Pool, nil
		}
	}
	return nil, errors.New("no pool of the site ends requests before nginx stops waiting")
}

// terminateTimeout is the pool's request_terminate_timeout; set is false
// when it is unset or unreadable.
func terminateTimeout(pl *snapshot.Pool) (time.Duration, bool) {
	st := pl.Pool.Get("request_terminate_timeout")
	if st == nil {
		return 0, false
	}
	d, err := fpmconf.ParseDuration(st.Value)
	return d, err == nil
}

// longestReadTimeout is the longest fastcgi_read_timeout of the sites
// routed to pl, and where it is set.
func longestReadTimeout(pl *snapshot.Pool) (time.Duration, string) {
	var best time.Duration
	where := ""
	for _, site := range pl.Sites {
		set := site.Pass.Settings()
		if set.ReadTimeout > best {
			best, where = set.ReadTimeout, "nginx's default for "+site.Name
			if d := set.From["fastcgi_read_timeout"]; d != nil {
				where = d.Pos()
			}
		}
	}
	return best, where
}
