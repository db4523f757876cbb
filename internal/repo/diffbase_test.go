package repo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

func gitIn(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

func write(t *testing.T, dir, rel, content string) {
	t.Helper()
	p := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDiffBase: the base commit has an old finding (a pool on every
// address); the change moves it down two lines and adds a site on a
// socket no pool has. --diff-base reports only the new one.
func TestDiffBase(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	top := t.TempDir()
	dir := filepath.Join(top, "configs") // the repository's configs sit in a subdirectory
	gitIn(t, top, "init", "-q")
	write(t, dir, "fpmdoctor.yaml", "map:\n  nginx/: /etc/nginx\n  php/: /etc/php/8.2/fpm\n")
	write(t, dir, "nginx/nginx.conf", "events {}\nhttp {\n    include /etc/nginx/sites/*.conf;\n}\n")
	site := func(name, pass string) string {
		return "server {\n    server_name " + name + ";\n    location ~ \\.php$ {\n        fastcgi_pass " + pass + ";\n    }\n}\n"
	}
	write(t, dir, "nginx/sites/a.conf", site("a.example.com", "127.0.0.1:9000"))
	write(t, dir, "php/php-fpm.conf", "[global]\ninclude=/etc/php/8.2/fpm/pool.d/*.conf\n")
	pool := "[a]\nuser = www-data\nlisten = 9000\npm = static\npm.max_children = 2\n"
	write(t, dir, "php/pool.d/a.conf", pool)
	gitIn(t, top, "add", "-A")
	gitIn(t, top, "commit", "-qm", "base")

	write(t, dir, "php/pool.d/a.conf", "; pool a\n\n"+pool)
	write(t, dir, "nginx/sites/b.conf", site("b.example.com", "unix:/run/php/php8.1-fpm.sock"))
	gitIn(t, top, "add", "-A")
	gitIn(t, top, "commit", "-qm", "change")

	full, err := Check(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if causes(full.Report) != "listen-mismatch listen-all-addresses" {
		t.Fatalf("without --diff-base: %s, want the old and the new finding", causes(full.Report))
	}
	diff, err := CheckDiff(context.Background(), Options{Dir: dir}, "HEAD~1")
	if err != nil {
		t.Fatal(err)
	}
	if causes(diff.Report) != "listen-mismatch" {
		t.Errorf("--diff-base HEAD~1: %s, want only the new listen-mismatch", causes(diff.Report))
	}
	if !skipped(diff.Report, "1 findings that HEAD~1 already had") {
		t.Errorf("skipped does not say what was dropped: %+v", diff.Report.Skipped)
	}
	// Against itself nothing is new.
	same, err := CheckDiff(context.Background(), Options{Dir: dir}, "HEAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(same.Report.Findings) != 0 {
		t.Errorf("--diff-base HEAD: %s, want nothing", causes(same.Report))
	}
	if _, err := CheckDiff(context.Background(), Options{Dir: dir}, "no-such-ref"); err == nil || !strings.Contains(err.Error(), "no such revision") {
		t.Errorf("unknown ref: %v", err)
	}
}

func causes(r *report.Report) string {
	var cs []string
	for _, f := range r.Findings {
		cs = append(cs, f.Cause)
	}
	return strings.Join(cs, " ")
}

func skipped(r *report.Report, text string) bool {
	for _, s := range r.Skipped {
		if s.Check == "diff-base" && strings.Contains(s.Reason, text) {
			return true
		}
	}
	return false
}
