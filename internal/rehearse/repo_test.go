package rehearse_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/rehearse"
	"github.com/fpmdoctor/fpmdoctor/internal/repo"
)

// repoSource reads repository dir as `fpmdoctor lab DIR` does: through
// internal/repo, fpmdoctor.yaml and the flags' mappings.
func repoSource(t *testing.T, dir string, maps ...string) rehearse.Source {
	t.Helper()
	ms, err := repo.ParseMapFlags(maps)
	if err != nil {
		t.Fatal(err)
	}
	cfg, tree, err := repo.Open(dir, "", ms)
	if err != nil {
		t.Fatal(err)
	}
	return rehearse.Source{Root: tree.Root, Mounts: tree.Mounts, NginxConf: cfg.NginxConf, FPMConfs: cfg.FPMConfs}
}

// brokenRepo copies testdata/repo (links included) and points the app
// pool at php8.2-fpm.sock while nginx still passes to app.sock: the
// listen mismatch of a pool renamed in one file only.
func brokenRepo(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(dir, os.DirFS("testdata/repo")); err != nil {
		t.Fatal(err)
	}
	pool := filepath.Join(dir, "php/8.2/fpm/pool.d/app.conf")
	b, err := os.ReadFile(pool)
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(b), "listen = /run/php/app.sock", "listen = /run/php/php8.2-fpm.sock", 1)
	if fixed == string(b) {
		t.Fatal("testdata/repo's app pool no longer listens on /run/php/app.sock")
	}
	if err := os.WriteFile(pool, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A repository laid out as in git (nginx/, php/8.2/fpm/) and mapped by its
// fpmdoctor.yaml runs on the real servers as it would in production: the
// absolute sites-enabled link, the relative snippet include and the pools'
// include all resolve through the mapping, and both sites answer 200 from
// php-fpm.
func TestLabMappedRepository(t *testing.T) {
	res, _, err := runSource(t, context.Background(), repoSource(t, "testdata/repo"), false)
	if err != nil {
		t.Fatal(err)
	}
	allAnswered(t, res, "api.example.org", "app.example.org")
	if res.ExitCode() != 0 || len(res.Start) != 0 {
		t.Errorf("exit code %d, start errors %q", res.ExitCode(), res.Start)
	}
	// The mapping names the server's paths, never the repository's.
	want := map[string]bool{"config /etc/nginx/sites-enabled/app.conf": false, "config /etc/nginx/snippets/fastcgi-php.conf": false,
		"config /etc/php/8.2/fpm/pool.d/app.conf": false, "socket /run/php/app.sock": false, "port 9001": false}
	for _, m := range res.Mappings {
		if _, ok := want[m.Kind+" "+m.From]; ok {
			want[m.Kind+" "+m.From] = true
		}
		if strings.Contains(m.From, "testdata") || strings.Contains(m.Where, "testdata") {
			t.Errorf("a repository path in the mapping: %+v", m)
		}
	}
	for k, seen := range want {
		if !seen {
			t.Errorf("mapping lacks %q: %+v", k, res.Mappings)
		}
	}
}

// The same repository with the app pool's listen changed: the real 502
// from nginx, its log line, and listen-mismatch on that site only.
func TestLabMappedRepositoryBroken(t *testing.T) {
	res, _, err := runSource(t, context.Background(), repoSource(t, brokenRepo(t)), false)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]rehearse.SiteResult{}
	for _, s := range res.Sites {
		status[s.Name] = s
	}
	app, api := status["app.example.org"], status["api.example.org"]
	if app.Status != 502 || !slices.Contains(causes(app), "listen-mismatch") {
		t.Errorf("app.example.org: status %d, causes %v, want 502 and listen-mismatch", app.Status, causes(app))
	}
	if !slices.ContainsFunc(app.NginxLog, func(l string) bool {
		return strings.Contains(l, "(2: No such file or directory) while connecting to upstream")
	}) {
		t.Errorf("no nginx log line of the missing socket: %q", app.NginxLog)
	}
	if api.Status != 200 || !api.Probe {
		t.Errorf("api.example.org, untouched: status %d (%s)", api.Status, api.Error)
	}
	if res.ExitCode() != 1 {
		t.Errorf("exit code %d, want 1", res.ExitCode())
	}
}
