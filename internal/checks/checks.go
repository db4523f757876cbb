// Package checks turns a Snapshot into findings. Each cause has its own
// file with one Check; All lists them in the order of the usual 502 checklist.
// Checks are pure functions of the Snapshot: they read no files and run no
// commands, so each is testable on fixtures and the same code serves the
// live host, an offline tree and the watcher.
package checks

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/discover"
	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// Check is one diagnosis rule.
type Check struct {
	// ID is stable: users filter and suppress by it.
	ID string
	// Cause is the cause the check reports: one page in docs/causes.
	Cause string
	// Step is where in the usual 502 checklist the check belongs.
	Step report.Step
	// Live checks need the running host; offline they are skipped.
	Live bool
	// Needs lists the facts the check cannot do without: when the snapshot
	// lacks one (snapshot.Lacks), the check does not run and its step is
	// not marked as checked.
	Needs []snapshot.Fact
	Run   func(*snapshot.Snapshot) []report.Finding
}

// Outcome is how one check went in a Run: for the report's skipped list,
// and for the watcher's per-check metrics.
type Outcome struct {
	ID       string
	Ran      bool
	Duration time.Duration
	// Panic is the message of a panic recovered from the check ("" when
	// none): a bug in one check must not take diagnose or the watcher down.
	Panic string
}

// All returns every check, in the checklist's order.
func All() []Check {
	return []Check{
		nginxConfigInvalid,
		fpmConfigInvalid,
		fpmDown,
		listenMismatch,
		unusedPool,
		socketNaming,
		listenAllAddresses,
		staleSocket,
		socketPermission,
		allowedClients,
		configNotApplied,
		memoryOvercommit,
		memoryOvercommitDeclared,
		backlogQueue,
		poolExhausted,
		logBacklogOverflow,
		requestTimeout,
		workerCrash,
		workerOOM,
		headerTooBig,
		upstreamTimeout,
		slowlogDisabled,
		firewall,
		notFastCGI,
		remoteTarget,
		scriptNotFound,
	}
}

// Run runs every check on s and returns the sorted report with a mark per
// site and step.
func Run(s *snapshot.Snapshot) *report.Report {
	r, _ := RunOutcomes(s)
	return r
}

// RunOutcomes is Run that also says, per check, whether it ran, how long
// it took and whether it panicked.
func RunOutcomes(s *snapshot.Snapshot) (*report.Report, []Outcome) {
	return run(s, All())
}

func run(s *snapshot.Snapshot, all []Check) (*report.Report, []Outcome) {
	r := report.New()
	// What r.Skip does, without its scan of every entry so far: a hosting
	// host can skip a step for each of thousands of pools.
	seen := make(map[report.Skipped]bool, len(s.Skipped))
	for _, sk := range s.Skipped {
		if !seen[sk] {
			seen[sk] = true
			r.Skipped = append(r.Skipped, sk)
		}
	}
	outcomes := make([]Outcome, 0, len(all)+2)
	// notChecked holds the steps with a check that did not run: such a
	// step is never marked ok.
	notChecked := map[report.Step]bool{}
	for _, c := range all {
		if c.Live && !s.Live {
			notChecked[c.Step] = true
			outcomes = append(outcomes, Outcome{ID: c.ID})
			continue
		}
		if f, ok := lacking(s, c.Needs); ok {
			notChecked[c.Step] = true
			if string(f) != c.ID { // else the fact's own entry says it
				r.Skip(c.ID, "not checked: it needs "+f.Describe()+", which could not be read (see "+string(f)+")")
			}
			outcomes = append(outcomes, Outcome{ID: c.ID})
			continue
		}
		found, o := runGuarded(c.ID, func() []report.Finding { return c.Run(s) })
		outcomes = append(outcomes, o)
		if o.Panic != "" {
			notChecked[c.Step] = true
			r.Skip(c.ID, "not checked: internal error in the check ("+o.Panic+"); please report it")
			continue
		}
		for _, f := range found {
			if f.ID == "" {
				f.ID = c.ID
			}
			if f.Cause == "" {
				f.Cause = c.Cause
			}
			f.Step = c.Step
			if f.Evidence == nil {
				f.Evidence = []report.Evidence{}
			}
			r.Findings = append(r.Findings, f)
		}
	}
	unchecked := map[string]bool{}
	for i, o := range outcomes {
		if !o.Ran || o.Panic != "" {
			unchecked[all[i].Cause] = true
		}
	}
	for _, step := range []struct {
		id  string
		run func()
	}{
		{"probe-findings", func() { applyProbes(s, r) }},
		{"log-findings", func() { applyLogs(s, r, unchecked) }},
		{"failover", func() { applyFailover(s, r) }},
	} {
		_, o := runGuarded(step.id, func() []report.Finding { step.run(); return nil })
		outcomes = append(outcomes, o)
		if o.Panic != "" {
			r.Skip(step.id, "not checked: internal error ("+o.Panic+"); please report it")
		}
	}
	r.Sort()
	r.Sites = siteMarks(s, r, notChecked)
	r.Services = services(s)
	return r, outcomes
}

