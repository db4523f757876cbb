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
		got, err := Resolve(root, p)
		if err != nil {
			t.Fatalf("Resolve(%q): %v", p, err)
		}
		if got != filepath.Join(root, want) || !strings.HasPrefix(got, root+"/") {
			t.Errorf("Resolve(%q) = %q, want %q under the root", p, got, want)
		}
	}
	if _, err := Resolve(root, "/var/log/loop1"); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("a symlink loop: err %v, want ELOOP", err)
	}
	if got, _ := Resolve("", "/etc/x"); got != "/etc/x" {
		t.Errorf("no root: %q", got)
	}
}
