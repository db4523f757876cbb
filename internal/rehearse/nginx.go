package rehearse

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
)

// tempPaths are nginx's http-level temporary directories; their compiled
// defaults (/var/lib/nginx/…) belong to the host's nginx.
var tempPaths = []string{"client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"}

// isPass reports the directives that make nginx connect somewhere: all of
// them are moved onto loopback, so the lab never talks to another machine
// and never resolves a name. A switch, not a map: a package-level map is
// built at every fpmdoctor start, and this one's first allocation in its
// size class cost each start ~5 page faults (docs/probe.md, "Start-up").
func isPass(directive string) bool {
	switch directive {
	case "fastcgi_pass", "proxy_pass", "uwsgi_pass", "scgi_pass", "grpc_pass", "memcached_pass":
		return true
	}
	return false
}

// listenSocketOptions may be given once per address:port; two original
// addresses ([::]:80 and 80) become one lab address, so the second loses
// them.
var listenSocketOptions = []string{"default_server", "default", "backlog=", "rcvbuf=", "sndbuf=", "reuseport", "deferred", "bind", "fastopen=", "so_keepalive=", "accept_filter=", "setfib="}

// rewriteNginx maps every path, listen, pass and user of the nginx config
// and records its PHP sites.
func (t *tree) rewriteNginx(cfg *nginxconf.Config) error {
	upstreams := map[string]bool{}
	cfg.Walk(func(d *nginxconf.Directive) bool {
		if d.Name == "upstream" && len(d.Args) > 0 {
			upstreams[strings.ToLower(d.Arg(0))] = true
		}
		return true
	})
	var err error
	fail := func(e error) {
		if err == nil {
			err = e
		}
	}
	labListens := map[string]map[string]bool{} // lab address → options already given
	var pidSeen bool
	cfg.Walk(func(d *nginxconf.Directive) bool {
		if err != nil {
			return false
		}
		where := d.Pos()
		arg0 := func(v string) {
			if len(d.Args) > 0 {
				a := d.Args[0]
				t.addEdit(d.File, a.Start, a.End, quote(v))
			}
		}
		abs := func(p string) string {
			if filepath.IsAbs(p) {
				return p
			}
			return filepath.Join(t.nginxPrefixOrig(), p)
		}
		switch d.Name {
		case "pid", "lock_file":
			if d.Parent == nil {
				to := filepath.Join(t.lab.Dir, "run", "nginx.pid")
				if d.Name == "lock_file" {
					to = filepath.Join(t.lab.Dir, "run", "nginx.lock")
				} else {
					pidSeen = true
					t.nginxPid = to
				}
				arg0(to)
				t.note(Mapping{Kind: "path", From: abs(d.Arg(0)), To: to, Where: where})
			}
		case "error_log":
			if p := d.Arg(0); p != "stderr" && !strings.HasPrefix(p, "syslog:") && !strings.HasPrefix(p, "memory:") {
				to := t.mapFile(abs(p), where)
				arg0(to)
				if !slices.Contains(t.nginxErrorLogs, to) {
					t.nginxErrorLogs = append(t.nginxErrorLogs, to)
				}
			}
		case "access_log":
			p := d.Arg(0)
			switch {
			case p == "off" || strings.HasPrefix(p, "syslog:"):
			case strings.Contains(p, "$"):
				to := filepath.Join(t.lab.Dir, "log", "access.log")
				arg0(to)
				t.note(Mapping{Kind: "path", From: p, To: to, Where: where, Note: "a path with variables"})
			default:
				arg0(t.mapFile(abs(p), where))
			}
		case "client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path", "working_directory":
			arg0(t.mapFile(abs(d.Arg(0)), where))
		case "root", "alias":
			p := d.Arg(0)
			to := filepath.Join(t.lab.Dir, "www", strconv.Itoa(len(t.docroots)))
			note := "empty lab document root with the probe script"
			if strings.Contains(p, "$") {
				note = "a path with variables; " + note
			} else {
				to = t.mapPath(abs(p))
			}
			arg0(to)
			t.docroots[to] = true
			t.rootDirs[d.Syntax] = to
			t.note(Mapping{Kind: "docroot", From: p, To: to, Where: where, Note: note})
		case "user":
			if d.Parent == nil && len(d.Args) > 0 {
				arg0(t.mapUser(d.Arg(0), false, where))
				if len(d.Args) > 1 {
					a := d.Args[1]
					t.addEdit(d.File, a.Start, a.End, quote(t.mapUser(d.Arg(1), true, where)))
				}
			}
		case "daemon":
			// The lab's start waits for nginx's parent to exit.
			if d.Arg(0) == "off" {
				arg0("on")
				t.note(Mapping{Kind: "setting", From: "daemon off", To: "daemon on", Where: where})
			}
		case "ssl_certificate", "ssl_certificate_key", "ssl_trusted_certificate", "ssl_client_certificate", "ssl_dhparam", "ssl_password_file", "auth_basic_user_file":
			if p := d.Arg(0); !strings.Contains(p, "$") && !strings.HasPrefix(p, "data:") {
				if to, ok := t.copyFile(abs(p)); ok {
					arg0(to)
					t.note(Mapping{Kind: "path", From: abs(p), To: to, Where: where, Note: "copied"})
				} else if d.Name == "ssl_certificate" || d.Name == "ssl_certificate_key" {
					to, e := t.labCertificate(d.Name == "ssl_certificate_key")
					if e != nil {
						fail(e)
						return false
					}
					arg0(to)
					t.note(Mapping{Kind: "path", From: abs(p), To: to, Where: where, Note: "not in the tree: a self-signed lab certificate"})
				}
			}
		case "listen":
			fail(t.rewriteListen(d, labListens))
		case "resolver":
			// Passes with variables resolve names per request: point the
			// resolver at a loopback port where nothing answers, so the lab
			// never asks the network.
			if len(d.Args) > 0 {
				port, e := t.mapPort(53, where)
				if e != nil {
					fail(e)
					return false
				}
				t.addEdit(d.File, d.Args[0].Start, d.Args[len(d.Args)-1].End, "127.0.0.1:"+strconv.Itoa(port))
				t.note(Mapping{Kind: "address", From: "resolver " + strings.Join(d.ArgValues(), " "), To: "127.0.0.1:" + strconv.Itoa(port), Where: where, Note: "nothing answers there: the lab resolves no name"})
			}
		case "server":
			if d.Parent != nil && d.Parent.Name == "upstream" && len(d.Args) > 0 {
				fail(t.rewriteTarget(d, 0, d.Arg(0)))
			}
			if d.Parent != nil && d.Parent.Name == "http" && d.IsBlock && len(d.Find("listen")) == 0 {
				// No listen: nginx listens on *:80 (as root).
				port, e := t.mapPort(80, where)
				if e != nil {
					fail(e)
					return false
				}
				addr := "127.0.0.1:" + strconv.Itoa(port)
				t.addEdit(d.File, d.BlockOpen+1, d.BlockOpen+1, " listen "+addr+";")
				if labListens[addr] == nil {
					labListens[addr] = map[string]bool{}
				}
			}
		case "http":
			if d.IsBlock {
				var add []string
				for _, name := range tempPaths {
					if d.FindOne(name) == nil {
						to := filepath.Join(t.lab.Dir, "tmp", strings.TrimSuffix(name, "_temp_path"))
						add = append(add, name+" "+to+";")
						t.note(Mapping{Kind: "path", From: name + " (compiled default)", To: to, Where: where})
					}
				}
				if len(add) > 0 {
					// On the line of "{": line numbers stay the host's.
					t.addEdit(d.File, d.BlockOpen+1, d.BlockOpen+1, " "+strings.Join(add, " "))
				}
			}
		}
		if isPass(d.Name) && len(d.Args) > 0 {
			fail(t.rewritePass(d, upstreams))
		}
		return true
	})
	if err != nil {
		return err
	}
	// Includes are spliced out of the tree; Config.Includes keeps them.
	// Relative ones resolve against the lab's conf prefix, a mirror.
	for _, inc := range cfg.Includes {
		d := inc.Directive
		if p := d.Arg(0); len(d.Args) > 0 && filepath.IsAbs(p) {
			t.addEdit(d.File, d.Args[0].Start, d.Args[0].End, quote(t.mapPath(p)))
			t.note(Mapping{Kind: "include", From: p, To: t.mapPath(p), Where: d.Pos()})
		}
	}
	if !pidSeen {
		t.nginxPid = filepath.Join(t.lab.Dir, "run", "nginx.pid")
		t.nginxPidAdded = true
		t.note(Mapping{Kind: "path", From: "pid (compiled default)", To: t.nginxPid})
	}
	return t.findSites(cfg)
}

