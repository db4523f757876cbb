package follow

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// Debian's /etc/logrotate.d/nginx, on the lab's log; %s is the mode:
// "create" with nginx's USR1 reopen, or "copytruncate".
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

// TestRealNginxLogrotate follows a real nginx's error log while real
// logrotate rotates it, both ways Debian configures it. Every request gets
// a 502 (php-fpm is not started) and one error line naming its number:
// each must be delivered once, in order.
func TestRealNginxLogrotate(t *testing.T) {
	for _, mode := range []string{"create 0640 www-data adm", "copytruncate"} {
		t.Run(strings.Fields(mode)[0], func(t *testing.T) {
			l := lab.New(t)
			logrotate, err := exec.LookPath("logrotate")
			if err != nil {
				lab.Unavailable(t, "logrotate is not installed (apt-get install logrotate)")
			}
			l.MustStartNginx()
			path := l.Path("log/nginx-error.log")
			conf := l.Write("etc/logrotate.conf", fmt.Sprintf(logrotateConf, path, mode, l.Path("run/nginx.pid")))
			f := New(path, Options{})
			defer f.Close()

			const requests, every = 400, 50
			done := make(chan struct{})
			var c collector
			go func() {
				defer close(done)
				for i := range requests {
					if code, _, err := l.Get(fmt.Sprintf("/x.php?n=%d", i)); err != nil || code != 502 {
						t.Errorf("request %d: %d %v", i, code, err)
						return
					}
					if i%every == every-1 {
						c.waitPolls()
						out, err := exec.Command(logrotate, "-f", "-s", l.Path("tmp/logrotate.state"), conf).CombinedOutput()
						if err != nil {
							t.Errorf("logrotate: %v\n%s", err, out)
							return
						}
					}
				}
			}()
			c.pollWhile(t, f, done)
			// nginx's workers reopen after the master got USR1: the last
			// lines may reach the old file after logrotate returned.
			c.poll(t, f)

			re := regexp.MustCompile(`request: "GET /x\.php\?n=(\d+) HTTP/1\.1"`)
			next := 0
			for _, line := range c.lines {
				m := re.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				n, _ := strconv.Atoi(m[1])
				if n != next {
					t.Fatalf("request %d's line delivered when %d's was expected", n, next)
				}
				next++
			}
			if next != requests {
				t.Errorf("%d of %d requests' lines delivered", next, requests)
			}
			st := f.Stats()
			rotated, _ := filepath.Glob(path + ".*")
			t.Logf("stats %+v; rotated files %d", st, len(rotated))
			if mode == "copytruncate" && (st.Truncates != requests/every || st.Unmatched != 0) {
				t.Errorf("truncations: %+v", st)
			}
			if mode != "copytruncate" && st.Renames != requests/every {
				t.Errorf("renames: %+v", st)
			}
			if _, err := os.Stat(path + ".2.gz"); err != nil {
				t.Errorf("logrotate did not compress: %v", err)
			}
		})
	}
}
