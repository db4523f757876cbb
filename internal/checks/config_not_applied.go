package checks

import (
	"fmt"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// startSlack absorbs the rounding of process start times (the kernel's
// boot time is whole seconds).
const startSlack = 1500 * time.Millisecond

// configNotApplied: what runs is not what is on disk. A config file newer
// than the master that loaded it was never reloaded; a socket whose owner
// or mode differ from the pool's listen.* was kept through a reload
// (php-fpm inherits listening sockets on SIGUSR2: only a full restart
// recreates them).
var configNotApplied = Check{
	ID:    "config-not-applied",
	Cause: "config-not-applied",
	Step:  report.StepApplied,
	Live:  true,
	Needs: []snapshot.Fact{snapshot.FactProcesses},
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, f := range s.FPM {
			if f.Master == nil || f.Config == nil {
				continue
			}
			loaded, how := s.ConfigLoadedAt(f)
			if newer := newerFiles(s, f.Config.Files, loaded); len(newer) > 0 {
				ev := append([]report.Evidence{fact("php-fpm master pid %d %s %s", f.Master.PID, how, loaded.Format(time.DateTime))}, newer...)
				out = append(out, report.Finding{
					Severity: report.Warning,
					Live:     true,
					Title:    fmt.Sprintf("php-fpm (%s) runs an older config than the one on disk", f.Conf),
					Detail:   "The files changed after php-fpm started and it was not reloaded or restarted since. What you read is not what runs; the next restart applies it (and fails if it is invalid).",
					Evidence: ev,
					Fix:      &report.Fix{Summary: "check with " + binOr(f, "php-fpm") + " -t, then restart php-fpm (a restart, not a reload, if listen.* changed)"},
				})
			}
			for _, p := range f.Pools {
				if fd, ok := socketDrift(s, p); ok {
					out = append(out, fd)
				}
			}
		}
		for _, n := range s.Nginx {
			if n.Master == nil || n.Config == nil {
				continue
			}
			paths := make([]string, 0, len(n.Config.Files))
			for _, file := range n.Config.Files {
				paths = append(paths, file.Path)
			}
			loaded, how := n.ConfigLoadedAt()
			if newer := newerFiles(s, paths, loaded); len(newer) > 0 {
				ev := append([]report.Evidence{fact("nginx master pid %d %s %s", n.Master.PID, how, loaded.Format(time.DateTime))}, newer...)
				out = append(out, report.Finding{
					Severity: report.Warning,
					Live:     true,
					Title:    "nginx runs an older config than the one on disk",
					Detail:   "nginx re-reads its config only on reload (nginx -s reload), and replaces all its workers when it does; the files changed after the oldest running worker started, so no reload has applied them.",
					Evidence: ev,
					Fix:      &report.Fix{Summary: "nginx -t && nginx -s reload"},
				})
			}
		}
		return out
	},
}

// newerFiles quotes, as evidence, the files among paths modified after
// the config was loaded at start.
func newerFiles(s *snapshot.Snapshot, paths []string, start time.Time) []report.Evidence {
	var out []report.Evidence
	for _, p := range paths {
		fi := s.Host.Stat(p)
		if fi.Exists && fi.ModTime.After(start.Add(startSlack)) {
			out = append(out, report.Evidence{Kind: report.KindFact, File: fi.Path, Text: "modified " + fi.ModTime.Format(time.DateTime) + ", after that"})
		}
	}
	return out
}

// socketDrift compares a running pool's socket with its listen.* settings.
func socketDrift(s *snapshot.Snapshot, p *snapshot.Pool) (report.Finding, bool) {
	if p.Listen.Network != "unix" || p.Listener == nil || !p.Socket.Exists || s.Users == nil {
		return report.Finding{}, false
	}
	want, ok := expectedSocket(s, p)
	if !ok || (want.UID == p.Socket.UID && want.GID == p.Socket.GID && want.Mode.Perm() == p.Socket.Mode.Perm()) {
		return report.Finding{}, false
	}
	sev := report.Warning
	detail := "php-fpm keeps its listening sockets across a reload (SIGUSR2), so listen.owner, listen.group and listen.mode take effect only after a full restart."
	var sites []*snapshot.Site
	for _, site := range p.Sites {
		if site.Nginx.Cred == nil {
			continue
		}
		if ok, _ := host.Allowed(p.Socket, *site.Nginx.Cred, 2); !ok {
			sites = append(sites, site)
		}
	}
	if len(sites) > 0 {
		sev = report.Error
		detail += fmt.Sprintf(" The socket as it is now denies nginx (%s), which the config on disk would allow: %s get 502 (13: Permission denied).", s.Users.DescribeCred(*sites[0].Nginx.Cred), siteNames(sites))
	}
	ev := []report.Evidence{fact("%s is %s now", p.Listen.Path, host.Describe(p.Socket, s.Users)), fact("the pool's settings give %s", host.Describe(want, s.Users))}
	ev = append(ev, poolSettings(p, "listen.owner", "listen.group", "listen.mode")...)
	for _, site := range sites {
		ev = append(ev, directiveEvidence(site.Pass.Directive))
	}
	return report.Finding{
		Severity: sev,
		Live:     true,
		Pool:     p.ID(),
		Title:    fmt.Sprintf("socket of pool %s does not match its listen.* settings: php-fpm needs a restart, not a reload", p.Name),
		Detail:   detail,
		Evidence: ev,
		Fix:      &report.Fix{Summary: "restart php-fpm (systemctl restart, not reload) so it recreates " + p.Listen.Path},
	}, true
}
