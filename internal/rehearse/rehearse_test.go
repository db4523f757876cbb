package rehearse_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/labproc"
	"github.com/fpmdoctor/fpmdoctor/internal/rehearse"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

func diagnose(ctx context.Context, nginxConf string, fpmConfs []string) (*report.Report, error) {
	r, _, err := doctor.Diagnose(ctx, doctor.Options{NginxConf: nginxConf, FPMConfs: fpmConfs, Since: 10 * time.Minute})
	return r, err
}

// run rehearses tree in a lab directory of the test's and checks that the
// lab is gone afterwards, its servers with it.
func run(t *testing.T, ctx context.Context, tree string, keep bool) (*rehearse.Result, string, error) {
	t.Helper()
	return runSource(t, ctx, rehearse.Source{Root: tree}, keep)
}

// runSource is run for any source (a mapped repository).
func runSource(t *testing.T, ctx context.Context, src rehearse.Source, keep bool) (*rehearse.Result, string, error) {
	t.Helper()
	lab.Require(t)
	dir := labDir(t)
	res, err := rehearse.Run(ctx, rehearse.Options{Dir: dir, Keep: keep}, src, 15*time.Second, diagnose)
	if !keep {
		assertGone(t, dir, res)
	}
	return res, dir, err
}

// labDir is a path for a lab the workers can reach (t.TempDir is 0700).
func labDir(t *testing.T) string {
	base, err := os.MkdirTemp("", "rehearse-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(base, "lab")
}

// assertGone: the directory is removed and no server it started runs.
func assertGone(t *testing.T, dir string, res *rehearse.Result) {
	t.Helper()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("lab directory %s left behind (%v)", dir, err)
	}
	b, _ := exec("pgrep", "-f", dir)
	if strings.TrimSpace(b) != "" {
		t.Errorf("processes of the lab still run: %s", b)
	}
}

// allAnswered checks that the PHP sites are exactly want, in order, and
// that each answered 200 through nginx with the probe run in php-fpm.
func allAnswered(t *testing.T, res *rehearse.Result, want ...string) {
	t.Helper()
	var names []string
	for _, s := range res.Sites {
		names = append(names, s.Name)
		if s.Status != 200 || !s.Probe {
			t.Errorf("%s: status %d, probe ran %v (%s); nginx: %q", s.Name, s.Status, s.Probe, s.Error, s.NginxLog)
		}
	}
	if !slices.Equal(names, want) {
		t.Errorf("PHP sites %v, want %v", names, want)
	}
}

func causes(s rehearse.SiteResult) []string {
	var out []string
	for _, c := range s.Causes {
		out = append(out, c.Cause)
	}
	return out
}

// A broken tree gives the real 502, nginx's own log line and the cause.
func TestLabBrokenTrees(t *testing.T) {
	for _, tc := range []struct {
		tree, cause, log string
		status           int // 0: the real 502
	}{
		// PHP upgraded 7.4 → 8.2; the site still passes to 7.4's socket.
		{"../../examples/php-upgrade", "listen-mismatch", "(2: No such file or directory) while connecting to upstream", 0},
		// The socket is root's, mode 0660: nginx's www-data workers are refused.
		{"testdata/socket-permission", "socket-permission", "(13: Permission denied) while connecting to upstream", 0},
		// pm.max_spare_servers < pm.min_spare_servers: php-fpm refuses to start.
		{"testdata/invalid-pm", "fpm-config-invalid", "(2: No such file or directory) while connecting to upstream", 0},
		// RHEL layout (/etc/php-fpm.conf, /etc/php-fpm.d, users nginx and
		// apache): pm.start_servers above pm.max_spare_servers.
		{"../../examples/rhel-invalid-pool", "fpm-config-invalid", "(2: No such file or directory) while connecting to upstream", 0},
		// A typo in a directive's name: fpmdoctor's parser cannot know
		// every module's directives, the real nginx refuses to start.
		{"testdata/nginx-invalid", "nginx-config-invalid", `unknown directive "fastcgi_read_timout" in /etc/nginx/sites-enabled/default:13`, -1},
	} {
		t.Run(filepath.Base(tc.tree), func(t *testing.T) {
			res, _, err := run(t, context.Background(), tc.tree, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Sites) != 1 {
				t.Fatalf("%d sites, want 1: %+v", len(res.Sites), res.Sites)
			}
			s := res.Sites[0]
			if want := map[int]int{0: 502, -1: 0}[tc.status]; s.Status != want {
				t.Errorf("%s answered %d (%s), want %d", s.Name, s.Status, s.Error, want)
			}
			if tc.status == 0 && !slices.ContainsFunc(s.NginxLog, func(l string) bool { return strings.Contains(l, tc.log) }) {
				t.Errorf("no nginx log line with %q: %q", tc.log, s.NginxLog)
			}
			if tc.status != 0 && !slices.ContainsFunc(res.Start, func(l string) bool { return strings.Contains(l, tc.log) }) {
				t.Errorf("no start error with %q: %q", tc.log, res.Start)
			}
			if !slices.Contains(causes(s), tc.cause) {
				t.Errorf("causes %v, want %s", causes(s), tc.cause)
			}
			if n := strings.Count(strings.Join(causes(s), " "), tc.cause); n != 1 {
				t.Errorf("cause %s attached %d times: %+v", tc.cause, n, s.Causes)
			}
			if res.ExitCode() != 1 {
				t.Errorf("exit code %d, want 1", res.ExitCode())
			}
		})
	}
}