// services lists, on a live host, whether each nginx and php-fpm runs:
// when nothing runs, that is the first thing to say, before "no PHP site".
func services(s *snapshot.Snapshot) []report.Service {
	if !s.Live || s.Lacks(snapshot.FactProcesses) {
		return nil
	}
	var out []report.Service
	for _, n := range s.Nginx {
		sv := report.Service{Name: "nginx", Config: n.Conf, Running: n.Master != nil}
		if n.Master != nil {
			sv.PID = n.Master.PID
		} else {
			sv.Start = nginxStartCommand(n)
		}
		out = append(out, sv)
	}
	for _, f := range s.FPM {
		sv := report.Service{Name: "php-fpm", Config: f.Conf, Running: f.Running()}
		if f.Master != nil {
			sv.PID = f.Master.PID
		} else {
			sv.Start = fpmStartCommand(f)
		}
		out = append(out, sv)
	}
	return out
}

// nginxStartCommand is the command that starts an nginx config.
func nginxStartCommand(n *snapshot.Nginx) string {
	bin := n.Binary
	if bin == "" {
		bin = "nginx"
	}
	direct := bin + " -c " + n.Conf
	if n.Conf == "/etc/nginx/nginx.conf" {
		return "systemctl start nginx (or: " + direct + ")"
	}
	return direct
}

// lacking returns the first of needs that s could not gather.
func lacking(s *snapshot.Snapshot, needs []snapshot.Fact) (snapshot.Fact, bool) {
	for _, f := range needs {
		if s.Lacks(f) {
			return f, true
		}
	}
	return "", false
}

// runGuarded runs one check, timing it and turning a panic into an
// Outcome instead of a crash.
func runGuarded(id string, run func() []report.Finding) (found []report.Finding, o Outcome) {
	o = Outcome{ID: id, Ran: true}
	start := time.Now()
	defer func() {
		o.Duration = time.Since(start)
		if v := recover(); v != nil {
			found, o.Panic = nil, fmt.Sprint(v)
		}
	}()
	return run(), o
}

// siteMarks gives every site a mark per step: fail or warn when a finding
// concerns the site (directly or through its pool), skip when the step
// could not run, ok otherwise.
func siteMarks(s *snapshot.Snapshot, r *report.Report, notChecked map[report.Step]bool) []report.Site {
	skippedStep := map[string]bool{}
	for _, sk := range r.Skipped {
		skippedStep[sk.Check] = true
	}
	for st := range notChecked {
		skippedStep[st.String()] = true
	}
	// Index findings once: a hosting company has thousands of sites and,
	// on a bad day, thousands of findings.
	bySite := map[string][]*report.Finding{}
	byPool := map[string][]*report.Finding{}
	var global []*report.Finding
	for i := range r.Findings {
		f := &r.Findings[i]
		switch {
		case f.Site != "":
			bySite[f.Site] = append(bySite[f.Site], f)
		case f.Affected != nil:
			for _, id := range f.Affected.Pools {
				byPool[id] = append(byPool[id], f)
			}
		case f.Pool != "":
			byPool[f.Pool] = append(byPool[f.Pool], f)
		default:
			global = append(global, f)
		}
	}
	steps := []report.Step{report.StepConfig, report.StepService, report.StepPass, report.StepListen, report.StepSocket, report.StepPermission, report.StepLogs, report.StepLimits, report.StepApplied}
	out := make([]report.Site, len(s.Sites))
	var seenPool []string // IDs of the pools of one site, usually one
	for i, site := range s.Sites {
		out[i] = markSite(site, steps, skippedStep, bySite, byPool, global, &seenPool)
	}
	return out
}

