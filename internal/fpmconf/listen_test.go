package fpmconf

import (
	"net"
	"testing"
)

func TestParseListen(t *testing.T) {
	cases := []struct {
		in       string
		network  string
		host     string
		port     int
		path     string
		wildcard bool
		err      string
	}{
		{in: "/run/php/php8.2-fpm.sock", network: "unix", path: "/run/php/php8.2-fpm.sock"},
		{in: "php.sock", network: "unix", path: "php.sock"},
		{in: "localhost", network: "unix", path: "localhost"},
		{in: "9000", network: "tcp", port: 9000, wildcard: true},
		{in: "127.0.0.1:9000", network: "tcp", host: "127.0.0.1", port: 9000},
		{in: "[::1]:9000", network: "tcp", host: "::1", port: 9000},
		{in: "::1:9000", network: "tcp", host: "::1", port: 9000},
		{in: "[::]:9000", network: "tcp", host: "::", port: 9000, wildcard: true},
		{in: "0.0.0.0:9000", network: "tcp", host: "0.0.0.0", port: 9000},
		{in: "[127.0.0.1]:9000", network: "tcp", host: "127.0.0.1", port: 9000},
		{in: "localhost:9000", network: "tcp", host: "localhost", port: 9000},
		{in: ":9000", network: "tcp", err: "getaddrinfo: Name or service not known"},
		{in: "127.0.0.1:0", network: "tcp", err: "invalid port value '0'"},
		{in: "127.0.0.1:70000", network: "tcp", err: "invalid port value '70000'"},
		{in: "127.0.0.1:abc", network: "tcp", err: "invalid port value 'abc'"},
		{in: "127.0.0.1:9000abc", network: "tcp", err: "getaddrinfo: Servname not supported for ai_socktype"},
		{in: "[::1]", network: "tcp", err: "getaddrinfo: Servname not supported for ai_socktype"},
		{in: "", err: "no listen address have been defined"},
	}
	for _, tc := range cases {
		a, err := ParseListen(tc.in)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if a.Network != tc.network || a.Host != tc.host || a.Port != tc.port || a.Path != tc.path || a.Wildcard != tc.wildcard {
			t.Errorf("%q: got %+v", tc.in, a)
		}
	}
	if a, _ := ParseListen("localhost:9000"); !a.IsName() {
		t.Error("localhost:9000 is a name")
	}
}

func TestCovers(t *testing.T) {
	ip := net.ParseIP
	cases := []struct {
		listen string
		ip     string
		port   int
		want   bool
	}{
		{"0.0.0.0:9000", "127.0.0.1", 9000, true},
		{"0.0.0.0:9000", "::1", 9000, false},
		{"9000", "127.0.0.1", 9000, true},
		{"9000", "::1", 9000, true},
		{"[::]:9000", "10.1.2.3", 9000, true},
		{"127.0.0.1:9000", "127.0.0.1", 9000, true},
		{"127.0.0.1:9000", "127.0.0.1", 9001, false},
		{"[::1]:9000", "127.0.0.1", 9000, false},
		{"localhost:9000", "127.0.0.1", 9000, false},
		{"/run/x.sock", "127.0.0.1", 9000, false},
	}
	for _, tc := range cases {
		a, err := ParseListen(tc.listen)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.Covers(ip(tc.ip), tc.port); got != tc.want {
			t.Errorf("%s covers %s:%d = %v", tc.listen, tc.ip, tc.port, got)
		}
	}
}

func TestAllowedClients(t *testing.T) {
	ac := ParseAllowedClients("127.0.0.1, 10.0.0.1,::1,localhost,10.0.0.0/8")
	if len(ac.IPs) != 2 || len(ac.Invalid) != 3 {
		t.Fatalf("parsed %+v", ac)
	}
	v4 := func(s string) net.IP { return net.ParseIP(s).To4() }
	checks := []struct {
		ip   net.IP
		want bool
	}{
		{v4("127.0.0.1"), true},
		{net.ParseIP("::ffff:127.0.0.1"), true}, // dual-stack listen: mapped client
		{v4("10.0.0.1"), false},                 // " 10.0.0.1" was invalid
		{net.ParseIP("::1"), true},
		{net.ParseIP("::2"), true}, // php-fpm compares 12 bytes only
		{net.ParseIP("fe80::1"), false},
	}
	for _, c := range checks {
		if got := ac.AllowsClient(c.ip); got != c.want {
			t.Errorf("AllowsClient(%s) = %v", c.ip, got)
		}
	}
	if !(AllowedClients{}).AllowsClient(v4("192.0.2.1")) {
		t.Error("unset allows everyone")
	}
	if none := ParseAllowedClients("nginx"); none.AllowsClient(v4("127.0.0.1")) {
		t.Error("no valid entry must refuse everyone")
	}
}

func TestPeerIsMappedOnDualStackListens(t *testing.T) {
	v4 := net.ParseIP("127.0.0.1").To4()
	for _, c := range []struct {
		listen string
		mapped bool
	}{{"9000", true}, {"[::]:9000", true}, {"127.0.0.1:9000", false}, {"0.0.0.0:9000", false}} {
		a, err := ParseListen(c.listen)
		if err != nil {
			t.Fatal(err)
		}
		got := a.Peer(v4)
		if (len(got) == net.IPv6len) != c.mapped || !got.Equal(v4) {
			t.Errorf("listen %s: peer %v (len %d), want mapped=%v", c.listen, got, len(got), c.mapped)
		}
	}
}
