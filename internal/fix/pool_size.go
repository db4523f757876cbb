package fix

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
	"github.com/fpmdoctor/fpmdoctor/internal/tune"
)

// fpmDefaultBacklog is php-fpm's listen.backlog when unset on Linux
// (FPM_BACKLOG_DEFAULT).
const fpmDefaultBacklog = 511

// The pool-sizing remedies apply what `fpmdoctor tune` recommends for the
// pool's pm.* settings. tune sizes from the workers' measured memory
// (PSS), so pm.max_children never grows past what memory holds: an
// exhausted pool gets more workers only as far as they fit, an
// overcommitted one is lowered to what fits.

// poolExhausted: every worker was busy. The finding itself is the
// observed peak tune raises pm.max_children for.
var poolExhausted = Remedy{
	Cause: "pool-exhausted",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		pl, err := p.pool(f)
		if err != nil {
			return nil, err
		}
		return sizePool(p, f, pl, true)
	},
}

// backlogOverflow: the listen queue filled because every worker was busy.
// The pool is sized as an exhausted one; a listen.backlog set below
// php-fpm's default goes back to the default (a php-fpm restart: the
// backlog is fixed when the socket is created). A backlog capped by
// net.core.somaxconn needs a sysctl: manual.
var backlogOverflow = Remedy{
	Cause: "backlog-overflow",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		if f.ID == "backlog-overflow-somaxconn" {
			return nil, errors.New("net.core.somaxconn caps the backlog: raise it with sysctl (fpmdoctor does not change kernel settings); " + NextStep(f))
		}
		pl, err := p.pool(f)
		if err != nil {
			return nil, err
		}
		if err := sizeable(p, f, pl); err != nil {
			return nil, err
		}
		backlog, err := raiseBacklog(p, pl)
		if err != nil {
			return nil, err
		}
		a, err := sizePool(p, f, pl, true)
		if backlog == nil {
			return a, err
		}
		var why []string
		if err != nil {
			// Memory allows no more workers; the queue can still absorb a burst.
			a = &Action{Checks: guardedPoolChecks(pl)}
			why = append(why, err.Error())
		} else {
			why = append(why, a.Why)
		}
		a.Edits = mergeInserts(append(a.Edits, *backlog))
		change := "listen.backlog " + pl.Pool.Value("listen.backlog") + " → " + strconv.Itoa(fpmDefaultBacklog)
		if a.Summary == "" {
			a.Summary = fmt.Sprintf("set listen.backlog of pool %s to php-fpm's default: %s", pl.Name, change)
		} else {
			a.Summary += ", " + change
		}
		why = append(why, fmt.Sprintf("listen.backlog is below php-fpm's default %d, so a short burst overflows the queue (nginx answers 502 at once): it goes back to the default (the kernel caps it at net.core.somaxconn); "+
			"the backlog is fixed when php-fpm creates the socket, so php-fpm is restarted, not reloaded", fpmDefaultBacklog))
		a.Why = strings.Join(why, "; ")
		a.Ops = []Op{{Kind: FPMRestart, FPM: pl.FPM}}
		if err := p.revalidate(pl.FPM, a.Edits, pl.Name); err != nil {
			return nil, err
		}
		return a, nil
	},
}

// memoryOvercommit: pm.max_children × the workers' size does not fit in
// memory; tune lowers it to what does.
var memoryOvercommit = Remedy{
	Cause: "memory-overcommit",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		if f.Pool != "" {
			pl, err := p.pool(f)
			if err != nil {
				return nil, err
			}
			return sizePool(p, f, pl, false)
		}
		return nil, errors.New("several pools share the memory: choose how to divide it (fpmdoctor tune shows each pool's share)")
	},
}

