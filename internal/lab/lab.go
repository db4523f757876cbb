// Package lab runs real nginx and php-fpm in a temporary prefix so tests can
// break them the way production breaks and watch what fpmdoctor says.
//
// A lab needs root (php-fpm and nginx drop their workers to www-data, as on a
// real host) and the Debian binaries. Without them Require skips the test with
// the reason, except in CI (CI=true), where a skipped real-server test would
// hide a missing install step, so it fails instead.
package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/labproc"
)

// Binaries the lab runs; Debian 12 paths.
const (
	NginxBin = "/usr/sbin/nginx"
	FPMBin   = "/usr/sbin/php-fpm8.2"
)

// WorkerUser is the unprivileged user both servers' workers run as.
const WorkerUser = "www-data"

// Missing says why real-server tests cannot run here, or "" when they can.
func Missing() string {
	if os.Geteuid() != 0 {
		return "real-server tests need root (workers drop to www-data)"
	}
	for _, bin := range []string{NginxBin, FPMBin} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Sprintf("%s is not installed (apt-get install nginx php8.2-fpm)", bin)
		}
	}
	return ""
}

// Require skips t when the real servers cannot run, and fails it in CI.
func Require(t testing.TB) {
	t.Helper()
	if why := Missing(); why != "" {
		Unavailable(t, "real-server test: "+why)
	}
}

// Unavailable ends a test that needs something this machine lacks: a skip
// with the reason on a developer's machine, a failure in CI (CI=true),
// where a skip would hide a missing install step.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI must run this test: %s", why)
	}
	t.Skipf("skipping: %s", why)
}

// Lab is one private nginx + php-fpm installation under Dir.
//
// Layout (paths relative to Dir):
//
//	etc/nginx/nginx.conf, etc/nginx/conf.d/*.conf
//	etc/php/fpm/php-fpm.conf, etc/php/fpm/pool.d/*.conf
//	run/   sockets and pid files      log/  error logs
//	www/   document root with small PHP scripts
type Lab struct {
	Dir      string
	HTTPPort int
	t        testing.TB
	netns    string // network namespace the servers run in (netns.go), "" for the host's
}

// Scripts placed in www/ for every lab.
var scripts = map[string]string{
	"ok.php":     "<?php echo \"ok\\n\";\n",
	"sleep.php":  "<?php $s = isset($_GET['s']) ? (float)$_GET['s'] : 1; usleep((int)($s * 1e6)); echo \"slept\\n\";\n",
	"stderr.php": "<?php file_put_contents('php://stderr', \"lab stderr line\\n\"); error_log('lab error_log line'); echo \"ok\\n\";\n",
	"crash.php":  "<?php posix_kill(getmypid(), isset($_GET['sig']) ? (int)$_GET['sig'] : 11); sleep(5);\n",
	"alloc.php":  "<?php ini_set('memory_limit', isset($_GET['limit']) ? $_GET['limit'] : '16M'); $a = []; while (true) { $a[] = str_repeat('x', 1 << 20); }\n",
	"header.php": "<?php $n = isset($_GET['n']) ? (int)$_GET['n'] : 8192; header('X-Big: ' . str_repeat('a', $n)); echo \"ok\\n\";\n",
}

// New creates an empty lab with a default healthy configuration written but
// nothing started. The directory and servers are removed when t ends.
func New(t testing.TB) *Lab {
	t.Helper()
	Require(t)
	// t.TempDir is 0700 and nested under a 0700 parent; www-data must be able
	// to search every directory above the sockets and the docroot.
	dir, err := os.MkdirTemp("/tmp", "fpmlab-")
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("lab: %v", err)
	}
	l := &Lab{Dir: dir, t: t, HTTPPort: FreePort(t)}
	for _, sub := range []string{"etc/nginx/conf.d", "etc/php/fpm/pool.d", "run", "log", "www", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatalf("lab: %v", err)
		}
	}
	for name, body := range scripts {
		l.Write("www/"+name, body)
	}
	l.Write("etc/nginx/nginx.conf", DefaultNginxConf)
	l.Write("etc/nginx/conf.d/site.conf", DefaultSite)
	l.Write("etc/php/fpm/php-fpm.conf", DefaultFPMConf)
	l.Write("etc/php/fpm/pool.d/www.conf", DefaultPool)
	t.Cleanup(func() {
		l.StopNginx()
		l.StopFPM()
		if os.Getenv("FPMDOCTOR_KEEP_LAB") == "" {
			os.RemoveAll(dir)
		} else {
			t.Logf("lab kept at %s", dir)
		}
	})
	return l
}

