package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// backlogQueue: what the kernel says about each pool's listening socket
// right now (netlink sock_diag; the status page's "listen queue" is always
// 0 for unix sockets on Linux).
//
//   - error: the accept queue has reached the backlog. The kernel admits
//     connections while the queue holds no more than the backlog, so at
//     this point the next connection (or the one after) is refused: EAGAIN,
//     an immediate 502, on a unix socket; a dropped SYN, a 504 after
//     fastcgi_connect_timeout, on TCP.
//   - info: listen.backlog is set above net.core.somaxconn, which silently
//     caps it.
//
// The nginx "(11: Resource temporarily unavailable)" lines of the same
// cause are the log check's (log_backlog_overflow.go).
var backlogQueue = Check{
	ID:    "backlog-overflow-queue",
	Cause: "backlog-overflow",
	Step:  report.StepLimits,
	Live:  true,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		somax := 0
		if s.Queues != nil {
			somax = s.Queues.Somaxconn
		}
		for _, fpm := range s.FPM {
			for _, p := range fpm.Pools {
				if q := p.Queue; q != nil && q.Backlog > 0 && q.Len >= q.Backlog {
					out = append(out, queueFull(s, p))
				}
				set := p.Pool.Get("listen.backlog")
				if set == nil || somax <= 0 {
					continue
				}
				if n := p.Pool.Int("listen.backlog"); n > somax {
					ev := []report.Evidence{settingEvidence(set), fact("net.core.somaxconn = %d (/proc/sys/net/core/somaxconn)", somax)}
					if q := p.Queue; q != nil {
						ev = append(ev, fact("the kernel reports backlog %d for %s (sock_diag)", q.Backlog, q.Key()))
					}
					out = append(out, report.Finding{
						ID:       "backlog-overflow-somaxconn",
						Severity: report.Info,
						Pool:     p.ID(),
						Title:    fmt.Sprintf("pool %s asks for listen.backlog = %d but net.core.somaxconn caps it at %d", p.Name, n, somax),
						Detail:   "listen() silently lowers any backlog above net.core.somaxconn, so the pool's queue holds fewer waiting connections than its config says.",
						Evidence: ev,
						Fix:      &report.Fix{Summary: fmt.Sprintf("raise net.core.somaxconn to %d (sysctl.d) and restart php-fpm, or set listen.backlog = -1 (the kernel maximum)", n)},
					})
				}
			}
		}
		return out
	},
}

func queueFull(s *snapshot.Snapshot, p *snapshot.Pool) report.Finding {
	q := p.Queue
	ev := []report.Evidence{}
	if p.Setting != nil {
		ev = append(ev, settingEvidence(p.Setting))
	}
	ev = append(ev, poolSettings(p, "listen.backlog")...)
	ev = append(ev, fact("%s: %d connections wait to be accepted, backlog %d (kernel, netlink sock_diag)", q.Key(), q.Len, q.Backlog))
	ev = append(ev, poolSettings(p, "pm.max_children")...)
	busy := len(p.WorkerProcs())
	ev = append(ev, fact("pool %s has %d workers running", p.Name, busy))
	if s.Queues != nil && s.Queues.Somaxconn > 0 {
		ev = append(ev, fact("net.core.somaxconn = %d", s.Queues.Somaxconn))
	}
	effect := "connect() fails with EAGAIN (11: Resource temporarily unavailable) and nginx answers 502 at once"
	if q.Network == "tcp" {
		effect = "the kernel drops new SYNs and nginx waits fastcgi_connect_timeout, then answers 504"
	}
	return report.Finding{
		Severity: report.Error,
		Live:     true,
		Pool:     p.ID(),
		Title:    fmt.Sprintf("the listen queue of pool %s is full: %d waiting, backlog %d", p.Name, q.Len, q.Backlog),
		Detail:   fmt.Sprintf("Every worker is busy and connections pile up in the kernel's accept queue; once it holds more than the backlog, %s.", effect),
		Evidence: ev,
		Fix:      &report.Fix{Summary: "find what keeps the workers busy (pool-exhausted); raise pm.max_children as far as memory allows (fpmdoctor tune) and listen.backlog for bursts (restart php-fpm)"},
	}
}
