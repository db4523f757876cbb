package follow

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// Debian's /etc/logrotate.d/nginx (and php8.2-fpm's, which has no create
// line: php-fpm makes the new file when it reopens), on a lab's log.
// Fields: the log, the mode line ("create ...", "copytruncate" or none),
// the pid file of the master to send USR1 (reopen) to.
const logrotateConf = `%s {
	daily
	missingok
	rotate 14
	compress
	delaycompress
	notifempty
	%s
	sharedscripts
	postrotate
		kill -USR1 $(cat %s)
	endscript
}
`

// realRotation describes one server's log for testRealRotation.
type realRotation struct {
	log, pid string            // lab paths of the log and of the master's pid file
	request  func(i int) error // makes the server log one line naming i
	number   *regexp.Regexp    // finds i in a delivered line
	async    bool              // the line is written after the response: wait to see it before rotating
	start    func(l *lab.Lab)  // starts the server
	mode     string            // logrotate mode line
	check    func(t *testing.T, st Stats, rotations int)
}

// testRealRotation makes 400 requests, each logging one line with its
// number, and runs real logrotate every 50 while a Follower polls: every
// number must be delivered once, in order.
func testRealRotation(t *testing.T, l *lab.Lab, r realRotation) {
	logrotate, err := exec.LookPath("logrotate")
	if err != nil {
		lab.Unavailable(t, "logrotate is not installed (apt-get install logrotate)")
	}
	r.start(l)
	path := l.Path(r.log)
	conf := l.Write("etc/logrotate.conf", fmt.Sprintf(logrotateConf, path, r.mode, l.Path(r.pid)))
	f := New(path, Options{})
	defer f.Close()

	const requests, every = 400, 50
	var seen atomic.Int64 // highest number delivered, +1
	done := make(chan struct{})
	var c collector
	go func() {
		defer close(done)
		for i := range requests {
			if err := r.request(i); err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			if i%every != every-1 {
				continue
			}
			if r.async {
				// php-fpm's master logs a child's stderr when it reads
				// its pipe: wait for the line rather than lose it to
				// copytruncate's own window between copy and truncate.
				deadline := time.Now().Add(30 * time.Second)
				for seen.Load() <= int64(i) && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
			}
			c.waitPolls()
			out, err := exec.Command(logrotate, "-f", "-s", l.Path("tmp/logrotate.state"), conf).CombinedOutput()
			if err != nil {
				t.Errorf("logrotate: %v\n%s", err, out)
				return
			}
		}
	}()
	next := 0
	c.onLine = func(line string) {
		m := r.number.FindStringSubmatch(line)
		if m == nil {
			return
		}
		n, _ := strconv.Atoi(m[1])
		if n != next {
			t.Errorf("request %d's line delivered when %d's was expected", n, next)
		}
		next = n + 1
		seen.Store(int64(next))
	}
	c.pollWhile(t, f, done)
	// The writers reopen after the master got USR1, and php-fpm writes
	// children's output late: poll until the last line is in.
	for deadline := time.Now().Add(30 * time.Second); next < requests && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		c.poll(t, f)
	}
	if next != requests {
		t.Errorf("%d of %d requests' lines delivered", next, requests)
	}
	st := f.Stats()
	rotated, _ := filepath.Glob(path + ".*")
	t.Logf("stats %+v; rotated files %d", st, len(rotated))
	// logrotate skips an empty log (notifempty): when the workers reopen
	// late, a round's lines all went to the old file. Count what it did.
	if len(rotated) < 4 {
		t.Errorf("logrotate rotated %d times", len(rotated))
	}
	r.check(t, st, len(rotated))
	if _, err := os.Stat(path + ".2.gz"); err != nil {
		t.Errorf("logrotate did not compress: %v", err)
	}
}

// TestRealNginxLogrotate follows a real nginx's error log while real
// logrotate rotates it, both ways Debian configures it. Every request gets
// a 502 (php-fpm is not started) and one error line naming its number.
func TestRealNginxLogrotate(t *testing.T) {
	for _, mode := range []string{"create 0640 www-data adm", "copytruncate"} {
		t.Run(strings.Fields(mode)[0], func(t *testing.T) {
			l := lab.New(t)
			testRealRotation(t, l, realRotation{
				log: "log/nginx-error.log", pid: "run/nginx.pid", mode: mode,
				start: func(l *lab.Lab) { l.MustStartNginx() },
				request: func(i int) error {
					code, _, err := l.Get(fmt.Sprintf("/x.php?n=%d", i))
					if err == nil && code != 502 {
						err = fmt.Errorf("status %d, want 502", code)
					}
					return err
				},
				number: regexp.MustCompile(`request: "GET /x\.php\?n=(\d+) HTTP/1\.1"`),
				check: func(t *testing.T, st Stats, n int) {
					if mode == "copytruncate" && (st.Truncates != int64(n) || st.Recovered != int64(n) || st.Unmatched != 0) {
						t.Errorf("%d rotations; truncations: %+v", n, st)
					}
					if mode != "copytruncate" && st.Renames != int64(n) {
						t.Errorf("%d rotations; renames: %+v", n, st)
					}
				},
			})
		})
	}
}

// TestRealFPMLogrotate does the same with a real php-fpm's error log: each
// request's script writes its number to stderr, which php-fpm's master
// logs (catch_workers_output). Debian rotates it without create: php-fpm
// creates the new file when USR1 makes it reopen.
func TestRealFPMLogrotate(t *testing.T) {
	for _, mode := range []string{"", "copytruncate"} {
		name := mode
		if name == "" {
			name = "rename"
		}
		t.Run(name, func(t *testing.T) {
			l := lab.New(t)
			// One child: the master reads each child's pipe on its own, so
			// two children's lines can be logged out of request order.
			l.Edit("etc/php/fpm/pool.d/www.conf", "pm = dynamic", "pm = static")
			l.Edit("etc/php/fpm/pool.d/www.conf", "pm.max_children = 5", "pm.max_children = 1")
			l.Write("www/n.php", `<?php file_put_contents('php://stderr', "follow-test n=" . (int)$_GET['n'] . "\n"); echo "ok\n";`+"\n")
			testRealRotation(t, l, realRotation{
				log: "log/php-fpm.log", pid: "run/php-fpm.pid", mode: mode, async: true,
				start: func(l *lab.Lab) { l.Start() },
				request: func(i int) error {
					code, _, err := l.Get(fmt.Sprintf("/n.php?n=%d", i))
					if err == nil && code != 200 {
						err = fmt.Errorf("status %d, want 200", code)
					}
					return err
				},
				number: regexp.MustCompile(`said into stderr: "follow-test n=(\d+)"`),
				check: func(t *testing.T, st Stats, n int) {
					if mode == "copytruncate" && (st.Truncates != int64(n) || st.Unmatched != 0) {
						t.Errorf("%d rotations; truncations: %+v", n, st)
					}
					if mode == "" && st.Renames != int64(n) {
						t.Errorf("%d rotations; renames: %+v", n, st)
					}
				},
			})
		})
	}
}
