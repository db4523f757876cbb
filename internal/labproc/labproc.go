// Package labproc starts, watches and stops the nginx and php-fpm masters of
// a lab (internal/rehearse for `fpmdoctor lab`, internal/lab for tests). It
// imports nothing of fpmdoctor, so every package's tests may use it.
package labproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FreePort asks the kernel for a free loopback TCP port. Another process may
// take it before the caller binds it; the servers then fail to start with
// "Address already in use", which names the port.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitFor polls cond every 20 ms until it holds, d passes or ctx ends.
func WaitFor(ctx context.Context, cond func() bool, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ReadPid reads a pid file and returns the pid when that process is alive,
// else 0.
func ReadPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0
	}
	return pid
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Stop signals pid (its whole process group when group is set: both
// servers make their master a session leader) and waits for it to exit;
// after 10 s it kills the group. It takes no context: a stop must finish
// even when the run was cancelled (Ctrl-C), or servers would be left behind.
func Stop(pid int, sig syscall.Signal, group bool) {
	if pid <= 0 {
		return
	}
	target := pid
	if group {
		target = -pid
	}
	_ = syscall.Kill(target, sig)
	gone := func() bool { return !alive(pid) || zombie(pid) }
	if group {
		// Workers inherit the listening socket: until the last one is
		// gone the socket still listens, so wait for the whole group.
		gone = func() bool { return syscall.Kill(-pid, 0) == syscall.ESRCH || groupZombies(pid) }
	}
	bg := context.Background()
	if WaitFor(bg, gone, 10*time.Second) != nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_ = WaitFor(bg, func() bool { return !alive(pid) || zombie(pid) }, 5*time.Second)
	}
}

func zombie(pid int) bool {
	st, ok := readStat(pid)
	return !ok || st.state == 'Z'
}

// Children lists the pids whose parent is pid.
func Children(pid int) []int {
	if pid == 0 {
		return nil
	}
	var out []int
	for _, st := range allStats() {
		if st.ppid == pid {
			out = append(out, st.pid)
		}
	}
	return out
}

// procStat is what the lab reads from /proc/PID/stat.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
}

// readStat parses /proc/PID/stat; the command name in parentheses may
// hold spaces and parentheses, so fields are counted after the last ')'.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 || f[0] == "" {
		return procStat{}, false
	}
	st := procStat{pid: pid, state: f[0][0]}
	st.ppid, _ = strconv.Atoi(f[1])
	st.pgrp, _ = strconv.Atoi(f[2])
	return st, true
}

// allStats reads every process's stat.
func allStats() []procStat {
	var out []procStat
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			if st, ok := readStat(pid); ok {
				out = append(out, st)
			}
		}
	}
	return out
}

// groupZombies reports whether every process left in pgid is a zombie
// (dead, its sockets closed, waiting to be reaped).
func groupZombies(pgid int) bool {
	for _, st := range allStats() {
		if st.pgrp == pgid && st.state != 'Z' {
			return false
		}
	}
	return true
}

// NginxWorkerUp reports whether the nginx master pid has forked a worker
// that took its title: the master listens before it forks, so a request
// sent earlier waits for a worker anyway, but credentials and the
// process list only settle then.
func NginxWorkerUp(master int) bool {
	for _, pid := range Children(master) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.HasPrefix(string(b), "nginx: worker process") {
			return true
		}
	}
	return false
}
