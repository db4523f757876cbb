package fix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// defaultMaxChildren replaces a pm.max_children php-fpm refuses: the value
// of the stock www pool of Debian and the official image, which every
// host that runs php-fpm at all has memory for. `fpmdoctor tune` sizes
// it properly.
const defaultMaxChildren = 5

// fpmConfigInvalid makes the smallest change to the pm.* settings that
// passes php-fpm's rules: a value out of range is clamped into it, a
// non-positive count becomes the smallest valid one. The edited config is
// validated again (fpmconf.Validate, then php-fpm -t before anything
// runs). Other rules (paths, users, listen) need a person's choice and
// stay manual.
var fpmConfigInvalid = Remedy{
	Cause: "fpm-config-invalid",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		fp, prob, err := p.problem(f)
		if err != nil {
			return nil, err
		}
		if (prob.Directive == "user" || prob.Directive == "group") && strings.Contains(prob.Message, "cannot get") {
			return accountChoice(p, f, fp, prob)
		}
		if !strings.HasPrefix(prob.Directive, "pm.") {
			return nil, fmt.Errorf("%s needs a person's choice: %s", prob.Directive, NextStep(f))
		}
		pl := fp.PoolNamed(prob.Pool)
		if pl == nil {
			return nil, fmt.Errorf("pool %q not found", prob.Pool)
		}
		edits, err := pmEdits(p, pl)
		if err != nil {
			return nil, err
		}
		if len(edits) == 0 {
			return nil, errors.New("no pm.* value to change")
		}
		if err := p.revalidate(fp, edits, prob.Pool); err != nil {
			return nil, err
		}
		a := &Action{Edits: edits, Summary: "bring pool " + prob.Pool + "'s pm.* settings into php-fpm's ranges", Checks: fpmChecks(fp)}
		if fp.Running() {
			a.Why = "the running php-fpm keeps its old config; a reload applies the corrected one (and the next restart no longer fails)"
			a.Ops = []Op{{Kind: FPMReload, FPM: fp}}
			// It serves its sites now; the reload must not break any.
			a.Checks = noWorse(a.Checks)
		} else if p.S.Live {
			a.Why = "php-fpm cannot start until the config passes; it is started once php-fpm -t accepts it"
			a.Ops = []Op{{Kind: FPMStart, FPM: fp}}
		}
		return a, nil
	},
}

// problem finds the php-fpm problem behind a finding.
func (p *Planner) problem(f report.Finding) (*snapshot.FPM, fpmconf.Problem, error) {
	msg := strings.TrimPrefix(f.Title, "php-fpm refuses its configuration: ")
	for _, fp := range p.S.FPM {
		if fp.Config == nil {
			continue
		}
		for _, pr := range fp.Problems {
			if pr.Severity == fpmconf.Fatal && pr.Message == msg && len(f.Evidence) > 0 && f.Evidence[0].File == pr.File && f.Evidence[0].Line == pr.Line {
				return fp, pr, nil
			}
		}
	}
	return nil, fpmconf.Problem{}, errors.New("the problem is no longer in the snapshot")
}

// pmEdits computes valid pm.* values from the current ones, changing as
// few as it can.
func pmEdits(p *Planner, pl *snapshot.Pool) ([]Edit, error) {
	pool := pl.Pool
	var edits []Edit
	change := func(key string, have, want int) error {
		if have == want && pool.Get(key) != nil {
			return nil
		}
		e, err := p.FPMSet(pl, key, strconv.Itoa(want))
		if err == nil {
			edits = append(edits, e)
		}
		return err
	}
	mc := pool.Int("pm.max_children")
	newMC := mc
	switch pool.PM() {
	case "dynamic":
		minS, maxS := pool.Int("pm.min_spare_servers"), pool.Int("pm.max_spare_servers")
		newMin, newMax := max(minS, 1), max(maxS, 1)
		if newMC < 1 {
			newMC = max(defaultMaxChildren, newMin, newMax)
		}
		newMin, newMax = min(newMin, newMC), min(newMax, newMC)
		newMax = max(newMax, newMin)
		if err := change("pm.max_children", mc, newMC); err != nil {
			return nil, err
		}
		if minS != newMin {
			if err := change("pm.min_spare_servers", minS, newMin); err != nil {
				return nil, err
			}
		}
		if maxS != newMax {
			if err := change("pm.max_spare_servers", maxS, newMax); err != nil {
				return nil, err
			}
		}
		if pool.IsSet("pm.start_servers") {
			start := pool.Int("pm.start_servers")
			if start > 0 && (start < newMin || start > newMax) {
				if err := change("pm.start_servers", start, min(max(start, newMin), newMax)); err != nil {
					return nil, err
				}
			}
		}
		if pool.IsSet("pm.max_spawn_rate") && pool.Int("pm.max_spawn_rate") < 1 {
			if err := change("pm.max_spawn_rate", 0, 32); err != nil {
				return nil, err
			}
		}
	case "static", "ondemand":
		if newMC < 1 {
			if err := change("pm.max_children", mc, defaultMaxChildren); err != nil {
				return nil, err
			}
		}
		if pool.PM() == "ondemand" && pool.IsSet("pm.process_idle_timeout") && pool.Int("pm.process_idle_timeout") < 1 {
			if err := change("pm.process_idle_timeout", 0, 10); err != nil {
				return nil, err
			}
		}
	default:
		return nil, errors.New("pm is missing or invalid: choose static, dynamic or ondemand")
	}
	return edits, nil
}

// revalidate loads the edited config from a scratch copy of its files and
// runs php-fpm's rules on it: the change must leave no pm.* problem in
// the pool. (php-fpm -t checks the real files again before any reload.)
func (p *Planner) revalidate(fp *snapshot.FPM, edits []Edit, pool string) error {
	tmp, err := os.MkdirTemp("", "fpmdoctor-validate-")
	if err != nil {
		return fmt.Errorf("scratch copy for validation: %w", err)
	}
	defer os.RemoveAll(tmp)
	byFile := map[string][]Edit{}
	for _, e := range edits {
		byFile[e.File] = append(byFile[e.File], e)
	}
	for _, path := range fp.Config.Files {
		b, err := p.content(path)
		if err != nil {
			return err
		}
		b, err = applyEdits(b, byFile[path])
		if err != nil {
			return err
		}
		dst := filepath.Join(tmp, path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("scratch copy: %w", err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			return fmt.Errorf("scratch copy: %w", err)
		}
	}
	opts := fp.Config.Options()
	opts.Root = tmp
	// A scratch copy of local files: read at once, nothing to cancel.
	cfg, err := fpmconf.Load(context.Background(), fp.Conf, opts)
	if err != nil {
		return fmt.Errorf("validate the edited config: %w", err)
	}
	for _, pr := range fpmconf.Validate(cfg) {
		if pr.Severity == fpmconf.Fatal && pr.Pool == pool && strings.HasPrefix(pr.Directive, "pm") {
			return fmt.Errorf("the corrected values still fail php-fpm's rules: %s", pr.Message)
		}
	}
	return nil
}