// markSite gives one site its marks (see siteMarks); seenPool is scratch
// space.
func markSite(site *snapshot.Site, steps []report.Step, skippedStep map[string]bool, bySite, byPool map[string][]*report.Finding, global []*report.Finding, seenPool *[]string) report.Site {
	rs := report.Site{
		Name:     site.Name,
		Pass:     site.Pass.Target.Address(),
		PassFile: site.Pass.Directive.File,
		PassLine: site.Pass.Directive.Line,
		Steps:    make([]report.StepResult, 0, len(steps)),
	}
	if site.Server != nil {
		rs.File, rs.Line = site.Server.Directive.File, site.Server.Directive.Line
	}
	if loc := site.Pass.Location; loc != nil {
		rs.Location = locationText(loc)
	}
	// Clipped: appending copies instead of writing into the index's
	// array, which every site with the same key shares.
	concerning := slices.Clip(bySite[site.Key()])
	*seenPool = (*seenPool)[:0]
	for _, t := range site.Targets {
		if t.Pool == nil {
			continue
		}
		id := t.Pool.ID()
		if slices.Contains(*seenPool, id) {
			continue
		}
		*seenPool = append(*seenPool, id)
		concerning = append(concerning, byPool[id]...)
		if rs.Pool == "" {
			rs.Pool, rs.PoolFile, rs.Listen = t.Pool.Name, t.Pool.Pool.File, t.Pool.Listen.String()
		}
		rs.Pools = append(rs.Pools, t.Pool.Name)
	}
	if len(rs.Pools) < 2 {
		rs.Pools = nil // one pool: Pool says it
	}
	for _, f := range global {
		if concernsNginx(*f, site) {
			concerning = append(concerning, f)
		}
	}
	failed := false
	for _, st := range steps {
		status := "ok"
		// Like the hand procedure, the connection chain (config to
		// permission) stops at its first failing step: a later step has
		// nothing to look at (no socket when php-fpm is down), so it is
		// not reached rather than fine. Logs, limits and what runs are
		// looked at whatever the chain says.
		if skippedStep[st.String()] || (failed && st <= report.StepPermission) {
			status = "skip"
		}
		for _, f := range concerning {
			if f.Step != st {
				continue
			}
			switch {
			case f.Severity == report.Error:
				status = "fail"
			case f.Severity == report.Warning && status != "fail":
				status = "warn"
			}
		}
		failed = failed || status == "fail"
		rs.Steps = append(rs.Steps, report.StepResult{Step: st.String(), Status: status})
	}
	return rs
}

// locationText writes a location as it is written in nginx.conf: a named
// location is "location @name", with no blank after the '@'.
func locationText(loc *nginxconf.Location) string {
	if loc.Modifier == "@" {
		return "location @" + loc.Path
	}
	return strings.TrimSpace("location " + loc.Modifier + " " + loc.Path)
}

// concernsNginx: findings about an nginx config as a whole (a syntax
// error) mark every site of that config.
func concernsNginx(f report.Finding, site *snapshot.Site) bool {
	return f.Cause == "nginx-config-invalid" && site.Nginx.Config != nil && len(f.Evidence) > 0 && site.Nginx.Config.File(f.Evidence[0].File) != nil
}

