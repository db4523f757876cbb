package systemdhost

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

func TestMirrorIn(t *testing.T) {
	deb822 := `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
`
	if got := mirrorIn(deb822, true); got != "http://deb.debian.org/debian" {
		t.Errorf("deb822: %q", got)
	}
	secFirst := "Types: deb\nURIs: http://security.debian.org/debian-security\nSuites: bookworm-security\n\nTypes: deb-src deb\nURIs: http://ftp.fr.debian.org/debian/\nSuites: bookworm\n"
	if got := mirrorIn(secFirst, true); got != "http://ftp.fr.debian.org/debian" {
		t.Errorf("deb822, security first: %q", got)
	}
	oneLine := "# comment\ndeb-src http://x/debian bookworm main\ndeb [signed-by=/k.gpg arch=amd64] http://mirror.example/debian/ bookworm main\n"
	if got := mirrorIn(oneLine, false); got != "http://mirror.example/debian" {
		t.Errorf("one-line: %q", got)
	}
	if got := mirrorIn("deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n", false); got != "" {
		t.Errorf("not a Debian archive: %q", got)
	}
}

func TestTreeKey(t *testing.T) {
	a := treeKey("bookworm", "http://deb.debian.org/debian", DefaultPackages())
	if a != treeKey("bookworm", "http://deb.debian.org/debian", DefaultPackages()) || len(a) != 12 {
		t.Fatalf("key not stable: %q", a)
	}
	if a == treeKey("bookworm", "http://deb.debian.org/debian", append(DefaultPackages(), "vim")) ||
		a == treeKey("trixie", "http://deb.debian.org/debian", DefaultPackages()) {
		t.Error("a different package list or suite must give a different tree")
	}
}

// TestBoot builds (or reuses) the tree, boots it and checks what the other
// tests rely on: systemd is PID 1 inside, nginx and php-fpm run under
// their own units, the network is private, and Close powers it off.
func TestBoot(t *testing.T) {
	if why := Missing(); why != "" {
		lab.Unavailable(t, why)
	}
	ctx := context.Background()
	start := time.Now()
	tree, built, err := Tree(ctx, TreeOptions{Log: func(l string) { t.Log(l) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tree %s (built now: %v) in %s", tree, built, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	h, err := Boot(ctx, tree, BootOptions{Name: "fpmdoctor-boot-test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("booted in %s", time.Since(start).Round(time.Millisecond))
	defer func() {
		start := time.Now()
		if err := h.Close(); err != nil {
			t.Error(err)
		}
		t.Logf("powered off in %s", time.Since(start).Round(time.Millisecond))
	}()
	if out, err := h.Output(ctx, "cat", "/proc/1/comm"); err != nil || strings.TrimSpace(string(out)) != "systemd" {
		t.Errorf("PID 1 inside: %q, %v", out, err)
	}
	for _, u := range []string{"nginx.service", "php8.2-fpm.service", "dbus.service"} {
		if out, err := h.Output(ctx, "systemctl", "is-active", u); err != nil || strings.TrimSpace(string(out)) != "active" {
			t.Errorf("%s: %q, %v", u, out, err)
		}
	}
	if out, err := h.Output(ctx, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1/"); err != nil || string(out) != "200" {
		t.Errorf("nginx inside: %q, %v", out, err)
	}
	// --private-network: only lo inside.
	out, err := h.Output(ctx, "ls", "/sys/class/net")
	if err != nil || strings.Join(strings.Fields(string(out)), " ") != "lo" {
		t.Errorf("network interfaces inside: %q, %v", out, err)
	}
}

// TestRemoveStaleCopies: a copy whose lock is held (as a running nspawn
// holds it) stays; one whose lock is free goes with its lock file.
func TestRemoveStaleCopies(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "bookworm-x")
	for _, p := range []string{tree, filepath.Join(dir, ".#machine.bookworm-xaaaa"), filepath.Join(dir, ".#machine.bookworm-xbbbb"), filepath.Join(dir, ".#machine.other")} {
		if err := os.MkdirAll(filepath.Join(p, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{".#.#machine.bookworm-xaaaa.lck", ".#.#machine.bookworm-xbbbb.lck", ".#.#machine.other.lck"} {
		if err := os.WriteFile(filepath.Join(dir, l), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	held, err := os.OpenFile(filepath.Join(dir, ".#.#machine.bookworm-xaaaa.lck"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(held.Fd(), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	removeStaleCopies(tree)
	for p, want := range map[string]bool{
		tree: true, ".#machine.bookworm-xaaaa": true, ".#.#machine.bookworm-xaaaa.lck": true,
		".#machine.bookworm-xbbbb": false, ".#.#machine.bookworm-xbbbb.lck": false,
		".#machine.other": true, // another tree's copy is not ours to judge
	} {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", p, err == nil, want)
		}
	}
}