// nginxPrefixOrig is the host's nginx prefix, against which relative
// paths resolve.
func (t *tree) nginxPrefixOrig() string {
	return "/" + strings.TrimPrefix(strings.TrimPrefix(t.nginxPrefix, t.mirror), "/")
}

// rewriteListen moves a listen onto 127.0.0.1 and the original port's lab
// port; a unix listen into the mirror.
func (t *tree) rewriteListen(d *nginxconf.Directive, labListens map[string]map[string]bool) error {
	if len(d.Args) == 0 {
		return nil
	}
	where := d.Pos()
	a := d.Args[0]
	var addr string
	if p, ok := strings.CutPrefix(a.Value, "unix:"); ok {
		addr = "unix:" + t.mapSocket(p, where)
	} else {
		port, ok := listenPort(a.Value)
		if !ok {
			return nil // nginx refuses it itself
		}
		lp, err := t.mapPort(port, where)
		if err != nil {
			return err
		}
		addr = "127.0.0.1:" + strconv.Itoa(lp)
	}
	given := labListens[addr]
	if given != nil && d.Parent != nil && t.serverListens[d.Parent][addr] {
		// [::]:80 next to 80: one lab address, listened on once.
		t.addEdit(d.File, d.Start, d.End, "# fpmdoctor lab: "+strings.ReplaceAll(a.Value, "\n", " ")+" is "+addr+" already")
		t.note(Mapping{Kind: "dropped", From: "listen " + a.Value, To: addr, Where: where, Note: "the same lab address as another listen of this server"})
		return nil
	}
	if given == nil {
		given = map[string]bool{}
		labListens[addr] = given
	}
	parts := []string{addr}
	for _, p := range d.Args[1:] {
		v := p.Value
		if strings.HasPrefix(v, "ipv6only=") {
			continue
		}
		opt := ""
		for _, o := range listenSocketOptions {
			if v == o || strings.HasSuffix(o, "=") && strings.HasPrefix(v, o) {
				opt = strings.TrimSuffix(o, "=")
				if o == "default" {
					opt = "default_server"
				}
			}
		}
		if opt != "" {
			if given[opt] {
				continue
			}
			given[opt] = true
		}
		parts = append(parts, p.Raw)
	}
	t.addEdit(d.File, a.Start, d.Args[len(d.Args)-1].End, strings.Join(parts, " "))
	if t.serverListens == nil {
		t.serverListens = map[*nginxconf.Directive]map[string]bool{}
	}
	if s := d.Parent; s != nil {
		if t.serverListens[s] == nil {
			t.serverListens[s] = map[string]bool{}
		}
		t.serverListens[s][addr] = true
	}
	return nil
}

