package fix

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/aymanbagabas/go-udiff"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// Planner gives remedies what they need to describe an action: the
// snapshot, and edit helpers that check the bytes they replace.
type Planner struct {
	S *snapshot.Snapshot
	// files caches each file's bytes as first read (host path → bytes).
	files  map[string][]byte
	owner  map[string]fileOwner
	edits  map[string][]Edit
	ops    []Op
	grants []Grant
	checks []Check
	// shared holds actions that repair a whole installation (start or
	// restart one php-fpm), planned once however many findings ask.
	shared map[string]*Action
	// noReplay: send no logged request again (--no-replay, an offline
	// tree, or diagnose's annotation).
	noReplay bool
	// choose is --choose: which offered choice to apply.
	choose string
	accts  []Account
}

type fileOwner struct {
	nginx *snapshot.Nginx
	fpm   *snapshot.FPM
}

func newPlanner(s *snapshot.Snapshot) *Planner {
	p := &Planner{S: s, files: map[string][]byte{}, owner: map[string]fileOwner{}, edits: map[string][]Edit{}, shared: map[string]*Action{}}
	return p
}

// once plans the action under key a single time and returns that same
// action to every later finding asking for it: five thousand pools of one
// stopped php-fpm need one start, checked once, not five thousand.
func (p *Planner) once(key string, build func() (*Action, error)) (*Action, error) {
	if a, ok := p.shared[key]; ok {
		return a, nil
	}
	a, err := build()
	if err == nil && a != nil {
		p.shared[key] = a
	}
	return a, err
}

// applyEdits applies edits of one file to its bytes.
func applyEdits(b []byte, edits []Edit) ([]byte, error) {
	if len(edits) == 0 {
		return b, nil
	}
	return udiff.ApplyBytes(b, udiffEdits(edits))
}

// udiffEdits is one file's edits as udiff's, in order.
func udiffEdits(edits []Edit) []udiff.Edit {
	ue := make([]udiff.Edit, 0, len(edits))
	for _, e := range edits {
		ue = append(ue, udiff.Edit{Start: e.Start, End: e.End, New: e.New})
	}
	udiff.SortEdits(ue)
	return ue
}

// ErrChanged means a file is no longer what the snapshot read.
var ErrChanged = errors.New("changed since it was read")

// hostPath is where a config path lives on this machine (under --root
// when offline).
func (p *Planner) hostPath(path string) string {
	if p.S.Root != "" {
		return filepath.Join(p.S.Root, path)
	}
	return path
}

// content returns the current bytes of path, read once.
func (p *Planner) content(path string) ([]byte, error) {
	if b, ok := p.files[path]; ok {
		return b, nil
	}
	b, err := os.ReadFile(p.hostPath(path))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	p.files[path] = b
	return b, nil
}

// NginxArg replaces argument i of directive d with text.
func (p *Planner) NginxArg(n *snapshot.Nginx, d *nginxconf.Directive, i int, text string) (Edit, error) {
	if i >= len(d.Args) {
		return Edit{}, fmt.Errorf("%s has no argument %d", d.Pos(), i+1)
	}
	if _, err := p.nginxContent(n, d.File); err != nil {
		return Edit{}, err
	}
	a := d.Args[i]
	e := Edit{File: d.File, Start: a.Start, End: a.End, Old: a.Raw, New: text}
	return e, p.check(e)
}

// nginxContent returns the bytes of file, one of n's config files, and
// refuses it when it is no longer what n's config was parsed from.
func (p *Planner) nginxContent(n *snapshot.Nginx, file string) ([]byte, error) {
	b, err := p.content(file)
	if err != nil {
		return nil, err
	}
	if f := n.Config.File(file); f != nil && !bytes.Equal(f.Src, b) {
		return nil, fmt.Errorf("%s: %w", file, ErrChanged)
	}
	p.owner[file] = fileOwner{nginx: n}
	return b, nil
}

// FPMSet sets key = value in pool pl: the value of the line php-fpm uses
// is replaced, or a line is inserted after the pool's listen line (or
// header) with that line's indentation.
func (p *Planner) FPMSet(pl *snapshot.Pool, key, value string) (Edit, error) {
	if st := pl.Pool.Get(key); st != nil {
		return p.FPMSetting(pl.FPM, st, value)
	}
	anchor := pl.Setting
	if anchor == nil && len(pl.Pool.Settings) > 0 {
		anchor = pl.Pool.Settings[len(pl.Pool.Settings)-1]
	}
	if anchor == nil {
		return Edit{}, fmt.Errorf("pool %s has no setting to insert %s after", pl.Name, key)
	}
	b, err := p.content(anchor.File)
	if err != nil {
		return Edit{}, err
	}
	if anchor.LineEnd > len(b) || anchor.ValueEnd > len(b) || string(b[anchor.ValueStart:anchor.ValueEnd]) != anchor.Raw {
		return Edit{}, fmt.Errorf("%s: %w", anchor.File, ErrChanged)
	}
	line := b[anchor.LineStart:anchor.LineEnd]
	indent := line[:len(line)-len(bytes.TrimLeft(line, " \t"))]
	p.owner[anchor.File] = fileOwner{fpm: pl.FPM}
	e := Edit{File: anchor.File, Start: anchor.LineEnd, End: anchor.LineEnd, New: "\n" + string(indent) + key + " = " + value}
	return e, p.check(e)
}

