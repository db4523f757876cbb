package checks_test

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestBacklogQueueRealServers: one static worker, listen.backlog = 2. A
// slow request through nginx holds the worker; connections nobody accepts
// fill the kernel's queue until it refuses with EAGAIN. diagnose reads the
// queue and backlog from the kernel and reports the full queue.
func TestBacklogQueueRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	pool := "etc/php/fpm/pool.d/www.conf"
	l.Write(pool, `[www]
user = www-data
group = www-data
listen = {{DIR}}/run/php-fpm.sock
listen.owner = www-data
listen.group = www-data
listen.backlog = 2
pm = static
pm.max_children = 1
`)
	l.Start()
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.GetTimeout("/sleep.php?s=6", 20*time.Second)
	}()
	// Wait until the worker is busy: the queue is then ours to fill.
	sock := l.Path("run/php-fpm.sock")
	admitted := 0
	time.Sleep(300 * time.Millisecond)
	var err error
	for admitted < 20 {
		fd, e := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if e != nil {
			t.Fatal(e)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if err = unix.Connect(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
			break
		}
		admitted++
	}
	if !errors.Is(err, unix.EAGAIN) {
		t.Fatalf("after %d connects: %v, want EAGAIN", admitted, err)
	}

	r := diagnose(t, l)
	var f report.Finding
	for _, x := range r.Findings {
		if x.ID == "backlog-overflow-queue" {
			f = x
		}
	}
	if f.ID == "" {
		t.Fatalf("no backlog-overflow-queue finding\n%s", dump(r))
	}
	if f.Cause != "backlog-overflow" || f.Severity != report.Error {
		t.Fatalf("finding %+v", f)
	}
	evidenceAt(t, f, l.Path(pool), 7) // listen.backlog = 2
	// The kernel admits backlog+1 = 3 connections; the probe of diagnose
	// comes after the queue is read.
	evidenceText(t, f, report.KindFact, "unix:"+sock+": 3 connections wait to be accepted, backlog 2")
	t.Logf("%d pending connects admitted before EAGAIN; %s", admitted, f.Title)
	<-done
}
