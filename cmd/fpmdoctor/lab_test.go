package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// runLabCmd runs `fpmdoctor lab ARGS` in process and returns its output
// and exit status.
func runLabCmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newLabCmd()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true // as under the root command
	var out, stderr strings.Builder
	cmd.SetOut(&out)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	var ee exitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &ee):
		return out.String(), ee.code
	}
	return out.String() + stderr.String() + err.Error(), 2
}

// TestLabCommandRealServers: the contract of `fpmdoctor lab` on real
// servers: the JSON per site, the exit status, --keep and lab stop.
func TestLabCommandRealServers(t *testing.T) {
	lab.Require(t)
	out, code := runLabCmd(t, "--root", "../../examples/php-upgrade", "--format", "json")
	if code != 1 {
		t.Fatalf("php-upgrade: exit %d, want 1\n%s", code, out)
	}
	var res struct {
		Dir   string `json:"dir"`
		Stop  string `json:"stop_command"`
		Sites []struct {
			Name   string `json:"server_name"`
			Status int    `json:"status"`
			Causes []struct {
				Cause string `json:"cause"`
			} `json:"causes"`
		} `json:"sites"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res.Sites) != 1 || res.Sites[0].Name != "blog.example.com" || res.Sites[0].Status != 502 ||
		len(res.Sites[0].Causes) == 0 || res.Sites[0].Causes[0].Cause != "listen-mismatch" {
		t.Errorf("php-upgrade sites: %+v", res.Sites)
	}
	if _, err := os.Stat(res.Dir); !os.IsNotExist(err) {
		t.Errorf("lab %s left behind", res.Dir)
	}

	// Secrets of the configs (rhel example: env[DB_PASSWORD], fastcgi_param
	// DB_PASSWORD) never reach the output, in either format.
	for _, format := range []string{"text", "json"} {
		out, code = runLabCmd(t, "--root", "../../examples/rhel-invalid-pool", "--format", format)
		if code != 1 || strings.Contains(out, "s3cr3t") || !strings.Contains(out, "fpm-config-invalid") {
			t.Errorf("rhel-invalid-pool --format %s: exit %d\n%s", format, code, out)
		}
	}

	out, code = runLabCmd(t, "--root", "../../internal/rehearse/testdata/wordpress")
	if code != 0 || !strings.Contains(out, "✓ blog.example.org") || !strings.Contains(out, "✓ shop.example.org") ||
		!strings.Contains(out, "user         wpblog → www-data  (no such user on this host)") || !strings.Contains(out, "The lab was stopped and removed.") {
		t.Errorf("wordpress: exit %d\n%s", code, out)
	}

	out, code = runLabCmd(t, "--root", "../../internal/rehearse/testdata/stock", "--keep", "--format", "json")
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("--keep: exit %d, %v\n%s", code, err, out)
	}
	if res.Stop != "fpmdoctor lab stop "+res.Dir {
		t.Errorf("stop command %q for %s", res.Stop, res.Dir)
	}
	if _, err := os.Stat(res.Dir); err != nil {
		t.Fatalf("kept lab: %v", err)
	}
	if out, code := runLabCmd(t, "stop", res.Dir); code != 0 {
		t.Fatalf("lab stop: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(res.Dir); !os.IsNotExist(err) {
		t.Errorf("lab stop left %s", res.Dir)
	}
}
