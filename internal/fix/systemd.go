package fix

import (
	"context"
	"fmt"
	"os"
	"strings"

	sd "github.com/coreos/go-systemd/v22/dbus"

	"github.com/fpmdoctor/fpmdoctor/internal/discover"
)

// systemdRuns reports whether PID 1 is systemd: only then are services
// asked of systemd (signalling a unit's master behind its back would
// leave systemd's idea of the unit wrong, and Restart= could fight us).
func systemdRuns() bool {
	b, err := os.ReadFile("/proc/1/comm")
	return err == nil && strings.TrimSpace(string(b)) == "systemd"
}

// systemdUnit names the unit that runs (or would run) a service, "" when
// systemd is not PID 1 or has no such unit (then signals are used).
func systemdUnit(ctx context.Context, sv *Service) string {
	if !systemdRuns() {
		return ""
	}
	conn, err := connectSystemd(ctx)
	if err != nil {
		return ""
	}
	defer conn.Close()
	if sv.PID != 0 {
		u, err := conn.GetUnitNameByPID(ctx, uint32(sv.PID))
		if err != nil || !strings.HasSuffix(u, ".service") {
			return "" // a master started by hand inside a login scope
		}
		return u
	}
	// Not running: the distribution's unit for this config, if installed.
	var cands []string
	if v := discover.DebianPHPVersion(sv.Conf); v != "" {
		cands = append(cands, "php"+v+"-fpm.service")
	}
	if sv.Kind == "php-fpm" {
		cands = append(cands, "php-fpm.service")
	}
	for _, u := range cands {
		p, err := conn.GetUnitPropertyContext(ctx, u, "LoadState")
		if err == nil && strings.Trim(p.Value.String(), `"`) == "loaded" {
			return u
		}
	}
	return ""
}

// connectSystemd talks to systemd over the system bus, or, when there is
// none, over systemd's own socket: systemd does not need dbus-daemon, and
// servers installed without recommends often have none. Without this
// fallback, fix found no unit on such hosts and started php-fpm behind
// systemd's back, leaving the unit inactive and its next start failing on
// the socket that php-fpm holds.
func connectSystemd(ctx context.Context) (*sd.Conn, error) {
	conn, err := sd.NewSystemConnectionContext(ctx)
	if err == nil {
		return conn, nil
	}
	if os.Geteuid() != 0 { // /run/systemd/private is root's only
		return nil, err
	}
	conn, perr := sd.NewSystemdConnectionContext(ctx)
	if perr != nil {
		return nil, fmt.Errorf("system bus: %w; /run/systemd/private: %w", err, perr)
	}
	return conn, nil
}

// Systemd runs operations as systemd jobs and waits for their result.
type Systemd struct{}

func (Systemd) job(ctx context.Context, sv *Service, what string, call func(*sd.Conn, chan<- string) (int, error)) error {
	conn, err := connectSystemd(ctx)
	if err != nil {
		return fmt.Errorf("%s %s: connect to systemd: %w", what, sv.Unit, err)
	}
	defer conn.Close()
	ch := make(chan string, 1)
	if _, err := call(conn, ch); err != nil {
		return fmt.Errorf("%s %s: %w", what, sv.Unit, err)
	}
	select {
	case r := <-ch:
		if r != "done" {
			return fmt.Errorf("%s %s: job %s (see journalctl -u %s)", what, sv.Unit, r, sv.Unit)
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// Reload implements Controller.
func (s Systemd) Reload(ctx context.Context, sv *Service) error {
	return s.job(ctx, sv, "reload", func(c *sd.Conn, ch chan<- string) (int, error) {
		return c.ReloadUnitContext(ctx, sv.Unit, "replace", ch)
	})
}

// Restart implements Controller.
func (s Systemd) Restart(ctx context.Context, sv *Service) error {
	return s.job(ctx, sv, "restart", func(c *sd.Conn, ch chan<- string) (int, error) {
		return c.RestartUnitContext(ctx, sv.Unit, "replace", ch)
	})
}

// Start implements Controller.
func (s Systemd) Start(ctx context.Context, sv *Service) error {
	return s.job(ctx, sv, "start", func(c *sd.Conn, ch chan<- string) (int, error) {
		return c.StartUnitContext(ctx, sv.Unit, "replace", ch)
	})
}

// Stop implements Controller.
func (s Systemd) Stop(ctx context.Context, sv *Service) error {
	return s.job(ctx, sv, "stop", func(c *sd.Conn, ch chan<- string) (int, error) {
		return c.StopUnitContext(ctx, sv.Unit, "replace", ch)
	})
}

// Auto asks systemd about the services it runs and signals the others.
type Auto struct{ Signals Signals }

func (a Auto) pick(sv *Service) Controller {
	if sv.Unit != "" {
		return Systemd{}
	}
	return a.Signals
}

// Reload implements Controller.
func (a Auto) Reload(ctx context.Context, sv *Service) error { return a.pick(sv).Reload(ctx, sv) }

// Restart implements Controller.
func (a Auto) Restart(ctx context.Context, sv *Service) error { return a.pick(sv).Restart(ctx, sv) }

// Start implements Controller.
func (a Auto) Start(ctx context.Context, sv *Service) error { return a.pick(sv).Start(ctx, sv) }

// Stop implements Controller.
func (a Auto) Stop(ctx context.Context, sv *Service) error { return a.pick(sv).Stop(ctx, sv) }
