package fpmconf

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrNoListen is returned for a pool without a listen address.
var ErrNoListen = errors.New("no listen address have been defined")

// Address is where a pool listens, parsed as fpm_sockets.c does.
type Address struct {
	Network string // "unix" or "tcp"
	Path    string // unix: the socket path (relative paths are resolved by Pool.Listen)
	// Host is the text before the port, without brackets: an IP literal, a
	// name php-fpm resolves with getaddrinfo (it binds only the FIRST answer,
	// so "localhost" may end up on ::1 only), or "" for a port-only listen.
	Host string
	Port int
	IP   net.IP // Host parsed as an IP literal; nil for names and port-only
	// Wildcard: port only. php-fpm 8.2 binds [::] dual-stack (IPv4 clients
	// arrive as ::ffff:a.b.c.d) and falls back to 0.0.0.0 when IPv6 is not
	// available, so it accepts every local address of both families.
	Wildcard bool
	Raw      string
}

// IsName reports whether Host is a host name php-fpm resolves at start;
// callers should warn, because only the first address is bound.
func (a Address) IsName() bool { return a.Network == "tcp" && a.Host != "" && a.IP == nil }

func (a Address) String() string {
	switch {
	case a.Network == "unix":
		return "unix:" + a.Path
	case a.Wildcard:
		return "*:" + strconv.Itoa(a.Port)
	case strings.Contains(a.Host, ":"):
		return "[" + a.Host + "]:" + strconv.Itoa(a.Port)
	}
	return a.Host + ":" + strconv.Itoa(a.Port)
}

// isUnixListen is fpm_sockets_domain_from_address: a ':' anywhere means
// TCP, all digits means a TCP port, anything else is a unix socket path.
func isUnixListen(v string) bool {
	if strings.Contains(v, ":") {
		return false
	}
	return strings.Trim(v, "0123456789") != ""
}

// ParseListen parses a listen value exactly as php-fpm 8.2 does:
//
//	/run/php/x.sock    unix socket (a relative path such as "php.sock" or even
//	                   "localhost" is a unix socket below the prefix)
//	9000               port only: [::]:9000 dual-stack, else 0.0.0.0:9000
//	127.0.0.1:9000     split at the LAST ':'; brackets around the host are
//	[::1]:9000         optional ("::1:9000" works too)
//	localhost:9000     resolved at start; only the first answer is bound
//
// The port must read as 1..65535 with atoi (php-fpm: "invalid port value
// '%s'") and be all digits for getaddrinfo; an empty host (":9000") fails
// in getaddrinfo too. These errors appear only when php-fpm starts, not
// with -t.
func ParseListen(v string) (Address, error) {
	a := Address{Raw: v}
	if v == "" {
		return a, ErrNoListen
	}
	if isUnixListen(v) {
		a.Network, a.Path = "unix", v
		return a, nil
	}
	a.Network = "tcp"
	host, port := "", v
	if i := strings.LastIndexByte(v, ':'); i >= 0 {
		host, port = v[:i], v[i+1:]
		if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
			host = host[1 : len(host)-1]
		}
	} else {
		a.Wildcard = true
	}
	// php-fpm checks atoi(port), then hands the port text to getaddrinfo,
	// which wants a number and nothing after it.
	n := atoi(port)
	if n < 1 || n > 65535 {
		return a, fmt.Errorf("invalid port value '%s'", port)
	}
	a.Port = n
	if t := strings.TrimLeft(strings.TrimLeft(port, " \t\n\v\f\r"), "+"); strings.Trim(t, "0123456789") != "" {
		return a, errors.New("getaddrinfo: Servname not supported for ai_socktype")
	}
	if a.Wildcard {
		return a, nil
	}
	if host == "" {
		return a, errors.New("getaddrinfo: Name or service not known")
	}
	a.Host = host
	a.IP = net.ParseIP(host)
	if a.IP != nil && a.IP.IsUnspecified() {
		// 0.0.0.0 is IPv4 only; :: is dual-stack on Linux (bindv6only=0).
		a.Wildcard = a.IP.To4() == nil
	}
	return a, nil
}

