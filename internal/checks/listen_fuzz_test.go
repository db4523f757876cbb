package checks

import (
	"net"
	"testing"
)

// FuzzListenCovers: any listen argument nginx might hold, against any
// address, never panics, and an address is never covered on another port.
func FuzzListenCovers(f *testing.F) {
	for _, s := range []string{"8080", "127.0.0.1:8080", "*:8080", "[::]:8080", "[::1]:8080", "localhost:8080", "unix:/run/x.sock", "", ":", "[", "0.0.0.0:80", "[::ffff:127.0.0.1]:8080"} {
		f.Add(s, "127.0.0.1", 8080)
		f.Add(s, "::1", 80)
	}
	f.Fuzz(func(t *testing.T, addr, ip string, port int) {
		p := net.ParseIP(ip)
		if p == nil {
			return
		}
		if listenCovers(addr, p, port) && listenCovers(addr, p, port+1) {
			t.Fatalf("%q covers %s on ports %d and %d", addr, ip, port, port+1)
		}
	})
}

func TestListenCovers(t *testing.T) {
	for _, c := range []struct {
		addr string
		ip   string
		want bool
	}{
		{"8080", "127.0.0.1", true},
		{"8080", "::1", false},
		{"*:8080", "10.0.0.1", true},
		{"127.0.0.1:8080", "127.0.0.1", true},
		{"127.0.0.1:8080", "127.0.0.2", false},
		{"[::]:8080", "::1", true},
		{"[::]:8080", "127.0.0.1", false}, // ipv6only=on, nginx's default
		{"0.0.0.0:8080", "::1", false},
		{"localhost:8080", "::1", true},
		{"127.0.0.1:8081", "127.0.0.1", false},
		{"unix:/run/x.sock", "127.0.0.1", false},
	} {
		if got := listenCovers(c.addr, net.ParseIP(c.ip), 8080); got != c.want {
			t.Errorf("listenCovers(%q, %s, 8080) = %v, want %v", c.addr, c.ip, got, c.want)
		}
	}
}