// DefaultNginxConf is a minimal main config; {{DIR}} is the lab directory.
const DefaultNginxConf = `user www-data;
worker_processes 1;
pid {{DIR}}/run/nginx.pid;
error_log {{DIR}}/log/nginx-error.log;
events { worker_connections 256; }
http {
    access_log {{DIR}}/log/nginx-access.log;
    client_body_temp_path {{DIR}}/tmp/body;
    fastcgi_temp_path {{DIR}}/tmp/fastcgi;
    proxy_temp_path {{DIR}}/tmp/proxy;
    uwsgi_temp_path {{DIR}}/tmp/uwsgi;
    scgi_temp_path {{DIR}}/tmp/scgi;
    include {{DIR}}/etc/nginx/conf.d/*.conf;
}
`

// DefaultSite serves www/ and passes PHP to the www pool's socket.
const DefaultSite = `server {
    listen 127.0.0.1:{{PORT}};
    server_name lab.test;
    root {{DIR}}/www;
    index index.php;

    location ~ \.php$ {
        include /etc/nginx/fastcgi.conf;
        fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;
    }
}
`

// DefaultFPMConf is php-fpm's global section, including every pool file.
const DefaultFPMConf = `[global]
pid = {{DIR}}/run/php-fpm.pid
error_log = {{DIR}}/log/php-fpm.log
daemonize = yes
include = {{DIR}}/etc/php/fpm/pool.d/*.conf
`

// DefaultPool is Debian's stock www pool moved into the lab.
const DefaultPool = `[www]
user = www-data
group = www-data
listen = {{DIR}}/run/php-fpm.sock
listen.owner = www-data
listen.group = www-data
pm = dynamic
pm.max_children = 5
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 3
catch_workers_output = yes
`

// Path returns the absolute path of rel inside the lab.
func (l *Lab) Path(rel string) string { return filepath.Join(l.Dir, rel) }

// NginxConf is the main nginx config file.
func (l *Lab) NginxConf() string { return l.Path("etc/nginx/nginx.conf") }

// FPMConf is the php-fpm main config file.
func (l *Lab) FPMConf() string { return l.Path("etc/php/fpm/php-fpm.conf") }

// Expand replaces {{DIR}} and {{PORT}} in s.
func (l *Lab) Expand(s string) string {
	return strings.NewReplacer("{{DIR}}", l.Dir, "{{PORT}}", strconv.Itoa(l.HTTPPort)).Replace(s)
}

// Write writes content (after Expand) to rel and returns the absolute path.
func (l *Lab) Write(rel, content string) string {
	l.t.Helper()
	p := l.Path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatalf("lab: %v", err)
	}
	if err := os.WriteFile(p, []byte(l.Expand(content)), 0o644); err != nil {
		l.t.Fatalf("lab: %v", err)
	}
	return p
}

// Edit replaces old with new (both expanded) in rel; the text must be there.
func (l *Lab) Edit(rel, old, new string) {
	l.t.Helper()
	p := l.Path(rel)
	b, err := os.ReadFile(p)
	if err != nil {
		l.t.Fatalf("lab: %v", err)
	}
	o, n := l.Expand(old), l.Expand(new)
	if !strings.Contains(string(b), o) {
		l.t.Fatalf("lab: %s does not contain %q", rel, o)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(b), o, n, 1)), 0o644); err != nil {
		l.t.Fatalf("lab: %v", err)
	}
}

// StartFPM starts php-fpm on the lab config and waits until it is ready
// (php-fpm's daemonizing parent exits only when the master is ready).
func (l *Lab) StartFPM() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := l.command(ctx, FPMBin, "--fpm-config", l.FPMConf(), "--prefix", l.Dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("start php-fpm: %w: %s", err, out)
	}
	return nil
}

