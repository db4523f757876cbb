package checks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// A live FastCGI exchange is the strongest evidence there is: it shows
// what nginx meets, not what the config says should happen. applyProbes
// adds each failed probe to the findings about its site or pool, and
// reports the failures no other check explains, where the probe alone
// proves a cause: a pool that accepts but never answers (pool-exhausted),
// a full backlog (backlog-overflow), a connect the kernel refuses although
// the modes allow it (socket-permission), a missing socket while php-fpm
// runs (config-not-applied), a worker that closes the connection
// (worker-crash).
func applyProbes(s *snapshot.Snapshot, r *report.Report) {
	type failed struct {
		site *snapshot.Site
		t    *snapshot.Target
	}
	var fails []failed
	seen := map[*probe.Result]bool{}
	for _, site := range s.Sites {
		for _, t := range site.Targets {
			if t.Probe == nil || t.Probe.OK() || seen[t.Probe] {
				continue
			}
			seen[t.Probe] = true
			if t.Probe.Reason == "identity-failed" {
				r.Skip("probe", "could not connect as nginx's worker user: "+t.Probe.Detail)
				continue
			}
			fails = append(fails, failed{site, t})
		}
	}
	// A finding about many pools (one stopped master behind thousands of
	// sites) would quote a probe per pool: a few say it, the rest are
	// counted (JSON lists the pools under affected).
	const probesQuoted = 3
	quoted, more := map[int]int{}, map[int]int{}
	for _, f := range fails {
		ev := probeEvidence(f.t)
		own, hasOwn := probeFinding(s, f.site, f.t, ev)
		related := func(fd *report.Finding) bool {
			return fd.Site == f.site.Key() || (f.t.Pool != nil && fd.ConcernsPool(f.t.Pool.ID()))
		}
		sameCause := false
		explained := false
		for i := range r.Findings {
			fd := &r.Findings[i]
			if !related(fd) {
				continue
			}
			if !slices.Contains(fd.Evidence, ev) && !hasProbeOf(fd.Evidence, f.t.Probe) {
				if quoted[i] < probesQuoted {
					fd.Evidence = append(fd.Evidence, ev)
					quoted[i]++
				} else {
					more[i]++
				}
			}
			fd.Live = true
			explained = true
			sameCause = sameCause || (hasOwn && fd.Cause == own.Cause)
		}
		// A saturated pool or a full backlog is the root cause of the
		// timeouts and resets logged beside it: report it even when those
		// symptoms already have findings.
		strong := hasOwn && (own.Cause == "pool-exhausted" || own.Cause == "backlog-overflow")
		if hasOwn && !sameCause && (!explained || strong) {
			r.Findings = append(r.Findings, own)
		}
	}
	for i, n := range more {
		r.Findings[i].Evidence = append(r.Findings[i].Evidence, fact("%s of this finding's pools and sites failed as well", countWord(n, "more FastCGI probe", "more FastCGI probes")))
	}
}

func probeEvidence(t *snapshot.Target) report.Evidence {
	p := t.Probe
	as := ""
	if p.AsUser != "" {
		as = " as " + p.AsUser
	}
	return fact("FastCGI probe of %s%s: %s (%s after %s)", p.Target.String(), as, p.Detail, p.Reason, probeTime(p.Latency))
}

func probeFinding(s *snapshot.Snapshot, site *snapshot.Site, t *snapshot.Target, ev report.Evidence) (report.Finding, bool) {
	f := report.Finding{Severity: report.Error, Live: true, Site: site.Key(), Evidence: []report.Evidence{directiveEvidence(t.Directive), ev}}
	pool := t.Pool
	if pool != nil {
		f.Pool = pool.ID()
	}
	switch t.Probe.Reason {
	case "saturated":
		f.ID, f.Cause, f.Step = "pool-exhausted-probe", "pool-exhausted", report.StepLimits
		f.Title = "the pool accepts connections but no worker answers: all workers are busy"
		f.Detail = "A FastCGI request waited past its deadline without a first byte. nginx requests queue the same way and end in 504 (fastcgi_read_timeout) or 502."
		f.Evidence = append(f.Evidence, poolSettings(pool, "pm.max_children")...)
		f.Fix = &report.Fix{Summary: "find what keeps the workers busy (slow log, status page), then size pm.max_children to the memory available (fpmdoctor tune)"}
		addSlowEvidence(s, &f, pool)
	case "backlog-full":
		f.ID, f.Cause, f.Step = "backlog-overflow-probe", "backlog-overflow", report.StepLimits
		f.Title = "the pool's listen queue is full: connects fail at once with (11: Resource temporarily unavailable)"
		f.Detail = "Every worker is busy and the socket's accept queue (listen.backlog, capped by net.core.somaxconn) is full; nginx does not wait and answers 502."
		f.Fix = &report.Fix{Summary: "relieve the pool (more workers if memory allows, faster requests); raise listen.backlog and net.core.somaxconn only to absorb bursts"}
	case "permission-denied":
		f.ID, f.Cause, f.Step = "socket-permission-probe", "socket-permission", report.StepPermission
		f.Title = "the kernel refuses nginx's connect although the file modes allow it"
		f.Detail = "Mode bits, owners and ACLs on the path allow nginx's worker user, yet connect() fails with (13: Permission denied): a security module (SELinux, AppArmor) or a mount restriction decides."
		f.Fix = &report.Fix{Summary: "check the security module's denials (ausearch -m avc, journalctl -k | grep apparmor) for the socket"}
	case "no-socket", "refused":
		if pool == nil || !pool.FPM.Running() {
			return report.Finding{}, false // fpm-down / listen-mismatch explain these
		}
		f.ID, f.Cause, f.Step = "config-not-applied-probe", "config-not-applied", report.StepApplied
		f.Title = fmt.Sprintf("php-fpm runs (pid %d) but pool %s does not listen: its config on disk was not applied", pool.FPM.Master.PID, pool.Name)
		f.Detail = "The pool is configured, its master runs, yet nothing answers at its address: the pool was added or its listen changed after php-fpm started."
		f.Fix = &report.Fix{Summary: "check with " + binOr(pool.FPM, "php-fpm") + " -t, then restart php-fpm"}
	case "early-close":
		f.ID, f.Cause, f.Step, f.Severity = "worker-crash-probe", "worker-crash", report.StepLogs, report.Warning
		f.Title = "a php-fpm worker closed the connection before finishing a request that runs no application code"
		f.Detail = "The probe asks only ping, status or a script that does not exist; a worker that drops it is dying (a crash on start, an extension loaded at startup)."
		f.Fix = &report.Fix{Summary: "read php-fpm's log for \"exited on signal\" and check the extensions loaded by the pool"}
	default:
		return report.Finding{}, false
	}
	return f, true
}

// hasProbeOf: the checks about TCP targets quote each address's probe
// themselves; the first one need not be quoted twice.
func hasProbeOf(ev []report.Evidence, p *probe.Result) bool {
	for _, e := range ev {
		if e.Kind == report.KindFact && strings.HasPrefix(e.Text, "FastCGI probe of "+p.Target.String()+":") {
			return true
		}
	}
	return false
}
