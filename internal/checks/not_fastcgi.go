package checks

import (
	"fmt"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// notFastCGI: fastcgi_pass reaches a server that does not speak FastCGI:
// an HTTP server (nginx's own second listener, Apache, a Node app) or a
// database. Every request fails at once; nginx logs "upstream sent
// unsupported FastCGI protocol version: 72" (72 is the 'H' of
// "HTTP/1.1") and answers 502. The finding names who answers there, from
// the socket's owner in /proc, and the pool nginx was probably meant to
// reach.
var notFastCGI = Check{
	ID:    "not-fastcgi",
	Cause: "not-fastcgi",
	Step:  report.StepListen,
	Live:  true,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				if p := notFastCGIProbe(t); p != nil {
					out = append(out, notFastCGIFinding(s, site, t, p))
				}
			}
		}
		return append(out, notFastCGIPast(s, out)...)
	},
}

// notFastCGIPast tells nginx's logged "unsupported FastCGI protocol
// version" lines no current finding explains as the past (info): after
// fastcgi_pass was pointed at php-fpm, the 502s stay in the window and
// in the timeline, and without this the report said "No problems found"
// under them. An address some site still passes to without a probe of it
// (--no-probe) cannot be told over, and is left out.
func notFastCGIPast(s *snapshot.Snapshot, live []report.Finding) []report.Finding {
	var out []report.Finding
	for _, g := range logGroups(s, logscan.KindInvalidResponse) {
		if !strings.Contains(g.Example.Raw, "unsupported FastCGI protocol version") {
			continue
		}
		taken := false
		for _, f := range live {
			for _, e := range f.Evidence {
				taken = taken || e.Kind == report.KindLog && e.File == g.Example.File && e.Line == int(g.Example.Line)
			}
		}
		unknown := false
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				if !targetOfSite(&snapshot.Site{Targets: []*snapshot.Target{t}}, g.Target) {
					continue
				}
				for _, a := range addrProbes(t) {
					unknown = unknown || a.probe == nil
				}
				if len(t.IPs) == 0 && len(t.Probes) == 0 {
					unknown = true
				}
			}
		}
		if taken || unknown {
			continue
		}
		out = append(out, report.Finding{
			ID:       "not-fastcgi-past",
			Severity: report.Info,
			Live:     true,
			Step:     report.StepLogs,
			Title:    fmt.Sprintf("earlier in the window: %s, last at %s; the cause is not present now", failureWords(g), g.Last.Format("15:04:05")),
			Detail:   fmt.Sprintf("nginx got answers that were not FastCGI from %s (another kind of server listened where fastcgi_pass pointed) and answered 502. No site passes there now, or what answers there speaks FastCGI now.", g.Example.Target),
			Evidence: []report.Evidence{logEvidence(g.Example)},
			Logs:     summary(g),
		})
	}
	return out
}

// notFastCGIProbe is the probe of one of t's addresses that met another
// protocol, nil when none did.
func notFastCGIProbe(t *snapshot.Target) *probe.Result {
	for _, p := range t.Probes {
		if p != nil && p.Reason == "not-fastcgi" {
			return p
		}
	}
	return nil
}

func notFastCGIFinding(s *snapshot.Snapshot, site *snapshot.Site, t *snapshot.Target, p *probe.Result) report.Finding {
	addr := p.Target.String()
	f := report.Finding{
		Severity: report.Error,
		Live:     true,
		Site:     site.Key(),
		Title:    fmt.Sprintf("%s is not php-fpm: the server there does not speak FastCGI", addr),
		Detail:   fmt.Sprintf("nginx sends %s's PHP requests to %s, where another kind of server answers; nginx logs upstream sent unsupported FastCGI protocol version and answers 502 to every PHP request.", site.Name, addr),
		Evidence: append([]report.Evidence{directiveEvidence(t.Directive)}, resolutionEvidence(t)...),
	}
	f.Evidence = append(f.Evidence, fact("FastCGI probe of %s: %s", addr, p.Detail))
	if len(t.Owners) > 0 {
		var who []string
		for _, o := range t.Owners {
			who = append(who, o.String())
		}
		ev := fact("%s listens on %s", strings.Join(who, ", "), addr)
		if t.Kind == nginxconf.TargetTCP && len(t.IPs) > 0 {
			if n, d := nginxListenFor(s, t.Owners, t.IPs[0], t.Port); n != nil {
				ev.Text = fmt.Sprintf("nginx master %d listens on %s", n.Master.PID, addr)
				if d != nil {
					ev.File, ev.Line = d.File, d.Line
					ev.Text += " (" + d.String() + "): nginx's own HTTP listener"
				}
				f.Title = fmt.Sprintf("%s is nginx's own HTTP listener, not php-fpm", addr)
			}
		}
		f.Evidence = append(f.Evidence, ev)
	} else if t.Listener != nil {
		f.Evidence = append(f.Evidence, fact("%s listens; its owner could not be read (not root?)", t.Listener))
	}
	for _, g := range logGroups(s, logscan.KindInvalidResponse) {
		if g.Target == strings.TrimPrefix(addr, "unix:") || g.Target == addr {
			f.Evidence = append(f.Evidence, logEvidence(g.Example))
			f.Logs = summary(g)
		}
	}
	if pool := s.ClosestPool(t); pool != nil {
		f.Title += "; did you mean " + pool.NginxAddress() + "?"
		f.Evidence = append(f.Evidence, settingEvidenceOrHeader(pool))
		f.Fix = &report.Fix{Summary: fmt.Sprintf("point %s at %s (pool %s); then nginx -t and reload", t.Directive.Name, pool.NginxAddress(), pool.Name)}
	} else {
		f.Fix = &report.Fix{Summary: "point fastcgi_pass at php-fpm's listen address (see the pools' listen lines), or run php-fpm there"}
	}
	return f
}
