package nginxconf

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// TargetKind says what a fastcgi_pass (or upstream server) address is.
type TargetKind int

const (
	// TargetInvalid: nginx refuses the address; Target.Err has its message.
	TargetInvalid TargetKind = iota
	// TargetUnix: a unix socket, Target.Path.
	TargetUnix
	// TargetTCP: Target.Host and Target.Port. Host may be a name, resolved
	// by nginx when it loads the configuration (never by us).
	TargetTCP
	// TargetUpstream: a name without port naming an upstream block,
	// Target.Upstream.
	TargetUpstream
	// TargetVariable: the address contains "$" and is evaluated per
	// request; it cannot be known from the configuration.
	TargetVariable
)

func (k TargetKind) String() string {
	switch k {
	case TargetUnix:
		return "unix"
	case TargetTCP:
		return "tcp"
	case TargetUpstream:
		return "upstream"
	case TargetVariable:
		return "variable"
	}
	return "invalid"
}

// Target is a parsed fastcgi_pass address.
type Target struct {
	Kind TargetKind
	// Raw is the argument as nginx sees it (unquoted).
	Raw string
	// Path is the socket path for TargetUnix; a trailing ":" is part of it.
	Path string
	// Host is the host for TargetTCP (an IPv6 literal without brackets), or
	// the upstream name for TargetUpstream.
	Host string
	Port int
	IPv6 bool
	// NoPort is true when no port was written (nginx's u->no_port).
	NoPort bool
	// Upstream is set for TargetUpstream once resolved against the model.
	Upstream *Upstream
	// Err is nginx's message when Kind is TargetInvalid, for example
	// `no port in upstream "127.0.0.1"`.
	Err string
}

// Address renders the target the way nginx prints upstream addresses:
// "unix:/run/php/php8.2-fpm.sock", "127.0.0.1:9000", "[::1]:9000", or the
// upstream name.
func (t Target) Address() string {
	switch t.Kind {
	case TargetUnix:
		return "unix:" + t.Path
	case TargetTCP:
		h := t.Host
		if t.IPv6 {
			h = "[" + h + "]"
		}
		return h + ":" + strconv.Itoa(t.Port)
	}
	return t.Raw
}

// sunPathMax is sizeof(struct sockaddr_un.sun_path) on Linux.
const sunPathMax = 108

// ParseTarget parses a fastcgi_pass argument as nginx does at configuration
// time (ngx_parse_url with no_resolve and no URI part). A name without port
// comes back as TargetUpstream with NoPort set but Upstream nil: whether
// such an upstream exists is decided by Model, which sees all of them.
func ParseTarget(raw string) Target {
	t := Target{Raw: raw}
	invalid := func(msg string) Target {
		t.Kind = TargetInvalid
		t.Err = fmt.Sprintf("%s in upstream %q", msg, raw)
		return t
	}
	if strings.Contains(raw, "$") {
		t.Kind = TargetVariable
		return t
	}
	if len(raw) >= 5 && strings.EqualFold(raw[:5], "unix:") {
		p := raw[5:]
		switch {
		case p == "":
			return invalid("no path in the unix domain socket")
		case len(p)+1 > sunPathMax:
			return invalid("too long path in the unix domain socket")
		}
		t.Kind, t.Path = TargetUnix, p
		return t
	}
	var host, port string
	hasPort := false
	if strings.HasPrefix(raw, "[") {
		end := strings.IndexByte(raw, ']')
		if end < 0 {
			return invalid("invalid host")
		}
		rest := raw[end+1:]
		if strings.Contains(rest, "/") {
			return invalid("invalid host")
		}
		if rest != "" {
			if rest[0] != ':' {
				return invalid("invalid host")
			}
			port, hasPort = rest[1:], true
		}
		host = raw[1:end]
		t.IPv6 = true
	} else {
		if strings.ContainsAny(raw, "/?") {
			return invalid("invalid host")
		}
		if i := strings.IndexByte(raw, ':'); i >= 0 {
			host, port, hasPort = raw[:i], raw[i+1:], true
		} else {
			host = raw
		}
	}
	if hasPort {
		n, ok := atoi(port)
		if !ok || n < 1 || n > 65535 {
			return invalid("invalid port")
		}
		t.Port = n
	}
	if host == "" {
		return invalid("no host")
	}
	if t.IPv6 {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() || a.Zone() != "" {
			return invalid("invalid IPv6 address")
		}
	}
	t.Host = host
	if !hasPort {
		// Only an upstream block can give a port; Model decides.
		t.NoPort = true
		t.Kind = TargetUpstream
		return t
	}
	t.Kind = TargetTCP
	return t
}

// atoi is ngx_atoi: decimal digits only, no sign. Values past any port
// number are clamped rather than overflowing.
func atoi(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = min(n*10+int(s[i]-'0'), 1<<30)
	}
	return n, true
}
