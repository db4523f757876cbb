package fix

import (
	"context"
	"os"
	"strings"
	"testing"
)

// TestConnectSystemdSaysBothWays: where systemd is not reachable at all
// (this machine has no systemd as PID 1), the error names the system bus
// and, as root, systemd's private socket, so a failed start says which
// ways were tried. The way that succeeds without dbus-daemon is proven on
// a booted host by deploy's TestSystemdHost/fix-starts-unit-without-dbus.
func TestConnectSystemdSaysBothWays(t *testing.T) {
	if systemdRuns() {
		t.Skip("systemd runs here: the connection would succeed")
	}
	conn, err := connectSystemd(context.Background())
	if err == nil {
		conn.Close()
		t.Skip("a system bus answers here")
	}
	if os.Geteuid() == 0 && !strings.Contains(err.Error(), "/run/systemd/private") {
		t.Errorf("as root the error should name the private socket too: %v", err)
	}
	sv := &Service{Kind: "php-fpm", Conf: "/etc/php/8.2/fpm/php-fpm.conf"}
	if u := systemdUnit(context.Background(), sv); u != "" {
		t.Errorf("systemdUnit without systemd = %q", u)
	}
}
