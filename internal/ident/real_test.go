package ident_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/ident"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// TestFindNginxWorkerRealServers: with a real nginx running (user
// www-data), the scan finds a worker, and what it returns is that process's
// identity as the kernel reports it.
func TestFindNginxWorkerRealServers(t *testing.T) {
	l := lab.New(t)
	l.Start()
	users, err := ident.LoadUsers("/etc/passwd", "/etc/group")
	if err != nil {
		t.Fatal(err)
	}
	www, ok := users.Lookup(lab.WorkerUser)
	if !ok {
		lab.Unavailable(t, "no "+lab.WorkerUser+" user")
	}
	pid, c, ok, err := ident.FindNginxWorker(context.Background(), "/proc")
	if err != nil || !ok {
		t.Fatalf("no worker found with nginx running: ok=%v err=%v", ok, err)
	}
	title, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if !strings.HasPrefix(string(title), ident.NginxWorkerTitle) || c.UID == 0 {
		t.Fatalf("pid %d %q as %+v: not an nginx worker off root", pid, title, c)
	}
	// The kernel owns /proc/PID by the process's effective uid.
	if fi, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil || int(fi.Sys().(*syscall.Stat_t).Uid) != c.UID {
		t.Fatalf("pid %d: /proc owner %v (%v), scan says uid %d", pid, fi, err, c.UID)
	}
	// Other nginx instances may run on a test host; the lab's runs as
	// www-data, like Debian's, so any worker found as another user must be
	// one of theirs.
	if c.UID != www.UID {
		t.Logf("found pid %d as uid %d, another nginx than the lab's", pid, c.UID)
	}
}
