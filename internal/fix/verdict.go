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
}

// Conclude gives the run one verdict from what Apply did and the errors
// diagnose reports afterwards (remaining; nil after a rollback).
func Conclude(plan *Plan, res *Result, remaining []report.Finding) Conclusion {
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