// Evidence helpers.

// settingEvidenceOr quotes the directive that gave a PHP location its
// value of name, or returns dflt (what applies when nothing sets it).
func settingEvidenceOr(set nginxconf.Settings, name string, dflt report.Evidence) report.Evidence {
	if d := set.From[name]; d != nil {
		return directiveEvidence(d)
	}
	return dflt
}

func directiveEvidence(d *nginxconf.Directive) report.Evidence {
	text := d.String()
	if d.Name == "fastcgi_param" && len(d.Args) > 1 && report.IsSecretName(d.Arg(0)) {
		text = d.Name + " " + d.Args[0].Raw + " " + report.Masked + ";"
	}
	return report.Evidence{Kind: report.KindConfig, File: d.File, Line: d.Line, Text: text}
}

func settingEvidence(s *fpmconf.Setting) report.Evidence {
	return report.Evidence{Kind: report.KindConfig, File: s.File, Line: s.Line, Text: s.Key + " = " + report.Redact(s.Key, s.Raw)}
}

// poolSettings quotes those of keys that pool p sets, in the order of
// keys; nothing for a nil pool.
func poolSettings(p *snapshot.Pool, keys ...string) []report.Evidence {
	if p == nil {
		return nil
	}
	var ev []report.Evidence
	for _, k := range keys {
		if st := p.Pool.Get(k); st != nil {
			ev = append(ev, settingEvidence(st))
		}
	}
	return ev
}

func poolHeaderEvidence(p *snapshot.Pool) report.Evidence {
	return report.Evidence{Kind: report.KindConfig, File: p.Pool.File, Line: p.Pool.Line, Text: "[" + p.Name + "]"}
}

func fact(format string, args ...any) report.Evidence {
	return report.Evidence{Kind: report.KindFact, Text: fmt.Sprintf(format, args...)}
}

// siteNames names sites for a sentence: each name once (a site with
// several PHP locations is one site to its users), the first five and a
// count of the rest.
func siteNames(sites []*snapshot.Site) string {
	return firstNames(siteNameList(sites), 5)
}

// siteNameList lists the distinct server names of sites, in order.
func siteNameList(sites []*snapshot.Site) []string {
	names := make([]string, 0, len(sites))
	seen := make(map[string]bool, len(sites))
	for _, s := range sites {
		if !seen[s.Name] {
			seen[s.Name] = true
			names = append(names, s.Name)
		}
	}
	return names
}

// siteKeys lists the distinct keys of sites, in order, for a finding's
// affected list.
func siteKeys(sites []*snapshot.Site) []string {
	keys := make([]string, 0, len(sites))
	seen := make(map[string]bool, len(sites))
	for _, s := range sites {
		if k := s.Key(); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// firstNames joins the first n names and counts the rest.
func firstNames(names []string, n int) string {
	if len(names) > n {
		return strings.Join(names[:n], ", ") + fmt.Sprintf(" and %d more", len(names)-n)
	}
	return strings.Join(names, ", ")
}

// countedNames says "3 sites (a, b, c)" or "site a".
func countedNames(names []string, one, many string) string {
	if len(names) == 1 {
		return one + " " + names[0]
	}
	return fmt.Sprintf("%d %s (%s)", len(names), many, firstNames(names, 3))
}

// fpmStartCommand is the command that starts a php-fpm config, for fix
// summaries.
func fpmStartCommand(f *snapshot.FPM) string {
	if v := discover.DebianPHPVersion(f.Conf); v != "" {
		return "systemctl start php" + v + "-fpm (or: " + binOr(f, "php-fpm") + " --fpm-config " + f.Conf + ")"
	}
	if f.Conf == "/etc/php-fpm.conf" {
		return "systemctl start php-fpm"
	}
	return binOr(f, "php-fpm") + " --fpm-config " + f.Conf
}

func binOr(f *snapshot.FPM, def string) string {
	if f.Binary != "" {
		return f.Binary
	}
	return def
}
