package host

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// listenRaw makes a listening socket with an exact backlog (net.Listen
// always asks for somaxconn) and returns its fd.
func listenRaw(t *testing.T, family int, sa unix.Sockaddr, backlog int) int {
	t.Helper()
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		t.Fatal(err)
	}
	return fd
}

func queueStats(t *testing.T) map[string]Queue {
	t.Helper()
	qs, err := QueueStats(context.Background())
	if errors.Is(err, ErrSockDiag) {
		lab.Unavailable(t, "sock_diag not available here: "+err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	return qs
}

// TestQueueStatsUnix: a unix listener with backlog 5 and 3 connections
// nobody accepted shows queue 3, backlog 5; once the queue holds more
// than the backlog the kernel refuses with EAGAIN.
func TestQueueStatsUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q.sock")
	listenRaw(t, unix.AF_UNIX, &unix.SockaddrUnix{Name: path}, 5)

	dial := func() error {
		fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		t.Cleanup(func() { unix.Close(fd) })
		return unix.Connect(fd, &unix.SockaddrUnix{Name: path})
	}
	for range 3 {
		if err := dial(); err != nil {
			t.Fatal(err)
		}
	}
	q, ok := queueStats(t)["unix:"+path]
	if !ok {
		t.Fatalf("no queue for %s", path)
	}
	if q.Len != 3 || q.Backlog != 5 || q.Inode == 0 || q.Full() {
		t.Fatalf("queue %+v, want len 3 backlog 5", q)
	}
	// Fill it: the kernel admits connections while len <= backlog.
	var err error
	n := 3
	for ; n < 20; n++ {
		if err = dial(); err != nil {
			break
		}
	}
	if !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("connect #%d: %v, want EAGAIN", n+1, err)
	}
	q = queueStats(t)["unix:"+path]
	if q.Len != n || q.Len != 6 || !q.Full() {
		t.Fatalf("full queue %+v, want len %d", q, n)
	}
	t.Logf("backlog 5: %d connections admitted, then EAGAIN; queue %+v", n, q)
}

// TestQueueStatsTCP: the same for a TCP listener on loopback.
func TestQueueStatsTCP(t *testing.T) {
	fd := listenRaw(t, unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, 7)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for range 2 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	var q Queue
	// The handshake completes asynchronously on the listener's side.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		q = queueStats(t)[addr]
		if q.Len == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if q.Len != 2 || q.Backlog != 7 || q.Port != port {
		t.Fatalf("tcp queue %+v, want len 2 backlog 7", q)
	}
}

func TestSomaxconn(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "sys/net/core/somaxconn"), "4096\n")
	if n, err := Somaxconn(dir); err != nil || n != 4096 {
		t.Fatalf("Somaxconn = %d, %v", n, err)
	}
	if _, err := Somaxconn(filepath.Join(dir, "none")); err == nil {
		t.Fatal("want an error for a missing file")
	}
	if n, err := Somaxconn("/proc"); err != nil || n <= 0 {
		t.Fatalf("live somaxconn = %d, %v", n, err)
	}
}
