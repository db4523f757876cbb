package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// listenAllAddresses: a pool listens on TCP on every address (a port only,
// 0.0.0.0 or [::]) and lets any client in (no listen.allowed_clients).
// Nothing fails: nginx gets its answers. But FastCGI has no
// authentication, and a client may pass PHP_VALUE/PHP_ADMIN_VALUE, so
// whoever reaches the port runs PHP with settings of its choosing. A pool
// behind nginx on the same host should listen on 127.0.0.1 or a socket.
var listenAllAddresses = Check{
	ID:    "listen-all-addresses",
	Cause: "listen-all-addresses",
	Step:  report.StepListen,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, f := range s.FPM {
			for _, p := range f.Pools {
				if p.ListenErr != nil || p.Listen.Network != "tcp" || p.Setting == nil {
					continue
				}
				if !p.Listen.Wildcard && (p.Listen.IP == nil || !p.Listen.IP.IsUnspecified()) {
					continue
				}
				if ac := p.Pool.Get("listen.allowed_clients"); ac != nil && ac.Value != "" {
					continue
				}
				out = append(out, report.Finding{
					Severity: report.Warning,
					Pool:     p.ID(),
					Title:    fmt.Sprintf("pool %s listens on every address (%s) and lets any client in", p.Name, p.Listen),
					Detail:   "FastCGI has no authentication: any host that can reach the port runs PHP through this pool, and can set PHP_VALUE and PHP_ADMIN_VALUE (auto_prepend_file, open_basedir) per request. Requests from nginx are served as usual: nothing fails, so nothing shows.",
					Evidence: []report.Evidence{settingEvidence(p.Setting), poolHeaderEvidence(p),
						fact("no listen.allowed_clients in pool %s: php-fpm accepts every address", p.Name)},
					Fix: &report.Fix{Summary: fmt.Sprintf("listen on 127.0.0.1:%d (or a unix socket) when nginx is on the same host; else set listen.allowed_clients to nginx's addresses in pool %s", p.Listen.Port, p.Name)},
				})
			}
		}
		return out
	},
}
