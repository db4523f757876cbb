// Package probe asks a php-fpm pool, over a real FastCGI exchange, whether it
// answers, without ever running application code: it requests the pool's
// ping page, else its status page, else a script that cannot exist (php-fpm
// answers "Primary script unknown" with a 404, which proves a worker took
// the request).
package probe

import (
	"fmt"
	"net"
	"strings"
)

// Target is where a pool listens, in Go's net terms.
type Target struct {
	Network string // "unix" or "tcp"
	Address string // socket path, or host:port
}

// String formats t the way nginx's fastcgi_pass writes it.
func (t Target) String() string {
	if t.Network == "unix" {
		return "unix:" + t.Address
	}
	return t.Address
}

// ParseTarget accepts the address forms nginx's fastcgi_pass and php-fpm's
// listen use for a single endpoint: "unix:/path", "/path", "host:port",
// "[v6]:port". A bare port ("9000", php-fpm's "listen = 9000") means
// 127.0.0.1:9000. Names of pools or upstreams are not addresses; resolving
// them needs host discovery and is the caller's job.
func ParseTarget(s string) (Target, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Target{}, fmt.Errorf("empty target")
	case strings.HasPrefix(s, "unix:"):
		p := strings.TrimSuffix(strings.TrimPrefix(s, "unix:"), ":") // nginx logs "unix:/x.sock:"
		if !strings.HasPrefix(p, "/") {
			return Target{}, fmt.Errorf("target %q: unix socket path must be absolute", s)
		}
		return Target{Network: "unix", Address: p}, nil
	case strings.HasPrefix(s, "/"):
		return Target{Network: "unix", Address: s}, nil
	}
	if isPort(s) {
		return Target{Network: "tcp", Address: net.JoinHostPort("127.0.0.1", s)}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Target{}, fmt.Errorf("target %q is not unix:/path, /path, host:port or [v6]:port: %w", s, err)
	}
	if host == "" || !isPort(port) {
		return Target{}, fmt.Errorf("target %q: need a host and a port between 1 and 65535", s)
	}
	return Target{Network: "tcp", Address: net.JoinHostPort(host, port)}, nil
}

func isPort(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n >= 1 && n <= 65535
}
