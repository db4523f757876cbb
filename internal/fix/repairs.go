package fix

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// keepRepairs bounds the record of proven repairs: the newest are the
// ones a log window can still show lines of.
const keepRepairs = 50

func repairsPath(dir string) string { return filepath.Join(dir, "repairs.json") }

// provenRepairs lists the actions of a finished run that the replay of
// their logged failing request proved, with the files each wrote (their
// new checksums from the journal). An action proven by nothing, or that
// wrote no file, is not recorded: nothing ties later lines to it.
func provenRepairs(plan *Plan, res *Result, j *Journal) []snapshot.Repair {
	var out []snapshot.Repair
	for _, a := range plan.Actions {
		if a.Unverified != "" {
			continue
		}
		proof := ""
		for _, c := range a.Checks {
			if !c.Replay.Set() {
				continue
			}
			for _, cr := range res.Checks {
				if cr.Check == c && cr.After.OK {
					proof = fmt.Sprintf("the logged request %s, replayed through nginx after the change (%s), got %s", c.Replay, a.Summary, cr.After.Detail)
				}
			}
		}
		if proof == "" {
			continue
		}
		var files []snapshot.RepairFile
		for _, e := range a.Edits {
			for _, jf := range j.Files {
				if jf.Path == e.File && !slices.ContainsFunc(files, func(f snapshot.RepairFile) bool { return f.Path == jf.Real }) {
					files = append(files, snapshot.RepairFile{Path: jf.Real, SHA256: jf.New})
				}
			}
		}
		if len(files) == 0 {
			continue
		}
		for _, f := range append([]report.Finding{a.Finding}, a.Also...) {
			out = append(out, snapshot.Repair{Cause: f.Cause, Pool: f.Pool, Site: f.Site, At: res.AppliedAt, Proof: proof, Files: files})
		}
	}
	return out
}

// recordRepairs adds rs to the record in dir, keeping the newest.
func recordRepairs(dir string, rs []snapshot.Repair) error {
	old, err := readRepairFile(dir)
	if err != nil {
		old = nil // a damaged record is replaced: it proves nothing
	}
	all := append(old, rs...)
	all = all[max(0, len(all)-keepRepairs):]
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("record repairs: %w", err)
	}
	if err := writeAtomic(repairsPath(dir), b, 0o600, os.Geteuid(), os.Getegid()); err != nil {
		return fmt.Errorf("record repairs: %w", err)
	}
	return nil
}

func readRepairFile(dir string) ([]snapshot.Repair, error) {
	b, err := os.ReadFile(repairsPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", repairsPath(dir), err)
	}
	var rs []snapshot.Repair
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", repairsPath(dir), err)
	}
	return rs, nil
}

// ReadRepairs returns the proven repairs recorded in dir whose files all
// still hold what the repair wrote: a file changed since (by hand, by a
// later run, by a package update) voids the proof. No record: none.
func ReadRepairs(dir string) ([]snapshot.Repair, error) {
	rs, err := readRepairFile(dir)
	if err != nil {
		return nil, err
	}
	var out []snapshot.Repair
	for _, r := range rs {
		same := len(r.Files) > 0
		for _, f := range r.Files {
			b, err := os.ReadFile(f.Path)
			same = same && err == nil && sum(b) == f.SHA256
		}
		if same {
			out = append(out, r)
		}
	}
	return out, nil
}