// Covers reports whether a connection to ip:port reaches this address, for
// matching an nginx fastcgi_pass target against a pool. Host names never
// match: resolve them first (and remember php-fpm binds only the first
// answer). 0.0.0.0 covers every IPv4 address, a port-only listen or [::]
// every IPv4 and IPv6 address (dual-stack).
func (a Address) Covers(ip net.IP, port int) bool {
	if a.Network != "tcp" || port != a.Port || ip == nil {
		return false
	}
	switch {
	case a.Wildcard:
		return true
	case a.IP == nil:
		return false
	case a.IP.IsUnspecified(): // 0.0.0.0
		return ip.To4() != nil
	}
	return a.IP.Equal(ip)
}

// SameSocket reports whether two listen addresses name the same socket
// (php-fpm itself only compares the strings, so "127.0.0.1:9000" and
// "[127.0.0.1]:9000" silently share one socket).
func (a Address) SameSocket(b Address) bool {
	if a.Network != b.Network {
		return false
	}
	if a.Network == "unix" {
		return a.Path == b.Path
	}
	if a.Port != b.Port {
		return false
	}
	switch {
	case a.Wildcard || b.Wildcard:
		return a.Wildcard == b.Wildcard
	case a.IP != nil && b.IP != nil:
		return a.IP.Equal(b.IP)
	}
	return strings.EqualFold(a.Host, b.Host)
}

// AllowedClients is a parsed listen.allowed_clients (main/fastcgi.c:
// fcgi_set_allowed_clients). It only applies to TCP pools.
type AllowedClients struct {
	Set     bool     // the option is set (unset or empty: everyone is allowed)
	IPs     []net.IP // the entries php-fpm accepts
	Invalid []string // entries php-fpm rejects: "Wrong IP address '%s' in listen.allowed_clients"
}

// ParseAllowedClients splits on ',' exactly as php-fpm: no blanks are
// trimmed, so "127.0.0.1, 10.0.0.1" makes " 10.0.0.1" invalid. Each entry
// must be an IPv4 or IPv6 literal; names and networks (CIDR) are invalid.
func ParseAllowedClients(v string) AllowedClients {
	if v == "" {
		return AllowedClients{}
	}
	ac := AllowedClients{Set: true}
	for _, e := range strings.Split(v, ",") {
		ip := parseInetPton(e)
		if ip == nil {
			ac.Invalid = append(ac.Invalid, e)
			continue
		}
		ac.IPs = append(ac.IPs, ip)
	}
	return ac
}

// parseInetPton accepts what inet_pton(AF_INET) then inet_pton(AF_INET6)
// accept: dotted quads without leading zeros, IPv6 without zones.
func parseInetPton(s string) net.IP {
	if s == "" || strings.ContainsAny(s, "% \t") {
		return nil
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil
	}
	if !strings.Contains(s, ":") {
		return ip.To4()
	}
	return ip.To16()
}

// AllowsClient reports whether php-fpm accepts a connection from ip
// (fcgi_is_allowed). With no valid entry php-fpm logs "There are no allowed
// addresses" and refuses everyone. An IPv4 client matches IPv4 entries; an
// IPv6 client matches IPv6 entries and, when it is an IPv4-mapped address
// (a dual-stack listen), IPv4 entries. php-fpm compares only the first 12
// bytes of IPv6 addresses, so ::1 also admits ::2 — reproduced here.
func (ac AllowedClients) AllowsClient(ip net.IP) bool {
	if !ac.Set {
		return true
	}
	if ip == nil {
		return false
	}
	// net.IP does not keep the family; a 4-byte form means an IPv4 socket.
	if len(ip) == net.IPv4len {
		for _, e := range ac.IPs {
			if len(e) == net.IPv4len && e.Equal(ip) {
				return true
			}
		}
		return false
	}
	ip16 := ip.To16()
	mapped := ip.To4() != nil
	for _, e := range ac.IPs {
		if len(e) == net.IPv6len && string(e[:12]) == string(ip16[:12]) {
			return true
		}
		if len(e) == net.IPv4len && mapped && string(ip16[12:]) == string(e) {
			return true
		}
	}
	return false
}
