package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// staleSocket: the socket file nginx connects to exists but nothing
// listens on it — php-fpm was killed (SIGKILL, OOM killer, a crash) and
// could not unlink it, or the file was replaced. nginx logs
// (111: Connection refused).
var staleSocket = Check{
	ID:    "stale-socket",
	Cause: "stale-socket",
	Step:  report.StepSocket,
	Live:  true,
	Needs: []snapshot.Fact{snapshot.FactSockets},
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		seen := map[string]bool{}
		for _, site := range s.Sites {
			for _, t := range site.Targets {
				if t.Kind != nginxconf.TargetUnix || !t.Socket.Exists || t.Listener != nil || seen[t.Path] {
					continue
				}
				seen[t.Path] = true
				ev := []report.Evidence{directiveEvidence(t.Directive)}
				if t.Socket.IsSocket() {
					ev = append(ev, fact("%s is a socket file (%s, modified %s)", t.Path, host.Describe(t.Socket, s.Users), t.Socket.ModTime.Format("2006-01-02 15:04:05")))
				} else {
					ev = append(ev, fact("%s exists but is not a socket (%s)", t.Path, t.Socket.Mode))
				}
				ev = append(ev, fact("no process listens on %s (/proc/net/unix)", t.Path))
				f := report.Finding{
					Severity: report.Error,
					Live:     true,
					Site:     site.Key(),
					Title:    "stale socket: " + t.Path + " exists but nothing listens on it",
					Evidence: ev,
				}
				switch p := t.Pool; {
				case p == nil:
					f.Detail = "No configured pool listens there and no process holds the socket: the file is left over from a php-fpm that is gone."
					f.Fix = &report.Fix{Summary: "remove the stale file and point fastcgi_pass at a live pool"}
				case !p.FPM.Running():
					f.Pool = p.ID()
					f.Detail = fmt.Sprintf("php-fpm (%s) is not running and did not remove its socket: it was killed (kill -9, the OOM killer) or crashed. nginx gets (111: Connection refused).", p.FPM.Conf)
					ev = append(ev, fact("no php-fpm master process runs with %s", p.FPM.Conf))
					f.Evidence = ev
					f.Fix = &report.Fix{Summary: "start php-fpm (it replaces the stale socket): " + fpmStartCommand(p.FPM)}
				default:
					f.Pool = p.ID()
					f.Detail = fmt.Sprintf("php-fpm runs (master pid %d) but does not hold this socket: the file was replaced or re-created after php-fpm bound it.", p.FPM.Master.PID)
					f.Fix = &report.Fix{Summary: "restart php-fpm so it binds the socket again"}
				}
				out = append(out, f)
			}
		}
		return out
	},
}
