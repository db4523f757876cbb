package nginxconf

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Model is what the diagnosis needs from an nginx configuration.
type Model struct {
	// User and Group the workers run as, as written. UserDirective is nil
	// when there is no "user" directive: then nginx uses its compiled-in
	// default (nobody/nogroup unless built --user=…), and only when the
	// master runs as root. With one argument Group equals User, as in nginx.
	User, Group   string
	UserDirective *Directive
	// PID is the "pid" path, "" when not set (the compiled-in default
	// applies); PIDDirective is the directive.
	PID          string
	PIDDirective *Directive
	// ErrorLogs are the configured error_log directives, every context.
	// Without a main-level one nginx logs to its compiled-in default
	// (Debian 12: stderr).
	ErrorLogs []*ErrorLog
	// HTTP is the http block, nil when there is none.
	HTTP      *Directive
	Servers   []*Server
	Upstreams []*Upstream
	// FastCGIPasses lists every fastcgi_pass inside a server, in file order.
	FastCGIPasses []*FastCGIPass
	// Problems are model-level errors nginx would report (bad values,
	// addresses, duplicate upstreams).
	Problems []Problem

	pageSize  int64
	upstreams map[string]*Upstream
	children  *childIndex
}

// bigBlock is the size from which a block's children are looked up by
// name through an index: http holds one server per site, and every
// location's effective settings climb to it for each directive the
// location does not set, so scanning it made Settings linear in the number
// of sites and a check of all of them quadratic. Small blocks are scanned.
const bigBlock = 64

// childIndex holds the direct children of big blocks by name, in file
// order, built on first use. The configuration must not change after the
// Model is built (it never does: a fix reloads and rebuilds).
type childIndex struct {
	mu sync.Mutex
	m  map[*Directive]map[string][]*Directive
}

// find is d.Find(name) through the index when d's block is big.
func (x *childIndex) find(d *Directive, name string) []*Directive {
	if d == nil || len(d.Block) < bigBlock || x == nil {
		return d.Find(name)
	}
	x.mu.Lock()
	byName, ok := x.m[d]
	if !ok {
		byName = map[string][]*Directive{}
		for _, c := range d.Block {
			byName[c.Name] = append(byName[c.Name], c)
		}
		x.m[d] = byName
	}
	x.mu.Unlock()
	return byName[name]
}

// inherited is d.Inherited(name) through the index.
func (x *childIndex) inherited(d *Directive, name string) *Directive {
	for cur := d; cur != nil; cur = cur.Parent {
		if found := x.find(cur, name); len(found) > 0 {
			return found[len(found)-1]
		}
	}
	return nil
}

// inheritedAll is d.InheritedAll(name) through the index.
func (x *childIndex) inheritedAll(d *Directive, name string) []*Directive {
	for cur := d; cur != nil; cur = cur.Parent {
		if found := x.find(cur, name); len(found) > 0 {
			return found
		}
	}
	return nil
}

// ErrorLog is one error_log directive.
type ErrorLog struct {
	Path  string // file path, "stderr", "syslog:…", "memory:…"
	Level string // "error" when not written
	// Context is the enclosing block (http, server, location…), nil at
	// the main level.
	Context   *Directive
	Directive *Directive
}

// Server is one server block of http.
type Server struct {
	Directive     *Directive
	Names         []string
	Listens       []Listen
	Locations     []*Location // every location, nested ones too, in file order
	FastCGIPasses []*FastCGIPass
}

// Listen is one listen directive.
type Listen struct {
	Address       string // first argument: "80", "127.0.0.1:8080", "[::]:443", "unix:/…"
	DefaultServer bool
	Directive     *Directive
}

// Location is one location block.
type Location struct {
	// Modifier is "", "=", "~", "~*", "^~", or "@" for a named location.
	Modifier  string
	Path      string
	Parent    *Location // enclosing location, nil at server level
	Server    *Server
	Directive *Directive
}

