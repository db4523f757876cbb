package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

func brokenLab(t *testing.T) *lab.Lab {
	t.Helper()
	l := lab.New(t)
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/php7.4-fpm.sock")
	l.Start()
	l.MustStatus("/ok.php", 502)
	return l
}

// TestFixDryRunRealServers: --dry-run shows the diff and changes nothing
// (checksums of every config file before and after); without --yes a
// "no" answer changes nothing either.
func TestFixDryRunRealServers(t *testing.T) {
	l := brokenLab(t)
	before := l.ConfigSums()
	var out strings.Builder
	flags := &fixFlags{dryRun: true, site: siteFlags{nginxConf: l.NginxConf(), fpmConfs: []string{l.FPMConf()}, format: "text", probeMax: 64}}
	code, err := runFix(context.Background(), flags, strings.NewReader(""), &out)
	if err != nil || code != 1 {
		t.Fatalf("dry run: code %d err %v\n%s", code, err, out.String())
	}
	if !strings.Contains(out.String(), "+        fastcgi_pass unix:"+l.Path("run/php-fpm.sock")) || !strings.Contains(out.String(), "--dry-run: nothing changed") {
		t.Fatalf("output:\n%s", out.String())
	}
	flags.dryRun = false
	t.Setenv("FPMDOCTOR_STATE_DIR", t.TempDir())
	out.Reset()
	code, _ = runFix(context.Background(), flags, strings.NewReader("n\n"), &out)
	if code != 1 || !strings.Contains(out.String(), "[y/N]") || !strings.Contains(out.String(), "Nothing changed") {
		t.Fatalf("answer no: code %d\n%s", code, out.String())
	}
	after := l.ConfigSums()
	for p, s := range before {
		if after[p] != s {
			t.Fatalf("%s changed", p)
		}
	}
	l.MustStatus("/ok.php", 502)
}

// TestFixYesRealServers: fix --yes --format json repairs the site: exit 0,
// a backup listed, 200 afterwards.
func TestFixYesRealServers(t *testing.T) {
	l := brokenLab(t)
	t.Setenv("FPMDOCTOR_STATE_DIR", t.TempDir())
	var out strings.Builder
	flags := &fixFlags{yes: true, site: siteFlags{nginxConf: l.NginxConf(), fpmConfs: []string{l.FPMConf()}, format: "json", probeMax: 64}}
	code, err := runFix(context.Background(), flags, strings.NewReader(""), &out)
	if err != nil || code != 0 {
		t.Fatalf("fix --yes: code %d err %v\n%s", code, err, out.String())
	}
	var res fixJSON
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	if !res.Applied || res.Result == nil || !res.Result.Fixed || len(res.Result.Backups) != 1 || len(res.Actions) == 0 {
		t.Fatalf("result: %s", out.String())
	}
	l.MustStatus("/ok.php", 200)
}
