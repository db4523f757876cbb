package rootfs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Links in the copy never lead outside it: absolute targets are re-rooted,
// ".." stops at the root, and a loop is an error, not a hang.
func TestResolveStaysInsideRoot(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, d := range []string{"etc/nginx/real", "var/log"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, at string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(root, at)); err != nil {
			t.Fatal(err)
		}
	}
	link("/etc/nginx/real", "etc/nginx/abs")                        // absolute: re-rooted
	link("real", "etc/nginx/rel")                                   // relative
	link("../../../../../../.."+outside+"/secret", "var/log/climb") // climbs: clamped
	link(outside+"/secret", "var/log/host")                         // absolute to a host file
	link("loop2", "var/log/loop1")                                  // a loop
	link("loop1", "var/log/loop2")
	for p, want := range map[string]string{
		"/etc/nginx/abs/x.conf":   "/etc/nginx/real/x.conf",
		"/etc/nginx/rel/x.conf":   "/etc/nginx/real/x.conf",
		"/../../etc/nginx/a.conf": "/etc/nginx/a.conf",
		"/var/log/climb":          outside + "/secret",
		"/var/log/host":           outside + "/secret",
		"/missing/dir/f":          "/missing/dir/f",
	} {
		cached := Tree{Root: root}.WithCache()
		for range 2 { // the second time from the cache
			got, err := cached.Resolve(p)
			if err != nil || got != filepath.Join(root, want) {
				t.Errorf("cached Resolve(%q) = %q, %v, want %q", p, got, err, want)
			}
		}
		got, err := Resolve(root, p)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", p, err)
		}
		if got != filepath.Join(root, want) || !strings.HasPrefix(got, root+"/") {
			t.Errorf("Resolve(%q) = %q, want %q under the root", p, got, want)
		}
	}
	if _, err := (Tree{Root: root}.WithCache()).Resolve("/var/log/loop1"); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("a symlink loop, cached: err %v, want ELOOP", err)
	}
	if _, err := Resolve(root, "/var/log/loop1"); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("a symlink loop: err %v, want ELOOP", err)
	}
	if got, _ := Resolve("", "/etc/x"); got != "/etc/x" {
		t.Errorf("no root: %q", got)
	}
}

// Mounts put repository directories where the host has them; links inside
// a mount resolve through the host's namespace (and so through other
// mounts), never outside the tree, and mounts show in their parents.
func TestTreeMounts(t *testing.T) {
	repo := t.TempDir()
	for _, d := range []string{"nginx/sites-available", "nginx/sites-enabled", "php/pool.d", "etc/nginx"} {
		if err := os.MkdirAll(filepath.Join(repo, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"nginx/sites-available/a", "php/pool.d/www.conf", "etc/nginx/shadowed"} {
		if err := os.WriteFile(filepath.Join(repo, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("../sites-available/a", filepath.Join(repo, "nginx/sites-enabled/rel")))
	must(os.Symlink("/etc/nginx/sites-available/a", filepath.Join(repo, "nginx/sites-enabled/abs")))
	must(os.Symlink("/etc/php/8.2/fpm/pool.d/www.conf", filepath.Join(repo, "nginx/sites-enabled/other-mount")))
	must(os.Symlink("../../../../../../etc/passwd", filepath.Join(repo, "nginx/sites-enabled/climb")))
	tr := Tree{Root: repo, Mounts: []Mount{{Host: "/etc/nginx", Dir: filepath.Join(repo, "nginx")}, {Host: "/etc/php/8.2/fpm", Dir: filepath.Join(repo, "php")}}}
	for _, tr := range []Tree{tr, tr.WithCache(), tr.WithCache()} {
		resolveAll(t, tr, repo)
	}
	names, err := tr.ReadDirNames("/etc/php")
	if err != nil || len(names) != 1 || names[0] != "8.2" {
		t.Errorf("ReadDirNames(/etc/php) = %v, %v: want the mount's next component", names, err)
	}
	got, err := tr.Glob("/etc/php/*/fpm/pool.d/*.conf")
	if err != nil || len(got) != 1 || got[0] != "/etc/php/8.2/fpm/pool.d/www.conf" {
		t.Errorf("Glob = %v, %v", got, err)
	}
}

// resolveAll resolves the links of TestTreeMounts; twice with a cache, so
// that the second pass reads the directories it remembered.
func resolveAll(t *testing.T, tr Tree, repo string) {
	t.Helper()
	for p, want := range map[string]string{
		"/etc/nginx/sites-enabled/rel":         "nginx/sites-available/a",
		"/etc/nginx/sites-enabled/abs":         "nginx/sites-available/a",
		"/etc/nginx/sites-enabled/other-mount": "php/pool.d/www.conf",
		"/etc/nginx/sites-enabled/climb":       "etc/passwd", // clamped at the root, as chroot does
		"/etc/nginx/shadowed":                  "nginx/shadowed",
		"/etc/hosts":                           "etc/hosts",
	} {
		got, err := tr.Resolve(p)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", p, err)
		}
		if got != filepath.Join(repo, want) {
			t.Errorf("Resolve(%q) = %q, want %q", p, got, filepath.Join(repo, want))
		}
	}
}