// FastCGIPass is one fastcgi_pass directive.
type FastCGIPass struct {
	Directive *Directive
	Server    *Server
	// Location is the innermost enclosing location, nil when the directive
	// is at server level (which nginx rejects). Directive.Parent tells
	// whether it sits inside an "if".
	Location *Location
	Target   Target

	model *Model
}

// Settings returns the effective fastcgi settings where the pass is.
func (p *FastCGIPass) Settings() Settings { return p.model.Settings(p.Directive.Parent) }

// ReadTimeout is Settings().ReadTimeout and Settings().From
// ["fastcgi_read_timeout"] (nil: nginx's default) without the rest of
// Settings, which builds every fastcgi_param: a check that compares each
// site's timeout with its pool's needs only this.
func (p *FastCGIPass) ReadTimeout() (time.Duration, *Directive) {
	return p.model.timeout(p.Directive.Parent, "fastcgi_read_timeout")
}

// Inherited is the directive name in effect where the pass is (its own
// block's, else the nearest enclosing block's), nil when none sets it:
// Directive.Inherited through the model's index, which a lookup per site
// needs because http holds every site's server.
func (p *FastCGIPass) Inherited(name string) *Directive {
	ctx := p.Directive.Parent
	if p.model == nil {
		return ctx.Inherited(name)
	}
	if ctx == nil {
		ctx = p.model.HTTP
	}
	return p.model.children.inherited(ctx, name)
}

// NextUpstream is Settings().NextUpstream without the rest of Settings:
// the conditions on which nginx passes a request to the next server.
func (p *FastCGIPass) NextUpstream() []string {
	if d := p.Inherited("fastcgi_next_upstream"); d != nil {
		return d.ArgValues()
	}
	return []string{"error", "timeout"}
}

// timeout is the effective duration directive name in ctx (nil: the http
// level) and the directive it comes from, nginx's 60s default when unset
// or unparsable, as Settings computes it.
func (m *Model) timeout(ctx *Directive, name string) (time.Duration, *Directive) {
	if ctx == nil {
		ctx = m.HTTP
	}
	if ctx == nil {
		return 60 * time.Second, nil
	}
	d := m.children.inherited(ctx, name)
	if d == nil {
		return 60 * time.Second, nil
	}
	if v, err := ParseDuration(d.Arg(0)); err == nil {
		return v, d
	}
	return 60 * time.Second, d
}

// Upstream is one upstream block.
type Upstream struct {
	Name      string
	Directive *Directive
	Servers   []UpstreamServer
}

// UpstreamServer is one server line of an upstream block.
type UpstreamServer struct {
	Directive *Directive
	// Target is the address; a name without port gets port 80, nginx's
	// default for upstream servers (NoPort stays true).
	Target      Target
	Weight      int
	MaxFails    int
	FailTimeout time.Duration
	Backup      bool
	Down        bool
	// Params holds every parameter as written: "weight" → "5", "backup" → "".
	Params map[string]string
}

// Upstream returns the upstream block named name (case-insensitive, as
// nginx compares them), or nil.
func (m *Model) Upstream(name string) *Upstream { return m.upstreams[strings.ToLower(name)] }

