package checks_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestProbeSaturatedPoolRealServers: one worker, busy with a slow script
// that real HTTP requests keep feeding; nginx times out (504), and the
// probe, which never runs application code, proves the pool is exhausted
// within its deadline.
func TestProbeSaturatedPoolRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "pm = dynamic\npm.max_children = 5\npm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\n", "pm = static\npm.max_children = 1\n")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 1s;\n        fastcgi_pass")
	l.Start()
	l.MustStatus("/ok.php", 200)

	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { // keeps the only worker busy for 4 s
			defer wg.Done()
			_, _, _ = l.GetTimeout("/sleep.php?s=4", 10*time.Second)
		}()
	}
	defer wg.Wait()
	time.Sleep(300 * time.Millisecond)
	code, _, err := l.GetTimeout("/ok.php", 10*time.Second)
	if err != nil || code != http.StatusGatewayTimeout {
		t.Fatalf("GET /ok.php while saturated: %d %v, want 504", code, err)
	}

	start := time.Now()
	r, _, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}, ProbeTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("diagnose took %s with a 500ms probe deadline", took)
	}
	r = roundTrip(t, r)
	f := finding(t, r, "pool-exhausted", report.Error)
	evidenceText(t, f, report.KindFact, "saturated")
	evidenceText(t, f, report.KindConfig, "pm.max_children = 1")
}

// TestProbeEvidenceAsWorkerUserRealServers: with a root:root 0660 socket
// the probe connects as www-data (nginx's worker user) and is denied, as
// nginx is; the finding carries that live evidence.
func TestProbeEvidenceAsWorkerUserRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen.owner = www-data\nlisten.group = www-data\n", "")
	l.Start()
	l.MustStatus("/ok.php", 502)
	f := finding(t, diagnose(t, l), "socket-permission", report.Error)
	evidenceText(t, f, report.KindFact, "as www-data")
	evidenceText(t, f, report.KindFact, "permission-denied")
}

// TestProbeHealthyAndNoProbe: a healthy pool probes fine; --no-probe is
// listed as skipped, never silently.
func TestProbeHealthyAndNoProbe(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/ok.php", 200)
	noErrors(t, diagnose(t, l))
	r, _, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range r.Skipped {
		found = found || (s.Check == "probe" && strings.Contains(s.Reason, "--no-probe"))
	}
	if !found {
		t.Fatalf("--no-probe not listed as skipped: %+v", r.Skipped)
	}
}