// FPMSetting replaces the value of one setting as written.
func (p *Planner) FPMSetting(f *snapshot.FPM, st *fpmconf.Setting, value string) (Edit, error) {
	p.owner[st.File] = fileOwner{fpm: f}
	e := Edit{File: st.File, Start: st.ValueStart, End: st.ValueEnd, Old: st.Raw, New: value}
	return e, p.check(e)
}

// check verifies the file still holds Old at the edit's range.
func (p *Planner) check(e Edit) error {
	b, err := p.content(e.File)
	if err != nil {
		return err
	}
	if e.Start < 0 || e.End < e.Start || e.End > len(b) || string(b[e.Start:e.End]) != e.Old {
		return fmt.Errorf("%s: %w", e.File, ErrChanged)
	}
	return nil
}

// add merges an action into the plan, refusing edits that overlap a
// different edit already planned.
func (p *Planner) add(plan *Plan, a *Action) error {
	for _, e := range a.Edits {
		for _, have := range p.edits[e.File] {
			if have == e {
				continue
			}
			overlap := e.Start < have.End && have.Start < e.End
			if overlap || (e.Start == e.End && have.Start == have.End && e.Start == have.Start) {
				return fmt.Errorf("%s: its edit of %s overlaps another planned edit; run fix again afterwards", a.Finding.Cause, e.File)
			}
		}
	}
	for _, e := range a.Edits {
		dup := false
		for _, have := range p.edits[e.File] {
			dup = dup || have == e
		}
		if !dup {
			p.edits[e.File] = append(p.edits[e.File], e)
		}
	}
	p.ops = append(p.ops, a.Ops...)
	p.grants = append(p.grants, a.Grants...)
	p.accts = append(p.accts, a.Accounts...)
	p.checks = append(p.checks, a.Checks...)
	return nil
}

// finish builds the file changes, tests, operations and checks.
func (p *Planner) finish(plan *Plan) error {
	paths := make([]string, 0, len(p.edits))
	for path := range p.edits {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	tested := map[string]bool{}
	addTest := func(t ConfigTest) {
		key := fmt.Sprint(t.Args())
		if !tested[key] {
			tested[key] = true
			plan.Tests = append(plan.Tests, t)
		}
	}
	for _, path := range paths {
		orig := p.files[path]
		edits := udiffEdits(p.edits[path])
		newb, err := udiff.ApplyBytes(orig, edits)
		if err != nil {
			return fmt.Errorf("edit %s: %w", path, err)
		}
		diff, err := udiff.ToUnified(path, path, string(orig), edits, 3)
		if err != nil {
			return fmt.Errorf("diff %s: %w", path, err)
		}
		real := p.hostPath(path)
		link := false
		if r, err := filepath.EvalSymlinks(real); err == nil && r != real {
			real, link = r, true
		}
		own := p.owner[path]
		plan.Files = append(plan.Files, &FileChange{Path: path, Real: real, Orig: orig, New: newb, Diff: diff, Link: link, Nginx: own.nginx, FPM: own.fpm})
		if own.nginx != nil {
			addTest(ConfigTest{Nginx: own.nginx})
		}
		if own.fpm != nil {
			addTest(ConfigTest{FPM: own.fpm})
		}
	}
	seenGrant := map[Grant]bool{}
	for _, g := range p.grants {
		if seenGrant[g] {
			continue
		}
		seenGrant[g] = true
		gc, err := planGrant(g)
		if err != nil {
			return fmt.Errorf("plan the ACL of %s: %w", g.Dir, err)
		}
		plan.Grants = append(plan.Grants, gc)
	}
	seenAcct := map[Account]bool{}
	for _, a := range p.accts {
		if !seenAcct[a] {
			seenAcct[a] = true
			plan.Accounts = append(plan.Accounts, a)
		}
	}
	plan.Ops = mergeOps(p.ops)
	for _, o := range plan.Ops {
		if o.Nginx != nil {
			addTest(ConfigTest{Nginx: o.Nginx})
		} else {
			addTest(ConfigTest{FPM: o.FPM})
		}
	}
	seen := map[Check]bool{}
	for _, c := range p.checks {
		if !seen[c] {
			seen[c] = true
			plan.Checks = append(plan.Checks, c)
		}
	}
	return nil
}
