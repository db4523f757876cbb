package tune

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// ObserveOptions say where to look for a pool's peaks.
type ObserveOptions struct {
	// Since is the log window for max_children warnings; 0 skips the log.
	Since time.Duration
	// NoProbe skips the status page.
	NoProbe bool
	// ProbeTimeout bounds each status request (default 2s).
	ProbeTimeout time.Duration
}

// Observe reads each running pool's status page (when pm.status_path is
// set) and counts its max_children warnings in php-fpm's error_log.
func Observe(ctx context.Context, s *snapshot.Snapshot, o ObserveOptions) map[string]Peak {
	out := map[string]Peak{}
	if !s.Live {
		return out
	}
	timeout := o.ProbeTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	for _, f := range s.FPM {
		if f.Master == nil || f.Config == nil {
			continue
		}
		events, logFile, logErr := maxChildrenEvents(ctx, s, f, o.Since)
		for _, p := range f.Pools {
			pk := Peak{MaxChildrenEvents: -1, Since: o.Since, LogFile: logFile}
			if logErr != nil {
				pk.LogError = logErr.Error()
			} else if events != nil {
				pk.MaxChildrenEvents = events[p.Name]
			}
			if !o.NoProbe {
				readStatus(ctx, p, timeout, &pk)
			}
			out[p.ID()] = pk
		}
	}
	return out
}

// readStatus asks the pool's status page. Without pm.status_listen the
// page is served by a pool worker, so a saturated pool cannot answer: the
// timeout is then itself a sign of the peak, reported as an error.
func readStatus(ctx context.Context, p *snapshot.Pool, timeout time.Duration, pk *Peak) {
	path := p.Pool.Value("pm.status_path")
	if path == "" {
		return
	}
	addr := p.Listen.String()
	if l := p.Pool.Value("pm.status_listen"); l != "" {
		addr = l
	}
	t, err := probe.ParseTarget(normalizeAddr(addr))
	if err != nil {
		pk.StatusError = err.Error()
		return
	}
	res := probe.Probe(ctx, t, probe.Options{Timeout: timeout, StatusPath: path})
	if res.Status == nil {
		pk.StatusError = string(res.Verdict) + ": " + res.Detail
		return
	}
	pk.StatusRead = true
	pk.MaxActiveProcesses = res.Status.MaxActiveProcesses
	pk.MaxChildrenReached = res.Status.MaxChildrenReached
}

// normalizeAddr turns a php-fpm listen value into something the probe
// parses: a bare port means localhost.
func normalizeAddr(a string) string {
	if _, err := strconv.Atoi(a); err == nil {
		return net.JoinHostPort("127.0.0.1", a)
	}
	if h, port, err := net.SplitHostPort(a); err == nil && (h == "" || h == "*" || h == "0.0.0.0" || h == "[::]" || h == "::") {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return a
}

// maxChildrenEvents counts "server reached max_children" warnings per pool
// in the master's error_log within since.
func maxChildrenEvents(ctx context.Context, s *snapshot.Snapshot, f *snapshot.FPM, since time.Duration) (map[string]int, string, error) {
	if since <= 0 {
		return nil, "", nil
	}
	file := f.Config.Global.Path("error_log")
	if _, ident := f.LogName(); file == "" || ident != "" {
		return nil, file, errors.New("php-fpm logs to syslog: not read")
	}
	counts := map[string]int{}
	opt := logscan.Options{Format: logscan.FormatFPM, Window: logscan.Window{Since: s.Now.Add(-since)}}
	local, err := s.Host.Path(file)
	if err != nil {
		return nil, file, err
	}
	_, err = logscan.Scan(ctx, local, opt, func(e *logscan.Entry) error {
		if e.Kind == logscan.KindMaxChildren {
			counts[strings.Clone(e.Pool)]++ // e is borrowed: the map must own its key
		}
		return nil
	})
	if err != nil {
		return nil, file, err
	}
	return counts, file, nil
}
