package checks_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// journalChildEnv marks the re-executed test binary that runs inside a
// private mount namespace; its value is the parent's mount namespace, so
// the child can refuse to mount anything if it is not in a new one.
const journalChildEnv = "FPMDOCTOR_JOURNAL_TEST_PARENT_NS"

// TestWorkerCrashFromJournalRealServers: php-fpm's global error_log is
// syslog, so its events go to the systemd journal and nowhere else.
// Workers crash on SIGSEGV, nginx answers 502, and fpmdoctor must read the
// crashes back from the journal (journalctl -t IDENT), classify them, tie
// them to the pool and correlate them with nginx's 502s.
//
// The host has no journald of its own to rely on (and a test must not
// write to one), so the test re-executes itself under `unshare --mount
// --propagation private`; inside, /run and /dev are private tmpfs mounts,
// a private systemd-journald listens on /run/systemd/journal/dev-log and
// /dev/log points there, so php-fpm's syslog(3) reaches it. Nothing of the
// host's /run, /dev or /var/log/journal is written; the mounts vanish with
// the namespace when the child exits.
func TestWorkerCrashFromJournalRealServers(t *testing.T) {
	if parentNS := os.Getenv(journalChildEnv); parentNS != "" {
		workerCrashFromJournal(t, parentNS)
		return
	}
	t.Parallel()
	lab.Require(t)
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		lab.Unavailable(t, "unshare is not installed (apt-get install util-linux)")
	}
	if journaldBin() == "" {
		lab.Unavailable(t, "systemd-journald is not installed (apt-get install systemd)")
	}
	if _, err := exec.LookPath("journalctl"); err != nil {
		lab.Unavailable(t, "journalctl is not installed (apt-get install systemd)")
	}
	nsArgs := []string{"--mount", "--propagation", "private"}
	if out, err := exec.Command(unshare, append(nsArgs, "true")...).CombinedOutput(); err != nil {
		lab.Unavailable(t, "cannot create a private mount namespace (unshare --mount): "+strings.TrimSpace(string(out)))
	}
	ns, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append(nsArgs, "--", os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=2m")
	cmd := exec.CommandContext(ctx, unshare, args...)
	cmd.Env = append(os.Environ(), journalChildEnv+"="+ns)
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("the test inside the mount namespace failed: %v\n%s", err, out)
	case bytes.Contains(out, []byte("--- SKIP: "+t.Name())):
		lab.Unavailable(t, "inside the mount namespace:\n"+string(out))
	case !bytes.Contains(out, []byte("--- PASS: "+t.Name())):
		t.Fatalf("the test did not run inside the mount namespace:\n%s", out)
	}
	t.Logf("inside the mount namespace:\n%s", out)
}

