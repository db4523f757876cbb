package fix

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// Outcome is the one verdict of a run that applied a plan.
type Outcome string

// The verdicts, each exclusive of the others: a run never reads "fixed
// and verified" next to something still failing.
const (
	// Every action applied, every check passed and exercised its cause,
	// and diagnose afterwards reports no error.
	FixedVerified Outcome = "fixed and verified"
	// Applied, the sites answer and nothing is reported failing, but at
	// least one action's cause was not exercised (--no-replay).
	AppliedNotVerified Outcome = "applied but not verified"
	// Applied and verified, but diagnose still reports errors (another
	// cause, or one fix could not plan).
	PartlyFixed Outcome = "partly fixed"
	// A step failed; every file and service is back as it was.
	RolledBack Outcome = "failed and rolled back"
	// A step failed and the rollback could not complete.
	RollbackIncomplete Outcome = "failed, and the rollback did not complete"
)

// Conclusion is the verdict with the lines that explain it and the exit
// status that goes with it.
type Conclusion struct {
	Outcome Outcome
	Lines   []string
	Code    int
	// Remaining are the errors still failing; Earlier the logged failures
	// of a cause the run repaired, all logged before its changes took
	// effect (the log keeps them; they are not failures now).
	Remaining, Earlier []report.Finding
}

// Conclude gives the run one verdict from what Apply did and the errors
// diagnose reports afterwards (after; nil after a rollback).
func Conclude(plan *Plan, res *Result, after []report.Finding) Conclusion {
	remaining, earlier := settled(plan, res, after)
	c := conclude(plan, res, remaining)
	c.Remaining, c.Earlier = remaining, earlier
	if len(earlier) > 0 && !res.RolledBack {
		c.Lines = append(c.Lines, "Logged before the change took effect (history, not a failure now):")
		for _, f := range earlier {
			c.Lines = append(c.Lines, fmt.Sprintf("  - [%s] %d logged, the last at %s", f.Cause, f.Logs.Count, f.Logs.Last.Format("15:04:05")))
		}
	}
	return c
}

// settled splits the errors diagnose reports after a run: a finding made
// only of log lines (no live fact), of a cause an applied action
// repaired, whose last line was logged before the change took effect,
// is history; everything else still fails.
func settled(plan *Plan, res *Result, after []report.Finding) (remaining, earlier []report.Finding) {
	// The same cause on the same pool and site: another pool's logged
	// failures of that cause were not repaired by this run.
	key := func(f report.Finding) string { return f.Cause + "\x00" + f.Pool + "\x00" + f.Site }
	repaired := map[string]bool{}
	if res.Fixed {
		for _, a := range plan.Actions {
			repaired[key(a.Finding)] = true
			for _, o := range a.Also {
				repaired[key(o)] = true
			}
		}
	}
	for _, f := range after {
		if repaired[key(f)] && logOnly(f) && !f.Logs.Last.After(res.AppliedAt) {
			earlier = append(earlier, f)
			continue
		}
		remaining = append(remaining, f)
	}
	return remaining, earlier
}

func logOnly(f report.Finding) bool {
	if f.Logs == nil || f.Logs.Last.IsZero() {
		return false
	}
	for _, e := range f.Evidence {
		if e.Kind == report.KindFact {
			return false
		}
	}
	return true
}

func conclude(plan *Plan, res *Result, remaining []report.Finding) Conclusion {
	switch {
	case res.RolledBack && res.Restored:
		return Conclusion{Outcome: RolledBack, Code: 1, Lines: []string{
			fmt.Sprintf("Failed and rolled back: %v", res.Err),
			"Every file is byte-identical to before and the services run as they did.",
		}}
	case res.RolledBack || !res.Fixed:
		return Conclusion{Outcome: RollbackIncomplete, Code: 2, Lines: []string{fmt.Sprintf("Failed, and the rollback did not complete: %v", res.Err)}}
	}
	var c Conclusion
	if len(remaining) > 0 {
		c.Outcome, c.Code = PartlyFixed, 1
		c.Lines = append(c.Lines, "Partly fixed.", "Applied:")
		for _, a := range plan.Actions {
			c.Lines = append(c.Lines, fmt.Sprintf("  - [%s] %s", a.Finding.Cause, a.Summary))
		}
		c.Lines = append(c.Lines, "Still failing (fix by hand):")
		for _, f := range remaining {
			c.Lines = append(c.Lines, fmt.Sprintf("  - [%s] %s", f.Cause, f.Title))
		}
	} else if len(res.NotVerified) > 0 {
		c.Outcome = AppliedNotVerified
		c.Lines = append(c.Lines, "Applied but not verified: the sites answer and diagnose reports no error, but these changes were not proven on the request that failed:")
	} else {
		c.Outcome = FixedVerified
		c.Lines = append(c.Lines, "Fixed and verified.")
	}
	if c.Outcome != AppliedNotVerified && len(res.NotVerified) > 0 {
		c.Lines = append(c.Lines, "Not verified:")
	}
	for _, n := range res.NotVerified {
		c.Lines = append(c.Lines, "  - "+n)
	}
	return c
}
