package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
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

// labSites decodes `fpmdoctor lab --format json`: each site's status and
// causes, by name.
func labSites(t *testing.T, out string) map[string]labSite {
	t.Helper()
	var res struct {
		Dir   string    `json:"dir"`
		Sites []labSite `json:"sites"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(res.Dir); !os.IsNotExist(err) {
		t.Errorf("lab %s left behind", res.Dir)
	}
	sites := map[string]labSite{}
	for _, s := range res.Sites {
		sites[s.Name] = s
	}
	return sites
}

type labSite struct {
	Name   string `json:"server_name"`
	Status int    `json:"status"`
	Probe  bool   `json:"probe_ran"`
	Causes []struct {
		Cause string `json:"cause"`
	} `json:"causes"`
}

// copyMappedRepo copies the mapped repository of internal/rehearse's tests
// (links included) for a test to change.
func copyMappedRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(dir, os.DirFS("../../internal/rehearse/testdata/repo")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// `fpmdoctor lab DIR` reads a repository as `fpmdoctor check DIR` does:
// fpmdoctor.yaml, or the same mapping from --map flags; a broken pool
// gives the real 502 and its cause; a bad fpmdoctor.yaml stops it with
// check's file:line error before anything is created.
func TestLabCommandMappedRepository(t *testing.T) {
	lab.Require(t)
	healthy := func(name string, out string, code int) {
		t.Helper()
		sites := labSites(t, out)
		if code != 0 || len(sites) != 2 {
			t.Errorf("%s: exit %d, %d sites, want 0 and 2\n%s", name, code, len(sites), out)
		}
		for n, s := range sites {
			if s.Status != 200 || !s.Probe {
				t.Errorf("%s: %s answered %d (probe ran %v)", name, n, s.Status, s.Probe)
			}
		}
	}
	out, code := runLabCmd(t, "../../internal/rehearse/testdata/repo", "--format", "json")
	healthy("fpmdoctor.yaml", out, code)

	// The same mapping from flags, in a copy without fpmdoctor.yaml.
	bare := copyMappedRepo(t)
	if err := os.Remove(filepath.Join(bare, "fpmdoctor.yaml")); err != nil {
		t.Fatal(err)
	}
	out, code = runLabCmd(t, bare, "--map", "nginx/=/etc/nginx", "--map", "php/8.2/fpm/=/etc/php/8.2/fpm", "--format", "json")
	healthy("--map", out, code)
	// --root is the tree underneath the mappings, as in check: here it
	// holds php-fpm's configs at the server's path, and only nginx/ is
	// mapped from the repository.
	tree := t.TempDir()
	if err := os.CopyFS(filepath.Join(tree, "etc/php/8.2/fpm"), os.DirFS(filepath.Join(bare, "php/8.2/fpm"))); err != nil {
		t.Fatal(err)
	}
	out, code = runLabCmd(t, bare, "--map", "nginx/=/etc/nginx", "--root", tree, "--format", "json")
	healthy("--root under --map", out, code)
	// Without the mapping the repository is read like /: nothing there.
	if out, code := runLabCmd(t, bare, "--format", "json"); code != 2 || !strings.Contains(out, "no nginx config found under "+bare) {
		t.Errorf("unmapped repository: exit %d\n%s", code, out)
	}

	// A pool renamed in one file only: nginx still passes to app.sock.
	broken := copyMappedRepo(t)
	pool := filepath.Join(broken, "php/8.2/fpm/pool.d/app.conf")
	b, err := os.ReadFile(pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pool, []byte(strings.Replace(string(b), "/run/php/app.sock", "/run/php/php8.2-fpm.sock", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runLabCmd(t, broken, "--format", "json")
	sites := labSites(t, out)
	app, api := sites["app.example.org"], sites["api.example.org"]
	if code != 1 || app.Status != 502 || len(app.Causes) == 0 || app.Causes[0].Cause != "listen-mismatch" || api.Status != 200 {
		t.Errorf("broken pool: exit %d, app %+v, api %+v\n%s", code, app, api, out)
	}
	out, code = runLabCmd(t, broken)
	if code != 1 || !strings.Contains(out, "✗ app.example.org") || !strings.Contains(out, "cause: error [listen-mismatch] no php-fpm pool listens on unix:/run/php/app.sock") {
		t.Errorf("broken pool, text: exit %d\n%s", code, out)
	}

	// A typo in fpmdoctor.yaml: check's error, exit 2, no lab created.
	typo := copyMappedRepo(t)
	if err := os.WriteFile(filepath.Join(typo, "fpmdoctor.yaml"), []byte("map:\n  nginx/: /etc/nginx\n  php/8.2/fpm/: /etc/php/8.2/fpm\nmapp: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	labDir := filepath.Join(t.TempDir(), "lab")
	out, code = runLabCmd(t, typo, "--dir", labDir)
	if code != 2 || !strings.Contains(out, filepath.Join(typo, "fpmdoctor.yaml")+`:4: unknown key "mapp"`) {
		t.Errorf("typo: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(labDir); !os.IsNotExist(err) {
		t.Errorf("a bad fpmdoctor.yaml created the lab %s", labDir)
	}
	// check says the same, word for word.
	cmd := newCheckCmd()
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetOut(io.Discard)
	cmd.SetArgs([]string{typo})
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(out, err.Error()) {
		t.Errorf("check's error %v differs from lab's\n%s", err, out)
	}
}
