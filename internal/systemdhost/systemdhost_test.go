package systemdhost

import (
	"context"
	"strings"
	"testing"
	"time"

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