// StartFPMForeground starts php-fpm the way systemd runs it, with
// --nodaemonize, as a child of the test: a reload (SIGUSR2) then
// re-executes the master in place, keeping its pid and start time, where a
// daemonized master forks a new one. It returns once the master runs its
// workers.
func (l *Lab) StartFPMForeground() {
	l.t.Helper()
	cmd := exec.Command(FPMBin, "--nodaemonize", "--fpm-config", l.FPMConf(), "--prefix", l.Dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		l.t.Fatalf("lab: start php-fpm --nodaemonize: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }() // reaps it whenever it stops
	err := WaitFor(func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		return l.FPMPid() == cmd.Process.Pid && len(children(cmd.Process.Pid)) > 0
	}, 10*time.Second)
	select {
	case <-exited:
		l.t.Fatalf("lab: php-fpm --nodaemonize exited: %s", out.String())
	default:
	}
	if err != nil {
		l.t.Fatalf("lab: php-fpm --nodaemonize did not start its workers: %v", err)
	}
}

// MustStartFPM is StartFPM that fails the test.
func (l *Lab) MustStartFPM() {
	l.t.Helper()
	if err := l.StartFPM(); err != nil {
		l.t.Fatal(err)
	}
}

// StartNginx starts nginx on the lab config.
func (l *Lab) StartNginx() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := l.command(ctx, NginxBin, "-c", l.NginxConf(), "-p", l.Dir+"/").CombinedOutput()
	if err != nil {
		return fmt.Errorf("start nginx: %w: %s", err, out)
	}
	if err := WaitFor(func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		c, err := l.dial(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", l.HTTPPort))
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second); err != nil {
		return fmt.Errorf("nginx does not accept connections: %w", err)
	}
	// The master listens before it forks its workers: wait for them, so
	// tests see nginx as it runs, workers' credentials included.
	if err := WaitFor(func() bool { return labproc.NginxWorkerUp(l.NginxPid()) }, 10*time.Second); err != nil {
		return fmt.Errorf("nginx started no worker: %w", err)
	}
	return nil
}

// children lists the pids whose parent is pid.
func children(pid int) []int { return labproc.Children(pid) }

// MustStartNginx is StartNginx that fails the test.
func (l *Lab) MustStartNginx() {
	l.t.Helper()
	if err := l.StartNginx(); err != nil {
		l.t.Fatal(err)
	}
}

// Start starts php-fpm then nginx, failing the test on error.
func (l *Lab) Start() {
	l.t.Helper()
	l.MustStartFPM()
	l.MustStartNginx()
}

// FPMPid is the php-fpm master's pid from its pid file (0 if not running).
func (l *Lab) FPMPid() int { return readPid(l.Path("run/php-fpm.pid")) }

// NginxPid is the nginx master's pid from its pid file (0 if not running).
func (l *Lab) NginxPid() int { return readPid(l.Path("run/nginx.pid")) }

// StopFPM stops php-fpm gracefully (SIGQUIT) and waits for the master to go.
func (l *Lab) StopFPM() { stop(l.FPMPid(), syscall.SIGQUIT, false) }

// KillFPM kills the php-fpm master and its workers with SIGKILL, as the OOM
// killer or `kill -9` would: the socket file stays behind.
func (l *Lab) KillFPM() { stop(l.FPMPid(), syscall.SIGKILL, true) }

// ReloadFPM asks php-fpm to reload (SIGUSR2), as `systemctl reload` does,
// and waits until the new workers have started.
func (l *Lab) ReloadFPM() {
	l.t.Helper()
	pid := l.FPMPid()
	if pid == 0 {
		l.t.Fatal("lab: php-fpm is not running")
	}
	if err := syscall.Kill(pid, syscall.SIGUSR2); err != nil {
		l.t.Fatalf("lab: reload php-fpm: %v", err)
	}
	// php-fpm re-execs itself; wait until the log says it is ready again.
	if err := WaitFor(func() bool {
		b, _ := os.ReadFile(l.Path("log/php-fpm.log"))
		s := string(b)
		i := strings.LastIndex(s, "Reloading in progress")
		return i >= 0 && strings.Contains(s[i:], "ready to handle connections")
	}, 10*time.Second); err != nil {
		l.t.Fatalf("lab: php-fpm did not come back after reload: %v", err)
	}
}

// StopNginx stops nginx (SIGQUIT) and waits.
func (l *Lab) StopNginx() { stop(l.NginxPid(), syscall.SIGQUIT, false) }

// Get requests path from the lab's nginx and returns the status and body.
func (l *Lab) Get(path string) (int, string, error) {
	return l.GetTimeout(path, 15*time.Second)
}

// GetTimeout is Get with a client deadline.
func (l *Lab) GetTimeout(path string, d time.Duration) (int, string, error) {
	client := &http.Client{Timeout: d}
	if l.netns != "" {
		client.Transport = &http.Transport{DialContext: l.dial, DisableKeepAlives: true}
	}
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", l.HTTPPort, path), nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = "lab.test"
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(body), err
}

// MustStatus requests path and fails the test unless nginx answers want.
func (l *Lab) MustStatus(path string, want int) string {
	l.t.Helper()
	code, body, err := l.Get(path)
	if err != nil {
		l.t.Fatalf("GET %s: %v", path, err)
	}
	if code != want {
		log, _ := os.ReadFile(l.Path("log/nginx-error.log"))
		l.t.Fatalf("GET %s: status %d, want %d; body %q\nnginx error log:\n%s", path, code, want, body, tail(string(log), 2000))
	}
	return body
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := labproc.FreePort()
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	return port
}

func readPid(path string) int { return labproc.ReadPid(path) }

func stop(pid int, sig syscall.Signal, group bool) { labproc.Stop(pid, sig, group) }

// WaitFor polls cond every 20 ms until it holds or d passes.
func WaitFor(cond func() bool, d time.Duration) error {
	return labproc.WaitFor(context.Background(), cond, d)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Load sends n GET requests for path, at most concurrency at a time, and
// returns how many got each status (0 counts transport errors). Bounded
// in count and time: every request has the given deadline.
func (l *Lab) Load(path string, n, concurrency int, deadline time.Duration) map[int]int {
	counts := map[int]int{}
	var mu sync.Mutex
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			code, _, err := l.GetTimeout(path, deadline)
			if err != nil {
				code = 0
			}
			mu.Lock()
			counts[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts
}

// LimitFPMMemory moves the running php-fpm master and workers into a new
// cgroup (v1 memory controller) limited to limit bytes, so a script that
// allocates without bounds is killed by the kernel's OOM killer, as on a
// host or container that runs out of memory. It returns "" when the
// controller is not available here (the caller skips), and removes the
// cgroup when the test ends.
func (l *Lab) LimitFPMMemory(limit int64) string {
	l.t.Helper()
	// cgroup v1's memory controller, else cgroup v2 with memory enabled
	// for children of the root.
	base, limitFile := "/sys/fs/cgroup/memory", "memory.limit_in_bytes"
	if _, err := os.Stat(filepath.Join(base, limitFile)); err != nil {
		base, limitFile = "/sys/fs/cgroup", "memory.max"
		ctl, err := os.ReadFile(filepath.Join(base, "cgroup.controllers"))
		if err != nil || !strings.Contains(string(ctl), "memory") {
			return ""
		}
		_ = os.WriteFile(filepath.Join(base, "cgroup.subtree_control"), []byte("+memory"), 0o644)
	}
	cg := filepath.Join(base, filepath.Base(l.Dir))
	if err := os.Mkdir(cg, 0o755); err != nil {
		l.t.Fatalf("lab: cgroup: %v", err)
	}
	l.t.Cleanup(func() {
		// Move survivors back to the root so the cgroup can go.
		b, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
		for _, pid := range strings.Fields(string(b)) {
			_ = os.WriteFile(filepath.Join(base, "cgroup.procs"), []byte(pid), 0o644)
		}
		_ = os.Remove(cg)
	})
	if err := os.WriteFile(filepath.Join(cg, limitFile), []byte(strconv.FormatInt(limit, 10)), 0o644); err != nil {
		l.t.Fatalf("lab: cgroup limit: %v", err)
	}
	master := l.FPMPid()
	if master == 0 {
		l.t.Fatal("lab: php-fpm is not running")
	}
	pids := append([]int{master}, children(master)...)
	for _, pid := range pids {
		if err := os.WriteFile(filepath.Join(cg, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0o644); err != nil {
			l.t.Fatalf("lab: move %d into cgroup: %v", pid, err)
		}
	}
	return cg
}

// ReloadNginx asks nginx to reload (SIGHUP) and waits until all its
// workers are new ones: nginx replaces every worker on reload.
func (l *Lab) ReloadNginx() {
	l.t.Helper()
	pid := l.NginxPid()
	if pid == 0 {
		l.t.Fatal("lab: nginx is not running")
	}
	old := map[int]bool{}
	for _, c := range children(pid) {
		old[c] = true
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		l.t.Fatalf("lab: reload nginx: %v", err)
	}
	if err := WaitFor(func() bool {
		kids := children(pid)
		if len(kids) == 0 {
			return false
		}
		for _, c := range kids {
			if old[c] {
				return false
			}
		}
		return true
	}, 10*time.Second); err != nil {
		l.t.Fatalf("lab: nginx did not replace its workers after reload: %v", err)
	}
}

// MustLimitFPMMemory is LimitFPMMemory for tests that cannot run without
// the limit: it skips where no memory controller exists, except in CI,
// where the test must run.
func (l *Lab) MustLimitFPMMemory(limit int64) string {
	l.t.Helper()
	cg := l.LimitFPMMemory(limit)
	if cg == "" {
		Unavailable(l.t, "no cgroup memory controller on this machine to limit php-fpm with")
	}
	return cg
}

// WaitForLog waits until the lab log rel holds text at least n times, and
// fails the test after 10 s. Servers write some lines only after nginx has
// answered (php-fpm logs a worker's death when it reaps the child, its
// pm.max_children warning at its next once-a-second maintenance).
func (l *Lab) WaitForLog(rel, text string, n int) {
	l.t.Helper()
	if err := WaitFor(func() bool {
		b, _ := os.ReadFile(l.Path(rel))
		return strings.Count(string(b), text) >= n
	}, 10*time.Second); err != nil {
		l.t.Fatalf("%s never said %q %d time(s)", rel, text, n)
	}
}

// ConfigSums fingerprints every file under the lab's etc/: the sha256 and
// mode of regular files, the target of links. Tests compare two of them to
// prove a command changed nothing.
func (l *Lab) ConfigSums() map[string]string {
	l.t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(l.Path("etc"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[p] = "link:" + target
		case info.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(b)
			out[p] = fmt.Sprintf("%s %o", hex.EncodeToString(h[:]), info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("lab: %v", err)
	}
	return out
}

// WriteDeadServersUpstream writes, for tests of nginx's failover, a second
// php-fpm config, left stopped, with pool "two" on 127.0.0.1:DEAD and pool
// "three" on run/php-fpm3.sock, and a site whose fastcgi_pass goes through
// upstream php to those two dead servers and then the lab's own pool,
// each max_fails=0 so nginx tries the dead ones for every request. It
// returns the second config's path.
func (l *Lab) WriteDeadServersUpstream() string {
	dead := FreePort(l.t)
	fpmConf := l.Write("etc/php/fpm2/php-fpm.conf", "[global]\npid = {{DIR}}/run/php-fpm2.pid\nerror_log = {{DIR}}/log/php-fpm2.log\ninclude = {{DIR}}/etc/php/fpm2/pool.d/*.conf\n")
	l.Write("etc/php/fpm2/pool.d/two.conf", strings.NewReplacer("[www]", "[two]", "{{DIR}}/run/php-fpm.sock", fmt.Sprintf("127.0.0.1:%d", dead)).Replace(DefaultPool))
	l.Write("etc/php/fpm2/pool.d/three.conf", strings.NewReplacer("[www]", "[three]", "run/php-fpm.sock", "run/php-fpm3.sock").Replace(DefaultPool))
	l.Write("etc/nginx/conf.d/site.conf", fmt.Sprintf("upstream php {\n    server 127.0.0.1:%d max_fails=0;\n    server unix:{{DIR}}/run/php-fpm3.sock max_fails=0;\n    server unix:{{DIR}}/run/php-fpm.sock max_fails=0;\n}\n", dead)+
		strings.Replace(DefaultSite, "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass php;", 1))
	return fpmConf
}

// WriteFailoverUpstream writes a site whose fastcgi_pass goes through
// upstream php to a TCP port where nothing listens and no pool is
// configured, then the lab's own pool: nginx fails over and every request
// gets 200. It returns the dead address.
func (l *Lab) WriteFailoverUpstream() string {
	dead := fmt.Sprintf("127.0.0.1:%d", FreePort(l.t))
	l.Write("etc/nginx/conf.d/site.conf", "upstream php {\n    server "+dead+";\n    server unix:{{DIR}}/run/php-fpm.sock;\n}\n"+
		strings.Replace(DefaultSite, "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass php;", 1))
	return dead
}

// WritePassToOwnHTTPListener writes the not-fastcgi setup: the pool
// listens on 127.0.0.1:FPM, and the site's fastcgi_pass names
// 127.0.0.1:HTTP, a second server of the lab's nginx that answers plain
// HTTP (status.lab.test). It returns HTTP and FPM.
func (l *Lab) WritePassToOwnHTTPListener() (httpPort, fpmPort int) {
	httpPort, fpmPort = FreePort(l.t), FreePort(l.t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = {{DIR}}/run/php-fpm.sock", "listen = 127.0.0.1:"+strconv.Itoa(fpmPort))
	site := strings.Replace(DefaultSite, "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", fmt.Sprintf("fastcgi_pass 127.0.0.1:%d;", httpPort), 1)
	status := fmt.Sprintf("server {\n    listen 127.0.0.1:%d;\n    server_name status.lab.test;\n    location / { return 200 \"ok\\n\"; }\n}\n", httpPort)
	l.Write("etc/nginx/conf.d/site.conf", site+status)
	return httpPort, fpmPort
}