// sizePool plans the pm.* changes tune recommends for pl. exhausted says
// the finding shows every worker busy (tune may then raise
// pm.max_children); otherwise only memory decides.
func sizePool(p *Planner, f report.Finding, pl *snapshot.Pool, exhausted bool) (*Action, error) {
	if err := sizeable(p, f, pl); err != nil {
		return nil, err
	}
	opts := tune.Options{}
	if exhausted {
		n := 1
		if f.Logs != nil && f.Logs.Count > 0 {
			n = f.Logs.Count
		}
		opts.Peaks = map[string]tune.Peak{pl.ID(): {MaxChildrenEvents: n}}
	}
	var rec *tune.Recommendation
	for _, r := range tune.Recommend(p.S, opts) {
		if r.Pool == pl {
			rec = &r
			break
		}
	}
	if rec == nil {
		return nil, fmt.Errorf("tune has no recommendation for pool %s", pl.Name)
	}
	if rec.Skipped != "" {
		return nil, fmt.Errorf("pool %s cannot be sized: %s", pl.Name, rec.Skipped)
	}
	a := &Action{Checks: guardedPoolChecks(pl)}
	var what, why []string
	grows := false
	for _, c := range rec.Changes {
		if c.Key != "pm" && !strings.HasPrefix(c.Key, "pm.") {
			continue // other advice (request_terminate_timeout) is tune's, not this cause's
		}
		e, err := p.FPMSet(pl, c.Key, c.New)
		if err != nil {
			return nil, err
		}
		a.Edits = append(a.Edits, e)
		what = append(what, fmt.Sprintf("%s %s → %s", c.Key, c.Old, c.New))
		why = append(why, c.Key+": "+c.Why)
		if c.Key == "pm.max_children" {
			o, _ := strconv.Atoi(c.Old)
			nw, _ := strconv.Atoi(c.New)
			grows = nw > o
		}
	}
	if exhausted && !grows {
		return nil, fmt.Errorf("memory allows no more workers for pool %s (at most %d of %s): find what keeps them busy (slowlog, status page)", pl.Name, rec.MemoryMax, tune.MiB(rec.WorkerSize))
	}
	if len(a.Edits) == 0 {
		return nil, fmt.Errorf("pool %s's pm.* settings already fit: tune recommends no change", pl.Name)
	}
	a.Edits = mergeInserts(a.Edits)
	if err := p.revalidate(pl.FPM, a.Edits, pl.Name); err != nil {
		return nil, err
	}
	a.Summary = fmt.Sprintf("size pool %s from measured memory (fpmdoctor tune): %s", pl.Name, strings.Join(what, ", "))
	a.Why = fmt.Sprintf("memory holds at most %d workers of %s (largest measured worker) in this pool's share; %s; php-fpm reads pm.* on reload, so a reload (not a restart) applies them", rec.MemoryMax, tune.MiB(rec.WorkerSize), strings.Join(why, "; "))
	a.Ops = []Op{{Kind: FPMReload, FPM: pl.FPM}}
	return a, nil
}

// sizeable refuses what cannot be sized now: an offline tree, a php-fpm
// that does not run (its workers cannot be measured), a finding whose
// logged events all predate the running config.
func sizeable(p *Planner, f report.Finding, pl *snapshot.Pool) error {
	if err := p.requireLive(); err != nil {
		return err
	}
	if !pl.FPM.Running() {
		return errors.New("php-fpm is not running: its workers' memory cannot be measured")
	}
	if loaded, _ := p.S.ConfigLoadedAt(pl.FPM); logsPredate(f, loaded) {
		return fmt.Errorf("the logged events predate php-fpm's last (re)load at %s: the current settings have not been seen failing", loaded.Format("15:04:05"))
	}
	return nil
}

// raiseBacklog plans listen.backlog back to php-fpm's default when the
// pool sets it lower (nil when it does not).
func raiseBacklog(p *Planner, pl *snapshot.Pool) (*Edit, error) {
	st := pl.Pool.Get("listen.backlog")
	if st == nil {
		return nil, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(st.Value))
	if err != nil || n < 0 || n >= fpmDefaultBacklog {
		return nil, nil
	}
	e, err := p.FPMSetting(pl.FPM, st, strconv.Itoa(fpmDefaultBacklog))
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// mergeInserts joins insertions at the same place of a file into one
// edit, in order, so the planner does not see them as overlapping.
func mergeInserts(edits []Edit) []Edit {
	var out []Edit
	at := map[[2]any]int{}
	for _, e := range edits {
		if e.Start != e.End {
			out = append(out, e)
			continue
		}
		k := [2]any{e.File, e.Start}
		if i, ok := at[k]; ok {
			out[i].New += e.New
			continue
		}
		at[k] = len(out)
		out = append(out, e)
	}
	return out
}

// logsPredate reports whether every logged event of f is older than
// loaded, when the server last read its config (snapshot's
// ConfigLoadedAt: zero when no master runs, which nothing predates). Log
// times have whole seconds; an event in the same second counts as current.
func logsPredate(f report.Finding, loaded time.Time) bool {
	return f.Logs != nil && !f.Logs.Last.IsZero() && f.Logs.Last.Before(loaded.Truncate(time.Second))
}