// Model builds the model of the configuration.
func (c *Config) Model() *Model {
	m := &Model{pageSize: int64(os.Getpagesize()), upstreams: map[string]*Upstream{},
		children: &childIndex{m: map[*Directive]map[string][]*Directive{}}}
	problem := func(d *Directive, format string, args ...any) {
		m.Problems = append(m.Problems, Problem{File: d.File, Line: c.reportLine(d), Message: fmt.Sprintf(format, args...)})
	}

	for _, d := range c.Directives {
		switch d.Name {
		case "user":
			if len(d.Args) < 1 || len(d.Args) > 2 {
				problem(d, `invalid number of arguments in "user" directive`)
				continue
			}
			m.UserDirective, m.User, m.Group = d, d.Arg(0), d.Arg(0)
			if len(d.Args) == 2 {
				m.Group = d.Arg(1)
			}
		case "pid":
			m.PIDDirective, m.PID = d, d.Arg(0)
		case "http":
			if m.HTTP == nil {
				m.HTTP = d
			}
		}
	}

	c.Walk(func(d *Directive) bool {
		if d.IsBlock && isCustomBlock(d.Name) {
			return false // map, types…: their lines are data, not directives
		}
		switch d.Name {
		case "error_log":
			l := &ErrorLog{Path: d.Arg(0), Level: "error", Context: d.Parent, Directive: d}
			if len(d.Args) > 1 {
				l.Level = d.Arg(1)
			}
			m.ErrorLogs = append(m.ErrorLogs, l)
		case "upstream":
			if d.Parent == nil || d.Parent.Name != "http" || !d.IsBlock {
				return false
			}
			u := &Upstream{Name: d.Arg(0), Directive: d}
			key := strings.ToLower(u.Name)
			if m.upstreams[key] != nil {
				problem(d, `duplicate upstream "%s"`, u.Name)
			} else {
				m.upstreams[key] = u
			}
			m.Upstreams = append(m.Upstreams, u)
			for _, s := range d.Find("server") {
				u.Servers = append(u.Servers, upstreamServer(s, problem))
			}
			return false
		case "fastcgi_read_timeout", "fastcgi_connect_timeout", "fastcgi_send_timeout":
			if len(d.Args) != 1 {
				problem(d, `invalid number of arguments in "%s" directive`, d.Name)
			} else if _, err := ParseDuration(d.Arg(0)); err != nil {
				problem(d, `"%s" directive invalid value`, d.Name)
			}
		case "fastcgi_buffer_size":
			if len(d.Args) != 1 {
				problem(d, `invalid number of arguments in "%s" directive`, d.Name)
			} else if _, err := ParseSize(d.Arg(0)); err != nil {
				problem(d, `"%s" directive invalid value`, d.Name)
			}
		case "fastcgi_buffers":
			if _, _, err := parseBufs(d); err != nil {
				problem(d, "%v", err)
			}
		case "fastcgi_pass":
			if d.Ancestor("server") == nil || d.Ancestor("location") == nil {
				problem(d, `"fastcgi_pass" directive is not allowed here`)
			}
		}
		return true
	})

	duplicates(c.Directives, problem)

	if m.HTTP != nil {
		for _, sd := range m.HTTP.Find("server") {
			if sd.IsBlock {
				m.Servers = append(m.Servers, m.server(sd, problem))
			}
		}
	}
	return m
}

func (m *Model) server(sd *Directive, problem func(*Directive, string, ...any)) *Server {
	s := &Server{Directive: sd}
	for _, d := range sd.Find("server_name") {
		s.Names = append(s.Names, d.ArgValues()...)
	}
	for _, d := range sd.Find("listen") {
		l := Listen{Address: d.Arg(0), Directive: d}
		for _, a := range d.Args[min(1, len(d.Args)):] {
			if a.Value == "default_server" || a.Value == "default" {
				l.DefaultServer = true
			}
		}
		s.Listens = append(s.Listens, l)
	}
	var walk func(ds []*Directive, loc *Location)
	walk = func(ds []*Directive, loc *Location) {
		for _, d := range ds {
			switch {
			case d.Name == "location" && d.IsBlock:
				l := &Location{Parent: loc, Server: s, Directive: d}
				l.Modifier, l.Path = locationArgs(d)
				s.Locations = append(s.Locations, l)
				walk(d.Block, l)
			case d.Name == "fastcgi_pass" && !d.IsBlock:
				p := &FastCGIPass{Directive: d, Server: s, Location: loc, model: m}
				if len(d.Args) != 1 {
					problem(d, `invalid number of arguments in "fastcgi_pass" directive`)
					p.Target = Target{Kind: TargetInvalid, Err: `invalid number of arguments in "fastcgi_pass" directive`}
				} else {
					p.Target = m.resolve(ParseTarget(d.Arg(0)))
					if p.Target.Kind == TargetInvalid {
						problem(d, "%s", p.Target.Err)
					}
				}
				s.FastCGIPasses = append(s.FastCGIPasses, p)
				m.FastCGIPasses = append(m.FastCGIPasses, p)
			case d.IsBlock && !isCustomBlock(d.Name) && d.Name != "server":
				walk(d.Block, loc) // if, limit_except…
			}
		}
	}
	walk(sd.Block, nil)
	return s
}

