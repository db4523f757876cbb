package checks_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/checks"
	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// TestLackingFactMarksStepRealServers: the socket file is left behind by a
// killed php-fpm, but the kernel's listening sockets could not be read. Then
// stale-socket must not run (it would call a live socket stale), it is
// listed under skipped, and no site shows its socket step as checked.
func TestLackingFactMarksStepRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.KillFPM()
	l.MustStatus("/ok.php", 502)

	_, s, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}})
	if err != nil {
		t.Fatal(err)
	}
	// What gather does when /proc/net/unix cannot be read.
	s.Listeners = nil
	s.Lack(snapshot.FactSockets, "cannot read listening sockets: permission denied")
	r, outcomes := checks.RunOutcomes(s)
	for _, f := range r.Findings {
		if f.ID == "stale-socket" || f.ID == "stale-socket-past" {
			t.Fatalf("stale-socket ran, or its logged failures were called over, without the listening sockets:\n%s", dump(r))
		}
	}
	logged := finding(t, r, "stale-socket", report.Warning)
	if logged.ID != "stale-socket-logged" || !strings.Contains(logged.Title, "could not be checked") {
		t.Fatalf("the logged failure does not say the cause could not be checked:\n%s", dump(r))
	}
	skippedWhy := ""
	for _, sk := range r.Skipped {
		if sk.Check == "stale-socket" {
			skippedWhy = sk.Reason
		}
	}
	if !strings.Contains(skippedWhy, "the kernel's listening sockets") {
		t.Fatalf("stale-socket not listed as skipped with its reason:\n%s", dump(r))
	}
	if len(r.Sites) == 0 {
		t.Fatalf("no site:\n%s", dump(r))
	}
	for _, site := range r.Sites {
		for _, st := range site.Steps {
			if st.Step == "socket" && st.Status == "ok" {
				t.Fatalf("site %s shows its socket step as checked:\n%s", site.Name, dump(r))
			}
		}
	}
	for _, o := range outcomes {
		if o.ID == "stale-socket" && o.Ran {
			t.Fatal("outcome says stale-socket ran")
		}
		if o.ID == "fpm-down" && !o.Ran {
			t.Fatal("outcome says fpm-down did not run")
		}
	}
}