// listenPort is the port of a listen address: "80", "*:80", "1.2.3.4",
// "[::]:443", "example.com:8080".
func listenPort(v string) (int, bool) {
	if n, err := strconv.Atoi(v); err == nil {
		return n, n > 0 && n < 65536
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		// No port: 80.
		return 80, !strings.Contains(v, "/")
	}
	n, err := strconv.Atoi(port)
	return n, err == nil && n > 0 && n < 65536
}

// rewritePass moves fastcgi_pass (and proxy_pass, …) targets onto the lab:
// unix sockets into the mirror, TCP ports to their lab ports on 127.0.0.1.
// Upstream names stay (their servers are rewritten); addresses with
// variables are left, since they are only resolved per request.
func (t *tree) rewritePass(d *nginxconf.Directive, upstreams map[string]bool) error {
	v := d.Arg(0)
	if strings.Contains(v, "$") {
		return nil
	}
	scheme := ""
	if d.Name != "fastcgi_pass" && d.Name != "memcached_pass" {
		if i := strings.Index(v, "://"); i >= 0 {
			scheme, v = v[:i+3], v[i+3:]
		}
	}
	rest := ""
	if scheme != "" && !strings.HasPrefix(v, "unix:") {
		if i := strings.IndexByte(v, '/'); i >= 0 {
			v, rest = v[:i], v[i:]
		}
	}
	if upstreams[strings.ToLower(v)] {
		return nil
	}
	defPort := 80
	if scheme == "https://" || scheme == "grpcs://" {
		defPort = 443
	}
	to, err := t.mapTarget(v, defPort, d.Pos(), d.Name == "fastcgi_pass")
	if err != nil || to == "" {
		return err
	}
	a := d.Args[0]
	t.addEdit(d.File, a.Start, a.End, quote(scheme+to+rest))
	return nil
}

// rewriteTarget rewrites argument i of an upstream's server.
func (t *tree) rewriteTarget(d *nginxconf.Directive, i int, v string) error {
	to, err := t.mapTarget(v, 80, d.Pos(), true)
	if err != nil || to == "" {
		return err
	}
	a := d.Args[i]
	t.addEdit(d.File, a.Start, a.End, quote(to))
	return nil
}

// mapTarget maps one address nginx connects to.
func (t *tree) mapTarget(v string, defPort int, where string, fastcgi bool) (string, error) {
	if p, ok := strings.CutPrefix(v, "unix:"); ok {
		// proxy_pass http://unix:/path:/uri keeps its own ":" suffix.
		p, suffix, _ := strings.Cut(p, ":")
		s := "unix:" + t.mapSocket(p, where)
		if suffix != "" || strings.HasSuffix(v, ":") {
			s += ":" + suffix
		}
		return s, nil
	}
	host, port := v, defPort
	if h, p, err := net.SplitHostPort(v); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil {
			return "", nil // nginx refuses it itself
		}
		host, port = h, n
	}
	lp, err := t.mapPort(port, where)
	if err != nil {
		return "", err
	}
	if fastcgi {
		if t.passHosts[port] == nil {
			t.passHosts[port] = map[string]bool{}
		}
		t.passHosts[port][strings.Trim(host, "[]")] = true
	}
	if !isLoopback(host) {
		t.note(Mapping{Kind: "address", From: v, To: "127.0.0.1:" + strconv.Itoa(lp), Where: where, Note: "the lab only talks to loopback"})
	}
	return "127.0.0.1:" + strconv.Itoa(lp), nil
}

func isLoopback(h string) bool {
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
