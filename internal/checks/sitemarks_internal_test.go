package checks

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// TestSiteMarksHalvesMatchOneLoop: marking a hosting host's sites in two
// halves side by side gives every site the marks one loop gives, on
// random hosts (sites of one pool, of two, of none) with random findings
// about sites, pools, several pools and nginx's config, in random steps
// and severities, some steps not checked.
func TestSiteMarksHalvesMatchOneLoop(t *testing.T) {
	for trial := range 3 {
		t.Run(fmt.Sprintf("trial%d", trial), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(trial), 11))
			dir := t.TempDir()
			const n = 1300
			var sites, pools strings.Builder
			sites.WriteString("events {}\nhttp {\n")
			for i := range n {
				p := rng.IntN(n)
				switch rng.IntN(3) {
				case 0: // two pools
					fmt.Fprintf(&sites, "upstream u%d { server unix:/run/p%d.sock; server unix:/run/p%d.sock; }\n", i, p, rng.IntN(n))
					fmt.Fprintf(&sites, "server { server_name s%d.test; location ~ \\.php$ { fastcgi_pass u%d; } }\n", i, i)
				case 1: // no name
					fmt.Fprintf(&sites, "server { location ~ \\.php$ { fastcgi_pass unix:/run/p%d.sock; } }\n", p)
				default:
					fmt.Fprintf(&sites, "server { server_name s%d.test; location ~ \\.php$ { fastcgi_pass unix:/run/p%d.sock; } }\n", i, p)
				}
				if rng.IntN(5) > 0 {
					fmt.Fprintf(&pools, "[p%d]\nuser = www-data\nlisten = /run/p%d.sock\npm = static\npm.max_children = 1\n", i, i)
				}
			}
			sites.WriteString("}\n")
			nginx, fpm := filepath.Join(dir, "nginx.conf"), filepath.Join(dir, "php-fpm.conf")
			if err := os.WriteFile(nginx, []byte(sites.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fpm, []byte(pools.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			// Offline: the marks come from the findings below alone.
			s, err := snapshot.Gather(context.Background(), snapshot.Options{Root: dir, NginxConf: "/nginx.conf", FPMConfs: []string{"/php-fpm.conf"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Sites) != n {
				t.Fatalf("%d sites, want %d", len(s.Sites), n)
			}
			r := report.New()
			var poolIDs []string
			for _, f := range s.FPM {
				for _, p := range f.Pools {
					poolIDs = append(poolIDs, p.ID())
				}
			}
			steps := []report.Step{report.StepConfig, report.StepService, report.StepPass, report.StepListen, report.StepSocket, report.StepPermission, report.StepLogs, report.StepLimits, report.StepApplied}
			severities := []report.Severity{report.Error, report.Warning, report.Info}
			for range 400 {
				f := report.Finding{Step: steps[rng.IntN(len(steps))], Severity: severities[rng.IntN(len(severities))]}
				switch rng.IntN(3) {
				case 0:
					f.Site = s.Sites[rng.IntN(n)].Key()
				case 1:
					f.Pool = poolIDs[rng.IntN(len(poolIDs))]
				case 2:
					f.Affected = &report.Affected{Pools: []string{poolIDs[rng.IntN(len(poolIDs))], poolIDs[rng.IntN(len(poolIDs))]}}
				}
				r.Findings = append(r.Findings, f)
			}
			// One finding about nginx's config, which every site reads.
			r.Findings = append(r.Findings, report.Finding{Cause: "nginx-config-invalid", Step: steps[rng.IntN(len(steps))], Severity: report.Warning,
				Evidence: []report.Evidence{{Kind: report.KindConfig, File: "/nginx.conf", Line: 1}}})
			notChecked := map[report.Step]bool{steps[rng.IntN(len(steps))]: true}
			halves := siteMarksFrom(s, r, notChecked, 1)
			loop := siteMarksFrom(s, r, notChecked, math.MaxInt)
			if !reflect.DeepEqual(halves, loop) {
				for i := range loop {
					if !reflect.DeepEqual(halves[i], loop[i]) {
						t.Fatalf("site %d: halves %+v, one loop %+v", i, halves[i], loop[i])
					}
				}
				t.Fatalf("%d sites marked in halves, %d in one loop", len(halves), len(loop))
			}
			marks := map[string]int{}
			for _, site := range loop {
				for _, st := range site.Steps {
					marks[st.Status]++
				}
			}
			if marks["fail"] == 0 || marks["warn"] == 0 || marks["ok"] == 0 || marks["skip"] == 0 {
				t.Fatalf("marks %v: the trial tests too little", marks)
			}
		})
	}
}