// A healthy WordPress-style tree (includes, the fastcgi-php snippet, an
// upstream with the pool's socket, a TCP pool on another port, a pool user
// the host lacks) answers 200 through nginx for every PHP site, and the
// probe ran in php-fpm.
func TestLabHealthyWordPress(t *testing.T) {
	res, _, err := run(t, context.Background(), "testdata/wordpress", false)
	if err != nil {
		t.Fatal(err)
	}
	allAnswered(t, res, "blog.example.org", "secure.example.org", "shop.example.org")
	if res.ExitCode() != 0 || len(res.Start) != 0 {
		t.Errorf("exit code %d, start errors %q", res.ExitCode(), res.Start)
	}
	want := map[string]bool{"port 9001": false, "port 80": false, "port 8080": false, "user wpblog": false, "group wpblog": false,
		"dropped listen [::]:80": false, "socket /run/php/php8.2-fpm-blog.sock": false, "path /var/log/php-fpm/blog-slow.log": false}
	for _, m := range res.Mappings {
		k := m.Kind + " " + m.From
		if _, ok := want[k]; ok {
			want[k] = true
		}
		if m.Kind == "port" && !strings.HasPrefix(m.To, "127.0.0.1:") {
			t.Errorf("port %s mapped off loopback: %s", m.From, m.To)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("mapping lacks %q: %+v", k, res.Mappings)
		}
	}
}

// The official Docker images' layout: php-fpm under /usr/local with a
// relative include and the port-only listen = 9000, nginx passing to
// 127.0.0.1:9000. The lab answers 200 and the diagnosis of the running lab
// finds nothing (it must learn the pool from the relative include).
func TestLabHealthyDocker(t *testing.T) {
	res, _, err := run(t, context.Background(), "../../examples/docker-tcp", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sites) != 1 || res.Sites[0].Status != 200 || !res.Sites[0].Probe {
		t.Fatalf("sites: %+v", res.Sites)
	}
	if len(res.Report.Findings) != 0 || res.ExitCode() != 0 {
		t.Errorf("exit %d, findings %+v", res.ExitCode(), res.Report.Findings)
	}
}

// --keep leaves the lab answering; `lab stop DIR` stops it and removes it.
func TestLabKeepAndStop(t *testing.T) {
	res, dir, err := run(t, context.Background(), "testdata/stock", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rehearse.StopDir(dir) })
	if res.Stop != "fpmdoctor lab stop "+dir || !res.Kept {
		t.Errorf("stop command %q", res.Stop)
	}
	if _, err := rehearse.New(context.Background(), rehearse.Options{Dir: filepath.Join(t.TempDir(), "lab")}); err == nil || !strings.Contains(err.Error(), "could not reach") {
		t.Errorf("a lab below a 0700 directory: %v", err)
	}
	if n := labproc.ReadPid(filepath.Join(dir, "run", "nginx.pid")); n == 0 {
		t.Fatal("kept lab's nginx is not running")
	}
	if err := rehearse.StopDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a lab directory") {
		t.Errorf("StopDir on a plain directory: %v", err)
	}
	if err := rehearse.StopDir(dir); err != nil {
		t.Fatal(err)
	}
	assertGone(t, dir, res)
}

// Cancelling the run (Ctrl-C) while the servers run still stops them and
// removes the lab, with --keep too: no result names the lab.
func TestLabCancelled(t *testing.T) {
	lab.Require(t)
	for _, keep := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		dir := labDir(t)
		go func() {
			// Once nginx runs, cancel (as signal.NotifyContext does on Ctrl-C).
			_ = labproc.WaitFor(ctx, func() bool { return labproc.ReadPid(filepath.Join(dir, "run", "nginx.pid")) != 0 }, 20*time.Second)
			cancel()
		}()
		_, err := rehearse.Run(ctx, rehearse.Options{Dir: dir, Keep: keep}, rehearse.Source{Root: "testdata/stock"}, 15*time.Second,
			func(ctx context.Context, n string, f []string) (*report.Report, error) {
				<-ctx.Done() // the diagnosis is where the run waits for the cancel
				return nil, ctx.Err()
			})
		cancel()
		if err == nil {
			t.Errorf("keep %v: a cancelled run reported success", keep)
		}
		assertGone(t, dir, nil)
	}
}