// workerCrashFromJournal is the test proper, run inside the namespace.
func workerCrashFromJournal(t *testing.T, parentNS string) {
	lab.Require(t)
	privateJournal(t, parentNS)

	ident := "fpmlab-" + strconv.Itoa(os.Getpid())
	l := lab.New(t)
	l.Edit("etc/php/fpm/php-fpm.conf", "error_log = {{DIR}}/log/php-fpm.log", "error_log = syslog\nsyslog.ident = "+ident)
	l.StartFPMForeground() // as systemd runs it: a reload keeps the master's pid
	l.MustStartNginx()
	for range 3 {
		l.MustStatus("/crash.php?sig=11", 502)
	}
	// The master logs each exit when it reaps the child, just after nginx
	// has answered; journald stores it a moment later.
	waitForJournal(t, ident, "exited on signal 11 (SIGSEGV)", 3)
	if _, err := os.Stat(l.Path("log/php-fpm.log")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("php-fpm wrote a log file although error_log = syslog: %v", err)
	}

	r := diagnose(t, l)
	src := "journal:" + ident
	var read *report.LogRead
	for i, lr := range r.LogsRead {
		if lr.Path == src {
			read = &r.LogsRead[i]
		}
	}
	if read == nil || read.Entries < 3 || read.BytesRead == 0 {
		t.Fatalf("the journal was not read as %s (want 3 entries or more): %+v\n%s", src, read, dump(r))
	}
	for _, s := range r.Skipped {
		if strings.Contains(s.Reason, "journal") || strings.Contains(s.Reason, src) {
			t.Fatalf("skipped %s: %s\n%s", s.Check, s.Reason, dump(r))
		}
	}
	// php-fpm's own log was read (from the journal) and logged no
	// SIGKILL: the kernel log, read only when php-fpm's log is missing or
	// names a SIGKILL, has nothing to add.
	for _, lr := range r.LogsRead {
		if lr.Path == "dmesg" || strings.HasPrefix(lr.Path, "/var/log/") {
			t.Fatalf("read the kernel log %s as if php-fpm's log had not been read\n%s", lr.Path, dump(r))
		}
	}

	first(t, r, "worker-crash")
	f := finding(t, r, "worker-crash", report.Error)
	if !strings.Contains(f.Title, "3 times on signal 11 (SIGSEGV)") {
		t.Fatalf("title %q", f.Title)
	}
	if want := "www (" + l.FPMConf() + ")"; f.Pool != want {
		t.Fatalf("crashes tied to pool %q, want %q\n%s", f.Pool, want, dump(r))
	}
	// The quoted crash comes from the journal, with php-fpm's syslog level.
	e := evidenceAt(t, f, src, 0)
	if !strings.Contains(e.Text, "[WARNING] [pool www] child ") || !strings.Contains(e.Text, "exited on signal 11 (SIGSEGV)") {
		t.Fatalf("journal evidence %q", e.Text)
	}
	// Correlated with the 502s nginx logged for the crashing script.
	if !strings.Contains(f.Detail, "nginx failed 3 requests within") {
		t.Fatalf("crashes not correlated with nginx's 502s: %q\n%s", f.Detail, dump(r))
	}
	evidenceAt(t, f, l.Path("log/nginx-error.log"), 0)
	evidenceText(t, f, report.KindLog, "crash.php")
	// The crashing request, counted over every failure near the crashes.
	if f.Logs == nil || f.Logs.Count != 3 || len(f.Logs.TopURLs) != 1 || f.Logs.TopURLs[0] != (report.URLCount{URL: "/crash.php", Count: 3}) {
		t.Fatalf("log summary: %+v", f.Logs)
	}
	var n502, fpm int
	for _, b := range r.Timeline {
		n502 += b.Nginx502
		fpm += b.FPM
	}
	if n502 != 3 || fpm != 3 {
		t.Fatalf("timeline counts %d × 502 and %d php-fpm events, want 3 and 3: %+v", n502, fpm, r.Timeline)
	}

	// A pool change loaded by a reload: the reload's "ready to handle
	// connections" is only in the journal, and must count as the load, or
	// the changed file would read as not applied.
	time.Sleep(1700 * time.Millisecond) // past the check's slack for start-time rounding
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes\n", "catch_workers_output = yes\npm.max_requests = 500\n")
	master := l.FPMPid()
	if err := syscall.Kill(master, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	waitForJournal(t, ident, "ready to handle connections", 2)
	if l.FPMPid() != master {
		t.Fatalf("the reload replaced the master (pid %d, was %d): the journal's ready line is not what the test is about", l.FPMPid(), master)
	}
	r = diagnose(t, l)
	for _, f := range r.Findings {
		if f.Cause == "config-not-applied" {
			t.Fatalf("a reload logged only in the journal was not seen: %s\n%s", f.Title, dump(r))
		}
	}
}

func journaldBin() string {
	for _, p := range []string{"/lib/systemd/systemd-journald", "/usr/lib/systemd/systemd-journald"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// privateJournal runs a systemd-journald of the test's own, reachable as
// /dev/log, inside the mount namespace the parent test created. Every
// mount lands in that namespace only: / is made recursively private
// first, and the function refuses to run in the parent's namespace.
func privateJournal(t *testing.T, parentNS string) {
	t.Helper()
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil || self == parentNS {
		t.Fatalf("not in a private mount namespace (%s, parent %s, %v): refusing to mount over /run and /dev", self, parentNS, err)
	}
	mount := func(src, dst, fstype string, flags uintptr, data string) {
		t.Helper()
		if err := syscall.Mount(src, dst, fstype, flags, data); err != nil {
			t.Fatalf("mount %s on %s: %v", src, dst, err)
		}
	}
	mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, "")
	mount("fpmdoctor-run", "/run", "tmpfs", syscall.MS_NOSUID, "mode=0755,size=64m")
	// Storage=volatile below keeps journald out of /var/log/journal; a
	// tmpfs over it also keeps the host's journal out of journalctl's view.
	if fi, err := os.Stat("/var/log/journal"); err == nil && fi.IsDir() {
		mount("fpmdoctor-journal", "/var/log/journal", "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=0755,size=16m")
	}

	// A /dev of our own: the host's devtmpfs is shared by every mount
	// namespace, so /dev/log cannot be added to it without touching the
	// host. Only the nodes the servers and tools use are bound in; no
	// console or kmsg, so journald cannot write to the host's.
	dev := "/run/fpmdoctor-dev"
	if err := os.Mkdir(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	mount("fpmdoctor-dev", dev, "tmpfs", syscall.MS_NOSUID, "mode=0755,size=1m")
	for _, n := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		if err := os.WriteFile(filepath.Join(dev, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		mount("/dev/"+n, filepath.Join(dev, n), "", syscall.MS_BIND, "")
	}
	if err := os.Mkdir(filepath.Join(dev, "shm"), 0o1777); err != nil {
		t.Fatal(err)
	}
	mount("fpmdoctor-shm", filepath.Join(dev, "shm"), "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "mode=1777,size=16m")
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2",
		"log": "/run/systemd/journal/dev-log",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			t.Fatal(err)
		}
	}
	mount(dev, "/dev", "", syscall.MS_MOVE, "")

	for _, d := range []string{"/run/systemd/journal", "/run/log/journal", "/run/systemd/journald.conf.d"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Audit= empty: leave the kernel's audit switch as it is (Debian's
	// default would turn host-wide auditing off). Nothing is forwarded.
	conf := "[Journal]\nStorage=volatile\nReadKMsg=no\nAudit=\nForwardToSyslog=no\nForwardToKMsg=no\nForwardToConsole=no\nForwardToWall=no\n"
	if err := os.WriteFile("/run/systemd/journald.conf.d/fpmdoctor-test.conf", []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	cmd := exec.Command(journaldBin())
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_TARGET=console")
	cmd.Stdout, cmd.Stderr = &out, &out
	// If this process dies (a test timeout), journald goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start systemd-journald: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() string {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		return out.String()
	}
	t.Cleanup(func() { stop() })

	// Ready when a message sent to /dev/log can be read back.
	ready := "fpmdoctor-ready-" + strconv.Itoa(os.Getpid())
	if err := lab.WaitFor(func() bool {
		c, err := net.Dial("unixgram", "/dev/log")
		if err != nil {
			return false
		}
		defer c.Close()
		_, err = c.Write([]byte("<13>" + ready + ": journald is up"))
		return err == nil
	}, 10*time.Second); err != nil {
		t.Fatalf("systemd-journald does not listen on /dev/log:\n%s", stop())
	}
	if err := lab.WaitFor(func() bool { return journalCount(ready, "journald is up") > 0 }, 10*time.Second); err != nil {
		t.Fatalf("systemd-journald does not store messages:\n%s", stop())
	}
}

// journalCount counts the messages of ident containing text.
func journalCount(ident, text string) int {
	out, err := exec.Command("journalctl", "-o", "cat", "-q", "--no-pager", "-t", ident).Output()
	if err != nil {
		return 0
	}
	return strings.Count(string(out), text)
}

// waitForJournal waits until the journal holds text from ident n times.
func waitForJournal(t *testing.T, ident, text string, n int) {
	t.Helper()
	if err := lab.WaitFor(func() bool { return journalCount(ident, text) >= n }, 10*time.Second); err != nil {
		out, _ := exec.Command("journalctl", "-q", "--no-pager", "-t", ident).CombinedOutput()
		t.Fatalf("the journal never held %q from %s %d time(s):\n%s", text, ident, n, out)
	}
}
