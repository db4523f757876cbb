package fix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
)

// Controller reloads, restarts, starts and stops servers. The live one
// signals masters found in /proc (or asks systemd when it runs them);
// tests wrap it to inject failures.
type Controller interface {
	Reload(ctx context.Context, s *Service) error
	Restart(ctx context.Context, s *Service) error
	Start(ctx context.Context, s *Service) error
	Stop(ctx context.Context, s *Service) error
}

// Signals controls servers by signalling their masters: nginx reloads on
// SIGHUP; php-fpm reloads on SIGUSR2 and stops on SIGQUIT, and is started
// again with its binary, config, prefix and environment.
type Signals struct {
	// Wait bounds each wait for a server to come up or go (0: 15s).
	Wait time.Duration
}

func (c Signals) wait() time.Duration {
	if c.Wait > 0 {
		return c.Wait
	}
	return 15 * time.Second
}

// findMaster finds the running master of s: by its config in the title
// (php-fpm) or its pid and title (nginx), 0 when none runs.
func findMaster(ctx context.Context, s *Service) (host.Process, []host.Process, error) {
	procs, err := host.New("").Processes(ctx)
	if err != nil {
		return host.Process{}, nil, fmt.Errorf("list processes: %w", err)
	}
	var cands []host.Process
	for _, p := range procs {
		switch {
		case s.Kind == "php-fpm" && p.Role() == host.RoleFPMMaster && samePath(p.FPMConfig(), s.Conf):
			cands = append(cands, p)
		case s.Kind == "nginx" && p.Role() == host.RoleNginxMaster:
			conf, _ := p.NginxArgs()
			if p.PID == s.PID || p.PID == s.NewPID || (conf != "" && samePath(conf, s.Conf)) {
				cands = append(cands, p)
			}
		}
	}
	// A child just forked still carries its master's title: the master is
	// the candidate whose parent is not a candidate.
	var m host.Process
	isCand := pids(cands)
	for _, p := range cands {
		if !isCand[p.PPID] {
			m = p
		}
	}
	var kids []host.Process
	if m.PID != 0 {
		for _, p := range procs {
			if p.PPID == m.PID {
				kids = append(kids, p)
			}
		}
	}
	return m, kids, nil
}