// resolve ties a parsed fastcgi_pass target to the upstream blocks, as
// ngx_http_upstream_add and ngx_http_upstream_init_round_robin do.
func (m *Model) resolve(t Target) Target {
	switch t.Kind {
	case TargetUpstream:
		if u := m.Upstream(t.Host); u != nil {
			t.Upstream = u
			return t
		}
		t.Kind = TargetInvalid
		t.Err = fmt.Sprintf("no port in upstream %q", t.Raw)
	case TargetTCP:
		if !t.IPv6 && m.Upstream(t.Host) != nil {
			t.Kind = TargetInvalid
			t.Err = fmt.Sprintf("upstream %q may not have port %d", t.Host, t.Port)
		}
	}
	return t
}

func upstreamServer(d *Directive, problem func(*Directive, string, ...any)) UpstreamServer {
	us := UpstreamServer{Directive: d, Weight: 1, MaxFails: 1, FailTimeout: 10 * time.Second, Params: map[string]string{}}
	if len(d.Args) == 0 {
		problem(d, `invalid number of arguments in "server" directive`)
		us.Target = Target{Kind: TargetInvalid, Err: `invalid number of arguments in "server" directive`}
		return us
	}
	us.Target = ParseTarget(d.Arg(0))
	if us.Target.Kind == TargetUpstream {
		// Inside upstream{} a name without port means port 80.
		us.Target.Kind, us.Target.Port = TargetTCP, 80
	}
	if us.Target.Kind == TargetInvalid {
		problem(d, "%s", us.Target.Err)
	}
	for _, a := range d.Args[1:] {
		name, val, _ := strings.Cut(a.Value, "=")
		us.Params[name] = val
		switch name {
		case "weight":
			if n, ok := atoi(val); ok && n > 0 {
				us.Weight = n
			} else {
				problem(d, `invalid parameter "%s"`, a.Value)
			}
		case "max_fails":
			if n, ok := atoi(val); ok {
				us.MaxFails = n
			} else {
				problem(d, `invalid parameter "%s"`, a.Value)
			}
		case "fail_timeout":
			if dur, err := parseSeconds(val); err == nil {
				us.FailTimeout = dur
			} else {
				problem(d, `invalid parameter "%s"`, a.Value)
			}
		case "backup":
			us.Backup = true
		case "down":
			us.Down = true
		}
	}
	return us
}

func locationArgs(d *Directive) (mod, path string) {
	switch len(d.Args) {
	case 0:
		return "", ""
	case 1:
		v := d.Arg(0)
		switch {
		case strings.HasPrefix(v, "="):
			return "=", v[1:]
		case strings.HasPrefix(v, "~*"):
			return "~*", v[2:]
		case strings.HasPrefix(v, "~"):
			return "~", v[1:]
		case strings.HasPrefix(v, "@"):
			return "@", v[1:]
		}
		return "", v
	}
	return d.Arg(0), d.Arg(1)
}

// Settings are the effective fastcgi-related values in a context (a
// location or an "if" in it), after nginx's inheritance.
type Settings struct {
	ReadTimeout, ConnectTimeout, SendTimeout time.Duration
	BufferSize                               int64
	BuffersNumber                            int
	BuffersSize                              int64
	NextUpstream                             []string
	// Root is the root directive's value, "html" (relative to nginx's
	// prefix) by default.
	Root   string
	Params []Param
	// From maps a directive name to the directive the value came from;
	// a name missing from it means nginx's default applies.
	From map[string]*Directive
}

