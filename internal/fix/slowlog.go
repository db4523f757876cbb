package fix

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// defaultSlowTimeout is the request_slowlog_timeout the remedy sets: long
// enough that ordinary pages never get traced (each trace stops the
// worker for a moment), short enough to catch what holds workers before
// nginx's 60 s default gives up on it.
const defaultSlowTimeout = 5 * time.Second

// slowlogDisabled turns on php-fpm's slowlog for a pool that ran out of
// workers or timed out without one: slowlog (unless already set) next to
// php-fpm's own error_log, and request_slowlog_timeout below
// request_terminate_timeout (php-fpm refuses a config where it is not).
// php-fpm's master, not the pool's workers, opens and writes the slowlog
// (it traces the slow worker with ptrace): it creates the file on reload
// in a directory it already writes its error_log to (observed with
// php-fpm 8.2: root:root 0600), so no ownership needs setting up. A
// reload applies both settings.
var slowlogDisabled = Remedy{
	Cause: "slowlog-disabled",
	Info:  true,
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		if err := p.requireLive(); err != nil {
			return nil, err
		}
		pl, err := p.pool(f)
		if err != nil {
			return nil, err
		}
		if !pl.FPM.Running() {
			return nil, errors.New("php-fpm is not running")
		}
		if pl.SlowlogOn() {
			return nil, fmt.Errorf("pool %s already logs slow requests", pl.Name)
		}
		timeout, err := slowTimeoutFor(pl)
		if err != nil {
			return nil, err
		}
		path, _ := pl.Slowlog()
		var edits []Edit
		var what []string
		if path == "" {
			if path, err = slowlogPath(pl); err != nil {
				return nil, err
			}
			e, err := p.FPMSet(pl, "slowlog", path)
			if err != nil {
				return nil, err
			}
			edits = append(edits, e)
			what = append(what, "slowlog = "+path)
		}
		val := strconv.Itoa(int(timeout/time.Second)) + "s"
		e, err := p.FPMSet(pl, "request_slowlog_timeout", val)
		if err != nil {
			return nil, err
		}
		edits = mergeInserts(append(edits, e))
		what = append(what, "request_slowlog_timeout = "+val)
		if err := p.revalidate(pl.FPM, edits, pl.Name); err != nil {
			return nil, err
		}
		return &Action{
			Summary: fmt.Sprintf("log pool %s's slow requests: %s", pl.Name, strings.Join(what, ", ")),
			Why: fmt.Sprintf("the pool's workers were all busy or timed out and nothing says which scripts held them; php-fpm then writes a stack trace of each request running longer than %s (below request_terminate_timeout, as php-fpm requires) to %s, which fpmdoctor diagnose reads. "+
				"php-fpm's master writes the slowlog and creates it on reload; a reload (not a restart) applies both settings", val, path),
			Edits:  edits,
			Ops:    []Op{{Kind: FPMReload, FPM: pl.FPM}},
			Checks: guardedPoolChecks(pl),
		}, nil
	},
}

// slowTimeoutFor is defaultSlowTimeout, or half of a shorter
// request_terminate_timeout (at least a second): a request must be
// logged before php-fpm kills it.
func slowTimeoutFor(pl *snapshot.Pool) (time.Duration, error) {
	term, set := terminateTimeout(pl)
	if !set || term == 0 || term >= 2*defaultSlowTimeout {
		return defaultSlowTimeout, nil
	}
	t := (term / 2).Truncate(time.Second)
	if t < time.Second {
		if term < time.Second {
			return 0, fmt.Errorf("pool %s kills requests after %s: too soon to log a slow one first", pl.Name, term)
		}
		t = time.Second
	}
	return t, nil
}

// slowlogPath is where a pool's slowlog goes: beside php-fpm's own
// error_log, named after it and the pool (/var/log/php8.2-fpm.log →
// /var/log/php8.2-fpm-www.slow.log), a name logrotate's pattern for the
// error_log does not catch by accident.
func slowlogPath(pl *snapshot.Pool) (string, error) {
	name, ident := pl.FPM.LogName()
	if ident != "" || name == "" || !filepath.IsAbs(name) || strings.HasPrefix(name, "/dev/") || strings.HasPrefix(name, "/proc/") {
		return "", fmt.Errorf("php-fpm's error_log is not a file (%q): choose a slowlog path for pool %s by hand", name, pl.Name)
	}
	for _, c := range pl.Name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return "", fmt.Errorf("pool name %q does not make a plain file name: choose a slowlog path by hand", pl.Name)
		}
	}
	dir, base := filepath.Split(name)
	base = strings.TrimSuffix(base, ".log")
	return filepath.Join(dir, base+"-"+pl.Name+".slow.log"), nil
}
