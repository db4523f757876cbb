package checks_test

import (
	"context"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/fix"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestPastOutageRealServers: nginx logged (111: Connection refused) while
// php-fpm was down, and php-fpm runs again now. The failures are reported
// as an outage earlier in the window, under the cause they point at: a
// stale socket file on a unix socket, php-fpm down on a TCP port. Over
// means info: fix has nothing to do for it and does not list it.
func TestPastOutageRealServers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, cause string
		tcp         bool
	}{
		{"unix", "stale-socket", false},
		{"tcp", "fpm-down", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := lab.New(t)
			if tc.tcp {
				port := itoa(lab.FreePort(t))
				l.Edit("etc/php/fpm/pool.d/www.conf", "listen = {{DIR}}/run/php-fpm.sock", "listen = 127.0.0.1:"+port)
				l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass 127.0.0.1:"+port+";")
			}
			l.Start()
			l.KillFPM() // a unix socket file stays behind
			l.MustStatus("/ok.php", 502)
			l.MustStartFPM()
			l.MustStatus("/ok.php", 200)

			r, snap, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}})
			if err != nil {
				t.Fatal(err)
			}
			plan, err := fix.Make(snap, r)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range plan.Manual {
				if m.Finding.Cause == tc.cause {
					t.Fatalf("fix lists the past outage as not fixed automatically: %+v", m)
				}
			}
			r = roundTrip(t, r)
			f := finding(t, r, tc.cause, report.Info)
			if f.ID != tc.cause+"-past" {
				t.Fatalf("finding %s, want %s-past\n%s", f.ID, tc.cause, dump(r))
			}
			evidenceText(t, f, report.KindLog, "(111: Connection refused)")
			noErrors(t, r)
		})
	}
}
