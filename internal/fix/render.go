package fix

import (
	"fmt"
	"io"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// WritePlan prints the plan for people: per action the finding, why this
// way, the diff of every file, then the commands and checks of the run.
func WritePlan(w io.Writer, p *Plan) {
	if len(p.Actions) == 0 && len(p.Manual) == 0 {
		fmt.Fprintln(w, "Nothing to fix.")
		return
	}
	for i, a := range p.Actions {
		fmt.Fprintf(w, "%d. [%s] %s\n", i+1, a.Finding.Cause, a.Finding.Title)
		fmt.Fprintf(w, "   fix: %s\n", a.Summary)
		if len(a.Also) > 0 {
			fmt.Fprintf(w, "   also repairs %d more finding(s) of the same cause\n", len(a.Also))
		}
		if a.Why != "" {
			fmt.Fprintf(w, "   why: %s\n", a.Why)
		}
		if a.Unverified != "" {
			fmt.Fprintf(w, "   not verifiable: %s (the checks prove the site answers, not that this cause is gone)\n", a.Unverified)
		}
	}
	for _, f := range p.Files {
		fmt.Fprintln(w)
		if f.Link {
			fmt.Fprintf(w, "%s is a link: %s is edited, the link stays\n", f.Path, f.Real)
		}
		io.WriteString(w, f.Diff)
	}
	if cmds := p.Commands(); len(cmds) > 0 {
		fmt.Fprintln(w, "\nCommands:")
		for _, c := range cmds {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	if checks := p.CheckLines(); len(checks) > 0 {
		fmt.Fprintln(w, "\nChecks afterwards:")
		for _, c := range checks {
			fmt.Fprintf(w, "  %s\n", c)
		}
	}
	if len(p.Files) > 0 {
		fmt.Fprintf(w, "\nBackups go to %s/backups; on any failure every file is restored and the services are brought back.\n", StateDir())
	}
	if len(p.Manual) > 0 {
		fmt.Fprintln(w, "\nNot fixed automatically (do this by hand):")
		for _, m := range p.Manual {
			fmt.Fprintf(w, "  - [%s] %s\n    why not: %s\n    next step: %s\n", m.Finding.Cause, m.Finding.Title, m.Reason, NextStep(m.Finding))
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", strings.TrimSpace(n))
	}
}

// Commands lists the config tests and service operations, in order.
func (p *Plan) Commands() []string {
	var out []string
	for _, a := range p.Accounts {
		out = append(out, shellJoin(a.Args())+"   # removed on rollback")
	}
	for _, t := range p.Tests {
		out = append(out, shellJoin(t.Args()))
	}
	for _, o := range p.Ops {
		out = append(out, describeOp(o))
	}
	for _, g := range p.Grants {
		out = append(out, g.Command()+"   # ACL now: "+aclText(g.Orig, g.Mode)+"; removed on rollback")
	}
	return out
}

// CheckLines describes each verification.
func (p *Plan) CheckLines() []string {
	var out []string
	for _, c := range p.Checks {
		line := describeCheck(c)
		if c.Site != nil && c.Replay.Set() {
			line += ": replay the logged failing request " + replayRequest(c.Site, c.Replay).String() + " (at most " + c.Replay.Timeout.String() + "): must not answer 502/503/504"
		} else if c.Site != nil {
			if r, ok := siteRequest(c.Site); ok {
				line += ": " + r.String() + " must not answer 502/503/504"
			}
		}
		if c.Pool != nil {
			line += "; FastCGI probe of " + c.probeAddr()
		}
		out = append(out, line)
	}
	return out
}

// NextStep is what a person should do about a finding fix leaves alone:
// the finding's own advice.
func NextStep(f report.Finding) string {
	if f.Fix != nil && f.Fix.Summary != "" {
		return f.Fix.Summary
	}
	return "see fpmdoctor explain " + f.Cause
}