func samePath(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

func pids(ps []host.Process) map[int]bool {
	out := map[int]bool{}
	for _, p := range ps {
		out[p.PID] = true
	}
	return out
}

// absentGrace is how long a reloading php-fpm may have no master.
const absentGrace = 3 * time.Second

// Reload signals the master and waits for new workers: nginx answers a
// config it rejects on SIGHUP by keeping the old workers, php-fpm by
// exiting, so "new workers appeared" is the proof the reload took.
func (c Signals) Reload(ctx context.Context, s *Service) error {
	m, kids, err := findMaster(ctx, s)
	if err != nil {
		return err
	}
	if m.PID == 0 {
		return fmt.Errorf("reload %s: no master runs", s)
	}
	sig := syscall.SIGHUP
	if s.Kind == "php-fpm" {
		sig = syscall.SIGUSR2
	}
	old := pids(kids)
	if err := syscall.Kill(m.PID, sig); err != nil {
		return fmt.Errorf("reload %s: signal pid %d: %w", s, m.PID, err)
	}
	start := time.Now()
	var gone time.Time
	return poll(ctx, c.wait(), func() (bool, error) {
		// php-fpm re-executes itself and, daemonized, forks a new master:
		// for a moment there is none, then one with a new pid. Only a
		// master missing for a while means it rejected the config.
		now, kids, err := findMaster(ctx, s)
		if err != nil {
			return false, err
		}
		if now.PID == 0 {
			if gone.IsZero() {
				gone = time.Now()
			}
			if time.Since(gone) > absentGrace {
				return false, fmt.Errorf("reload %s: the master (pid %d) exited and none came back: it rejected the config (see its error log)", s, m.PID)
			}
			return false, nil
		}
		gone = time.Time{}
		if now.PID != m.PID {
			s.NewPID = now.PID
			old = map[int]bool{}
		}
		fresh, lingering := false, false
		for _, k := range kids {
			switch {
			case !old[k.PID]:
				fresh = true
			case !strings.Contains(k.Title, "shutting down"):
				// An nginx worker that has not seen the reload yet still
				// accepts connections with the old config.
				lingering = lingering || s.Kind == "nginx"
			}
		}
		if fresh && !lingering {
			return true, nil
		}
		// pm = ondemand keeps no idle workers: nothing new to see.
		return len(old) == 0 && len(kids) == 0 && time.Since(start) > time.Second, nil
	}, "reload "+s.String()+": no new workers started (see its error log)")
}

// Restart stops php-fpm and starts it again; nginx is only reloaded.
func (c Signals) Restart(ctx context.Context, s *Service) error {
	if s.Kind == "nginx" {
		return c.Reload(ctx, s)
	}
	if err := c.Stop(ctx, s); err != nil {
		return err
	}
	return c.Start(ctx, s)
}

// Stop asks the master to finish gracefully (SIGQUIT), then insists.
func (c Signals) Stop(ctx context.Context, s *Service) error {
	m, _, err := findMaster(ctx, s)
	if err != nil {
		return err
	}
	if m.PID == 0 {
		return nil
	}
	gone := func() (bool, error) { return !alive(m.PID), nil }
	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGTERM} {
		_ = syscall.Kill(m.PID, sig)
		if poll(ctx, c.wait(), gone, "") == nil {
			return waitSocketsFree(ctx)
		}
	}
	_ = syscall.Kill(-m.PID, syscall.SIGKILL)
	_ = syscall.Kill(m.PID, syscall.SIGKILL)
	if err := poll(ctx, 5*time.Second, gone, ""); err != nil {
		return fmt.Errorf("stop %s: pid %d does not exit", s, m.PID)
	}
	return nil
}

// waitSocketsFree is a short grace for the kernel to drop the listeners
// of a stopped php-fpm before a new one binds them.
func waitSocketsFree(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(50 * time.Millisecond):
	}
	return nil
}

// Start runs php-fpm as it ran (binary, config, prefix, environment) and
// waits until its daemonizing parent reports it ready. --daemonize forces
// the background even when the config says daemonize = no (a supervisor
// or systemd with Type=notify would have started it that way).
func (c Signals) Start(ctx context.Context, s *Service) error {
	if s.Kind != "php-fpm" {
		return fmt.Errorf("start %s: fpmdoctor starts only php-fpm", s)
	}
	if s.Binary == "" {
		return fmt.Errorf("start %s: no php-fpm binary known", s)
	}
	args := []string{"--fpm-config", s.Conf}
	if s.Prefix != "" {
		args = append(args, "--prefix", s.Prefix)
	}
	args = append(args, "--daemonize")
	cctx, cancel := context.WithTimeout(ctx, c.wait())
	defer cancel()
	cmd := exec.CommandContext(cctx, s.Binary, args...)
	if len(s.Env) > 0 {
		cmd.Env = s.Env
	}
	cmd.Dir = "/"
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("start %s: %s %s: %w: %s", s, s.Binary, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return poll(ctx, c.wait(), func() (bool, error) {
		m, _, err := findMaster(ctx, s)
		if m.PID != 0 {
			s.NewPID = m.PID
		}
		return m.PID != 0, err
	}, "start "+s.String()+": no master appeared")
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	st := string(b)
	i := strings.LastIndexByte(st, ')')
	return !(i > 0 && i+2 < len(st) && st[i+2] == 'Z')
}

// poll calls cond every 25 ms until it holds, fails, or d passes.
func poll(ctx context.Context, d time.Duration, cond func() (bool, error), timeoutMsg string) error {
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if timeoutMsg == "" {
				timeoutMsg = "timed out"
			}
			return fmt.Errorf("%s (waited %s)", timeoutMsg, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}
