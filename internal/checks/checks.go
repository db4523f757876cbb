// Package checks turns a Snapshot into findings. Each cause has its own
// file with one Check; All lists them in the order of the seed procedure.
// Checks are pure functions of the Snapshot: they read no files and run no
// commands, so each is testable on fixtures and the same code serves the
// live host, an offline tree and the watcher.
package checks

import (
	"fmt"
	"slices"
	"strings"

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
	// Cause is the DESIGN.md cause the check reports.
	Cause string
	// Step is where in the seed procedure the check belongs.
	Step report.Step
	// Live checks need the running host; offline they are skipped.
	Live bool
	Run  func(*snapshot.Snapshot) []report.Finding
}

// All returns every check, in the seed's order.
func All() []Check {
	return []Check{
		nginxConfigInvalid,
		fpmConfigInvalid,
		fpmDown,
		listenMismatch,
		staleSocket,
		socketPermission,
		allowedClients,
		configNotApplied,
		memoryOvercommit,
		backlogQueue,
		poolExhausted,
		logBacklogOverflow,
		requestTimeout,
		workerCrash,
		workerOOM,
		headerTooBig,
		upstreamTimeout,
		firewall,
		notFastCGI,
		remoteTarget,
		scriptNotFound,
	}
}

// Run runs every check on s and returns the sorted report with a mark per
// site and step.
func Run(s *snapshot.Snapshot) *report.Report {
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
	for _, c := range All() {
		if c.Live && !s.Live {
			continue
		}
		for _, f := range c.Run(s) {
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
	applyProbes(s, r)
	applyLogs(s, r)
	r.Sort()
	r.Sites = siteMarks(s, r)
	return r
}

// siteMarks gives every site a mark per step: fail or warn when a finding
// concerns the site (directly or through its pool), skip when the step
// could not run, ok otherwise.
func siteMarks(s *snapshot.Snapshot, r *report.Report) []report.Site {
	skippedStep := map[string]bool{}
	for _, sk := range r.Skipped {
		skippedStep[sk.Check] = true
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
		case f.Pool != "":
			byPool[f.Pool] = append(byPool[f.Pool], f)
		default:
			global = append(global, f)
		}
	}
	steps := []report.Step{report.StepConfig, report.StepService, report.StepPass, report.StepListen, report.StepSocket, report.StepPermission, report.StepLogs, report.StepLimits, report.StepApplied}
	out := make([]report.Site, 0, len(s.Sites))
	var seenPool []string // IDs of the pools of one site, usually one
	for _, site := range s.Sites {
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
			rs.Location = strings.TrimSpace("location " + loc.Modifier + " " + loc.Path)
		}
		concerning := bySite[site.Key()]
		seenPool = seenPool[:0]
		for _, t := range site.Targets {
			if t.Pool == nil {
				continue
			}
			id := t.Pool.ID()
			if slices.Contains(seenPool, id) {
				continue
			}
			seenPool = append(seenPool, id)
			concerning = append(concerning, byPool[id]...)
			if rs.Pool == "" {
				rs.Pool, rs.PoolFile, rs.Listen = t.Pool.Name, t.Pool.Pool.File, t.Pool.Listen.String()
			}
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
		out = append(out, rs)
	}
	return out
}

// concernsNginx: findings about an nginx config as a whole (a syntax
// error) mark every site of that config.
func concernsNginx(f report.Finding, site *snapshot.Site) bool {
	return f.Cause == "nginx-config-invalid" && site.Nginx.Config != nil && len(f.Evidence) > 0 && site.Nginx.Config.File(f.Evidence[0].File) != nil
}

// Evidence helpers.

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

func siteNames(sites []*snapshot.Site) string {
	names := make([]string, 0, len(sites))
	for _, s := range sites {
		names = append(names, s.Name)
	}
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(" and %d more", len(names)-5)
	}
	return strings.Join(names, ", ")
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