// Param is one effective fastcgi_param.
type Param struct {
	Name, Value string
	IfNotEmpty  bool
	Directive   *Directive
}

// Param returns the last effective fastcgi_param named name.
func (s Settings) Param(name string) (Param, bool) {
	for i := len(s.Params) - 1; i >= 0; i-- {
		if s.Params[i].Name == name {
			return s.Params[i], true
		}
	}
	return Param{}, false
}

// Settings computes the effective fastcgi settings in ctx (usually a
// location directive; nil means the http level), with the defaults of
// ngx_http_fastcgi_merge_loc_conf for what is not set anywhere.
func (m *Model) Settings(ctx *Directive) Settings {
	if ctx == nil {
		ctx = m.HTTP
	}
	s := Settings{
		ReadTimeout:    60 * time.Second,
		ConnectTimeout: 60 * time.Second,
		SendTimeout:    60 * time.Second,
		BufferSize:     m.pageSize,
		BuffersNumber:  8,
		BuffersSize:    m.pageSize,
		NextUpstream:   []string{"error", "timeout"},
		Root:           "html",
		From:           make(map[string]*Directive, 8), // the names set below
	}
	if ctx == nil {
		return s
	}
	set := func(name string) *Directive {
		d := m.children.inherited(ctx, name)
		if d != nil {
			s.From[name] = d
		}
		return d
	}
	for _, t := range [...]struct {
		name string
		dst  *time.Duration
	}{
		{"fastcgi_read_timeout", &s.ReadTimeout},
		{"fastcgi_connect_timeout", &s.ConnectTimeout},
		{"fastcgi_send_timeout", &s.SendTimeout},
	} {
		var d *Directive
		if *t.dst, d = m.timeout(ctx, t.name); d != nil {
			s.From[t.name] = d
		}
	}
	if d := set("fastcgi_buffer_size"); d != nil {
		if v, err := ParseSize(d.Arg(0)); err == nil {
			s.BufferSize = v
		}
	}
	if d := set("fastcgi_buffers"); d != nil {
		if n, size, err := parseBufs(d); err == nil {
			s.BuffersNumber, s.BuffersSize = n, size
		}
	}
	if d := set("fastcgi_next_upstream"); d != nil {
		s.NextUpstream = d.ArgValues()
	}
	if d := set("root"); d != nil {
		s.Root = d.Arg(0)
	}
	params := m.children.inheritedAll(ctx, "fastcgi_param")
	if len(params) > 0 {
		s.From["fastcgi_param"] = params[0]
		s.Params = make([]Param, 0, len(params))
	}
	for _, d := range params {
		p := Param{Name: d.Arg(0), Value: d.Arg(1), Directive: d}
		p.IfNotEmpty = d.Arg(2) == "if_not_empty"
		s.Params = append(s.Params, p)
	}
	return s
}

func parseBufs(d *Directive) (int, int64, error) {
	if len(d.Args) != 2 {
		return 0, 0, fmt.Errorf(`invalid number of arguments in "%s" directive`, d.Name)
	}
	n, ok := atoi(d.Arg(0))
	size, err := ParseSize(d.Arg(1))
	if !ok || n == 0 || err != nil || size == 0 {
		return 0, 0, fmt.Errorf(`invalid value "%s %s" in "%s" directive`, d.Arg(0), d.Arg(1), d.Name)
	}
	return n, size, nil
}

// reportLine is the line nginx names when it rejects d: the line of the
// token that ended the directive (its ";", or the "{" of a block), since
// nginx checks a directive's arguments only once it has read them all.
// For a directive on one line that is d.Line.
func (c *Config) reportLine(d *Directive) int {
	end := d.End - 1
	if d.IsBlock && d.BlockOpen >= 0 {
		end = d.BlockOpen
	}
	f := c.File(d.File)
	if f == nil || end < d.Start || end >= len(f.Src) {
		return d.Line
	}
	return d.Line + bytes.Count(f.Src[d.Start:end], []byte{'\n'})
}
