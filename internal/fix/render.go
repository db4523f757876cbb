package fix

import (
	"fmt"
	"io"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// WritePlan prints the plan for people: per action the finding, why this
// way, the diff of every file, then the commands and checks of the run.
func WritePlan(w io.Writer, p *Plan) { WritePlanWidth(w, p, 0) }

// WritePlanWidth is WritePlan fitted to a terminal of width columns: its
// prose wraps there, as the text report's does; diffs and commands stay
// whole so they can be copied. 0 writes every line whole (a pipe).
func WritePlanWidth(w io.Writer, p *Plan, width int) {
	say := func(first, indent, s string) {
		if width <= 0 {
			io.WriteString(w, first+s+"\n")
			return
		}
		io.WriteString(w, report.Wrap(width-1, first, indent, s))
	}
	if len(p.Actions) == 0 && len(p.Manual) == 0 {
		fmt.Fprintln(w, "Nothing to fix.")
		return
	}
	for i, a := range p.Actions {
		say(fmt.Sprintf("%d. ", i+1), "   ", "["+a.Finding.Cause+"] "+a.Finding.Title)
		say("   fix: ", "        ", a.Summary)
		if len(a.Also) > 0 {
			fmt.Fprintf(w, "   also repairs %d more finding(s) of the same cause\n", len(a.Also))
		}
		if a.Why != "" {
			say("   why: ", "        ", a.Why)
		}
		if a.Unverified != "" {
			say("   not verifiable: ", "        ", a.Unverified+" (the checks prove the site answers, not that this cause is gone)")
		}
	}
	for _, f := range p.Files {
		fmt.Fprintln(w)
		if f.Link {
			say("", "  ", fmt.Sprintf("%s is a link: %s is edited, the link stays", f.Path, f.Real))
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
			say("  ", "    ", c)
		}
	}
	if len(p.Files) > 0 {
		fmt.Fprintln(w)
		say("", "", fmt.Sprintf("Backups go to %s/backups; on any failure every file is restored and the services are brought back.", StateDir()))
	}
	if len(p.Manual) > 0 {
		fmt.Fprintln(w, "\nNot fixed automatically (do this by hand):")
		for _, m := range p.Manual {
			say("  - ", "    ", "["+m.Finding.Cause+"] "+m.Finding.Title)
			say("    why not: ", "      ", m.Reason)
			say("    next step: ", "      ", NextStep(m.Finding))
		}
	}
	for _, n := range p.Notes {
		say("note: ", "      ", strings.TrimSpace(n))
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
