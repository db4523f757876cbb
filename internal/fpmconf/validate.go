package fpmconf

import (
	"bufio"
	"bytes"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// Validate returns every problem php-fpm 8.2 would report for c: first
// those found while reading (Config.Problems), then the checks of
// fpm_conf_post_process and fpm_conf_process_all_pools in php-fpm's order,
// then the account lookups `php-fpm -t` makes (fpm_unix_test_config), then
// problems php-fpm finds only when it starts (listen addresses) and a few
// risks php-fpm does not check (Extra).
//
// php-fpm stops at its first error; Validate goes on so that one run shows
// everything, but within a pool it stops at the first fatal problem, since
// later pool checks depend on earlier ones. The first Fatal problem is the
// one php-fpm prints.
//
// Checks that touch the file system (prefix, chroot, chdir, error_log and
// slowlog directories, accounts in /etc/passwd and /etc/group) read the
// host, or Options.Root when set.
func Validate(c *Config) []Problem {
	v := &validator{c: c, fs: rootFS{rootfs.Tree{Root: c.opts.Root, Mounts: c.opts.Mounts}.WithCache()}}
	v.out = append(v.out, c.Problems...)
	v.global()
	if len(c.Pools) == 0 {
		v.add(Problem{File: c.Path, Message: "No pool defined. at least one pool section must be specified in config file",
			Rule: "php-fpm needs at least one [pool] section (usually from an include such as pool.d/*.conf)"})
	}
	for _, p := range c.Pools {
		v.pool(p)
	}
	v.duplicateListen()
	v.accessLogs()
	v.accounts()
	v.startOnly()
	return v.out
}

type validator struct {
	c   *Config
	fs  rootFS
	out []Problem
}

// missingDir reports whether p is not a directory. Offline trees often hold
// /etc only: below a Root, a path whose top directory is absent from the
// tree cannot be judged and counts as present.
func (v *validator) missingDir(p string) bool {
	if v.fs.isDir(p) {
		return false
	}
	if v.fs.tree.Root != "" {
		top, _, _ := strings.Cut(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
		if _, err := v.fs.stat("/" + top); err != nil {
			return false
		}
	}
	return true
}

func (v *validator) add(p Problem) { v.out = append(v.out, p) }

// at fills File and Line from the setting, or from the section header when
// the setting is missing.
func at(s *Section, key string) (string, int) {
	if st := s.Get(key); st != nil {
		return st.File, st.Line
	}
	return s.File, s.Line
}

func (v *validator) global() {
	g := v.c.Global
	if pfx := v.c.opts.Prefix; pfx != "" && v.missingDir(pfx) {
		v.add(Problem{File: v.c.Path, Directive: "--prefix",
			Message: fmt.Sprintf("the global prefix '%s' does not exist or is not a directory", pfx),
			Rule:    "php-fpm's --prefix must be an existing directory"})
	}
	gp := func(key, msg, rule string) {
		f, l := at(g, key)
		v.add(Problem{Directive: key, File: f, Line: l, Message: msg, Rule: rule})
	}
	if g.Int("log_limit") < 512 {
		gp("log_limit", "log_limit must be greater than 512", "log_limit is at least 512 bytes")
		return
	}
	if g.Int("process.max") < 0 {
		gp("process.max", "process_max can't be negative", "process.max is 0 (no limit) or more")
		return
	}
	if g.IsSet("process.priority") {
		if n := g.Int("process.priority"); n < -19 || n > 20 {
			gp("process.priority", "process.priority must be included into [-19,20]", "a nice value from -19 to 20")
			return
		}
	}
	if el := g.Path("error_log"); el != "" && !asciiEqualFold(el, "syslog") {
		if dir := path.Dir(el); v.missingDir(dir) {
			gp("error_log", fmt.Sprintf("failed to open error_log (%s): No such file or directory (2)", el),
				"the directory of error_log must exist; php-fpm creates the file, not the directory")
			return
		}
	}
	if st := g.Get("events.mechanism"); st != nil {
		switch asciiLower(st.Value) { // php-fpm: strcasecmp
		case "epoll", "poll", "select":
		default:
			gp("events.mechanism", fmt.Sprintf("event mechanism '%s' is not available on this system", st.Value),
				"on Linux events.mechanism is epoll (the default), poll or select")
		}
	}
}

func (v *validator) pool(p *Pool) {
	s := &p.Section
	name := p.Name
	fail := func(key, msg, rule string) {
		f, l := at(s, key)
		v.add(Problem{Pool: name, Directive: key, File: f, Line: l, Message: "[pool " + name + "] " + msg, Rule: rule})
	}
	note := func(sev Severity, key, msg, rule string) {
		f, l := at(s, key)
		v.add(Problem{Pool: name, Directive: key, File: f, Line: l, Message: "[pool " + name + "] " + msg, Rule: rule, Severity: sev})
	}
	poolPrefix := ""
	if pfx := s.Value("prefix"); pfx != "" {
		poolPrefix = v.c.fullPath(pfx, "", "")
		if v.missingDir(poolPrefix) {
			fail("prefix", fmt.Sprintf("the prefix '%s' does not exist or is not a directory", poolPrefix),
				"a pool prefix must be an existing directory")
			return
		}
	}
	if !s.IsSet("user") && !v.c.opts.NonRoot && !v.c.opts.AllowRunAsRoot {
		fail("user", "user has not been defined", "a master running as root needs `user` in every pool")
		return
	}
	if s.Value("listen") == "" {
		fail("listen", "no listen address have been defined!", "every pool needs `listen` (a socket path, port or address:port)")
		return
	}
	if s.IsSet("process.priority") {
		if n := s.Int("process.priority"); n < -19 || n > 20 {
			fail("process.priority", "process.priority must be included into [-19,20]", "a nice value from -19 to 20")
			return
		}
	}
	pmSet := s.Get("pm")
	pm, pmErr := parsePM(s.Value("pm"))
	if pmSet == nil || pmErr != nil {
		fail("pm", "the process manager is missing (static, dynamic or ondemand)", "set pm = static, dynamic or ondemand")
		return
	}
	maxChildren := s.Int("pm.max_children")
	if maxChildren < 1 {
		fail("pm.max_children", "pm.max_children must be a positive value", "pm.max_children must be set to 1 or more")
		return
	}
	switch pm {
	case pmDynamic:
		min, max := s.Int("pm.min_spare_servers"), s.Int("pm.max_spare_servers")
		if min <= 0 {
			fail("pm.min_spare_servers", fmt.Sprintf("pm.min_spare_servers(%d) must be a positive value", min),
				"pm = dynamic needs pm.min_spare_servers ≥ 1")
			return
		}
		if max <= 0 {
			fail("pm.max_spare_servers", fmt.Sprintf("pm.max_spare_servers(%d) must be a positive value", max),
				"pm = dynamic needs pm.max_spare_servers ≥ 1")
			return
		}
		if min > maxChildren || max > maxChildren {
			key := "pm.max_spare_servers"
			if min > maxChildren {
				key = "pm.min_spare_servers"
			}
			fail(key, fmt.Sprintf("pm.min_spare_servers(%d) and pm.max_spare_servers(%d) cannot be greater than pm.max_children(%d)", min, max, maxChildren),
				"spare servers cannot exceed pm.max_children")
			return
		}
		if max < min {
			fail("pm.max_spare_servers", fmt.Sprintf("pm.max_spare_servers(%d) must not be less than pm.min_spare_servers(%d)", max, min),
				"pm.max_spare_servers ≥ pm.min_spare_servers")
			return
		}
		start := 0
		if s.IsSet("pm.start_servers") {
			start = s.Int("pm.start_servers")
		}
		if start <= 0 {
			note(Notice, "pm.start_servers", fmt.Sprintf("pm.start_servers is not set. It's been set to %d.", min+(max-min)/2),
				"without pm.start_servers php-fpm starts min + (max - min) / 2 spare servers")
		} else if start < min || start > max {
			fail("pm.start_servers", fmt.Sprintf("pm.start_servers(%d) must not be less than pm.min_spare_servers(%d) and not greater than pm.max_spare_servers(%d)", start, min, max),
				"pm.start_servers must lie between pm.min_spare_servers and pm.max_spare_servers")
			return
		}
		if s.Int("pm.max_spawn_rate") < 1 {
			fail("pm.max_spawn_rate", "pm.max_spawn_rate must be a positive value", "pm.max_spawn_rate ≥ 1 (default 32)")
			return
		}
	case pmOndemand:
		if m := v.c.Global.Value("events.mechanism"); !asciiEqualFold(m, "epoll") {
			fail("pm", "ondemand process manager can ONLY be used when events.mechanism is either epoll (Linux) or kqueue (*BSD).",
				"pm = ondemand needs an edge-triggered event mechanism (epoll on Linux)")
			return
		}
		if n := s.Int("pm.process_idle_timeout"); n < 1 {
			fail("pm.process_idle_timeout", fmt.Sprintf("pm.process_idle_timeout(%ds) must be greater than 0s", n),
				"pm.process_idle_timeout ≥ 1s (default 10s)")
			return
		}
		if b := s.Int("listen.backlog"); b < -1 {
			note(Warning, "listen.backlog", fmt.Sprintf("listen.backlog(%d) was too low for the ondemand process manager. I updated it for you to %d.", b, -1),
				"ondemand needs a listen queue; php-fpm uses the default (-1, the kernel maximum)")
		}
	}
	statusListen := s.Value("pm.status_listen") != ""
	if sp := s.Value("pm.status_path"); sp != "" {
		if msg := checkWebPath("status", sp, !statusListen); msg != "" {
			fail("pm.status_path", msg, "the status path is a URI: starts with '/', at least 2 characters, only letters, digits and /_-.~")
			return
		}
	}
	if pp := s.Value("ping.path"); pp != "" {
		if msg := checkWebPath("ping", pp, true); msg != "" {
			fail("ping.path", msg, "the ping path is a URI: starts with '/', at least 2 characters, only letters, digits and /_-.~")
			return
		}
		if st := s.Get("ping.response"); st != nil && st.Value == "" {
			fail("ping.response", "the ping response page '' is not long enough", "ping.response must not be empty (default pong)")
			return
		}
	}
	slowlog := s.Value("slowlog")
	if slowlog != "" {
		slowlog = v.c.fullPath(slowlog, poolPrefix, "")
	}
	if t := s.Int("request_slowlog_timeout"); t != 0 {
		if slowlog == "" {
			fail("request_slowlog_timeout", "'slowlog' must be specified for use with 'request_slowlog_timeout'",
				"request_slowlog_timeout needs a slowlog file")
			return
		}
		if v.missingDir(path.Dir(slowlog)) {
			f, l := at(s, "slowlog")
			v.add(Problem{Pool: name, Directive: "slowlog", File: f, Line: l,
				Message: fmt.Sprintf("Unable to create or open slowlog(%s): No such file or directory (2)", slowlog),
				Rule:    "the directory of slowlog must exist"})
			return
		}
		if term := s.Int("request_terminate_timeout"); term != 0 && t > term {
			fail("request_slowlog_timeout", fmt.Sprintf("'request_slowlog_timeout' (%d) can't be greater than 'request_terminate_timeout' (%d)", t, term),
				"a request must be logged as slow before it is terminated")
			return
		}
	}
	if s.IsSet("request_slowlog_trace_depth") && s.Int("request_slowlog_trace_depth") != 0 {
		if slowlog == "" {
			fail("request_slowlog_trace_depth", "'slowlog' must be specified for use with 'request_slowlog_trace_depth'",
				"setting request_slowlog_trace_depth requires slowlog, even without request_slowlog_timeout")
			return
		}
		if d := s.Int("request_slowlog_trace_depth"); d <= 0 {
			fail("request_slowlog_trace_depth", fmt.Sprintf("'request_slowlog_trace_depth' (%d) must be a positive value", d),
				"request_slowlog_trace_depth ≥ 1")
			return
		}
	}
	chroot := ""
	if cr := s.Value("chroot"); cr != "" {
		var prefixMisplaced bool
		chroot, prefixMisplaced = v.chrootPath(cr, poolPrefix)
		if prefixMisplaced {
			// php-fpm logs this, ignores it and goes on with the value as is.
			f, l := at(s, "chroot")
			v.add(Problem{Pool: name, Directive: "chroot", File: f, Line: l,
				Message: "'$prefix' must be use at the beginning of the value", Rule: "$prefix may only start the chroot value"})
		}
		if chroot[0] != '/' {
			fail("chroot", fmt.Sprintf("the chroot path '%s' must start with a '/'", chroot), "chroot must be absolute")
			return
		}
		if v.missingDir(chroot) {
			fail("chroot", fmt.Sprintf("the chroot path '%s' does not exist or is not a directory", chroot), "chroot must be an existing directory")
			return
		}
	}
	if cd := s.Value("chdir"); cd != "" {
		cd = v.c.fullPath(cd, poolPrefix, "")
		if cd[0] != '/' {
			fail("chdir", fmt.Sprintf("the chdir path '%s' must start with a '/'", cd), "chdir must be absolute")
			return
		}
		if chroot != "" {
			in := chroot + "/" + cd
			if v.missingDir(in) {
				fail("chdir", fmt.Sprintf("the chdir path '%s' within the chroot path '%s' ('%s') does not exist or is not a directory", cd, chroot, in),
					"chdir is relative to the chroot and must exist inside it")
				return
			}
		} else if v.missingDir(cd) {
			fail("chdir", fmt.Sprintf("the chdir path '%s' does not exist or is not a directory", cd), "chdir must be an existing directory")
			return
		}
	}
}

// chrootPath is fpm_evaluate_full_path with $prefix expansion. A value
// with $prefix elsewhere than at the start is returned unchanged with
// misplaced set, as php-fpm does.
func (v *validator) chrootPath(cr, poolPrefix string) (p string, misplaced bool) {
	if cr[0] == '/' {
		return cr, false
	}
	prefix := poolPrefix
	if prefix == "" {
		prefix = v.c.opts.Prefix
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if i := strings.Index(cr, "$prefix"); i >= 0 {
		if i != 0 {
			return cr, true
		}
		if cr = cr[len("$prefix"):]; cr == "" {
			return prefix, false
		}
	}
	return prefix + "/" + cr, false
}

// checkWebPath applies php-fpm's rules for pm.status_path and ping.path.
func checkWebPath(what, p string, needLen bool) string {
	if p[0] != '/' {
		return fmt.Sprintf("the %s path '%s' must start with a '/'", what, p)
	}
	if needLen && len(p) < 2 {
		return fmt.Sprintf("the %s path '%s' is not long enough", what, p)
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/-_.~", c) >= 0) {
			return fmt.Sprintf("the %s path '%s' must contain only the following characters '[alphanum]/_-.~'", what, p)
		}
	}
	return ""
}

// listenKey is the listen string php-fpm compares: relative unix paths
// are first made absolute.
func (v *validator) listenKey(s *Section, value string) string {
	if value != "" && isUnixListen(value) && value[0] != '/' {
		return v.c.fullPath(value, s.Get("prefix").valueOr(""), "")
	}
	return value
}

type listener struct {
	pool, key string
	sec       *Section
	setting   string
}

func (v *validator) duplicateListen() {
	var ls []listener
	for _, p := range v.c.Pools {
		if val := p.Value("listen"); val != "" {
			ls = append(ls, listener{p.Name, v.listenKey(&p.Section, val), &p.Section, "listen"})
		}
		// pm.status_listen creates a hidden pool "<name>_status".
		if sl := p.Value("pm.status_listen"); sl != "" {
			ls = append(ls, listener{p.Name + "_status", v.listenKey(&p.Section, sl), &p.Section, "pm.status_listen"})
		}
	}
	// php-fpm compares every pair in order and stops at the first: the
	// earliest listener with a twin, and its first twin after it.
	first := map[string]int{}
	a, b := -1, -1
	for j, l := range ls {
		i, ok := first[l.key]
		if !ok {
			first[l.key] = j
			continue
		}
		if a < 0 || i < a {
			a, b = i, j
		}
	}
	if a >= 0 {
		f, l := at(ls[b].sec, ls[b].setting)
		v.add(Problem{Pool: ls[b].pool, Directive: ls[b].setting, File: f, Line: l,
			Message: fmt.Sprintf("[pool %s] unable to set listen address as it's already used in another pool '%s'", ls[b].pool, ls[a].pool),
			Rule:    "two pools cannot listen on the same address"})
	}
	v.sharedSockets(ls)
}

// sharedSockets flags pools whose listen strings differ but name the same
// socket: php-fpm does not notice and silently shares one listening socket,
// so requests land in either pool.
func (v *validator) sharedSockets(ls []listener) {
	type parsed struct {
		i    int
		addr Address
	}
	buckets := map[string][]parsed{} // by socket path or TCP port
	for i, l := range ls {
		a, err := ParseListen(l.key)
		if err != nil {
			continue
		}
		k := "unix:" + a.Path
		if a.Network == "tcp" {
			k = "tcp:" + strconv.Itoa(a.Port)
		}
		buckets[k] = append(buckets[k], parsed{i, a})
	}
	var keys []string
	for k, b := range buckets {
		if len(b) > 1 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		b := buckets[k]
		// A port bucket may hold thousands of pools on distinct addresses
		// (10.0.0.1:9000, 10.0.0.2:9000, ...): compare each only with the
		// later ones that can be the same socket, found through sameKey,
		// instead of with every later one. The pairs come out in the same
		// order as comparing all of them.
		later := map[string][]int{} // sameKey → positions in b, ascending
		for x := range b {
			sk := sameKey(b[x].addr)
			later[sk] = append(later[sk], x)
		}
		for x := range b {
			group := later[sameKey(b[x].addr)]
			for _, y := range group[sort.SearchInts(group, x+1):] {
				li, lj := ls[b[x].i], ls[b[y].i]
				if li.key == lj.key || !b[x].addr.SameSocket(b[y].addr) {
					continue
				}
				f, l := at(lj.sec, lj.setting)
				v.add(Problem{Pool: lj.pool, Directive: lj.setting, File: f, Line: l, Severity: Warning, Extra: true,
					Message: fmt.Sprintf("pools '%s' and '%s' listen on the same socket (%s and %s)", li.pool, lj.pool, li.key, lj.key),
					Rule:    "php-fpm compares listen strings only; equivalent addresses share one socket and requests go to either pool"})
			}
		}
	}
}

// sameKey is equal for two addresses whenever SameSocket holds for them
// (it may be equal when SameSocket does not; callers still ask it).
// Within unix paths and TCP ports, as sharedSockets buckets them: all
// wildcards are one socket; IP literals compare as IPs; names compare
// case-insensitively, and an IP literal never equals a name that way,
// since a name that folded to an IP literal would parse as one.
func sameKey(a Address) string {
	switch {
	case a.Network != "tcp":
		return a.Path
	case a.Wildcard:
		return "*"
	case a.IP != nil:
		return "ip:" + string(a.IP.To16())
	}
	return "name:" + foldKey(a.Host)
}

// foldKey maps s to a string equal for all strings strings.EqualFold
// considers equal: every rune becomes the smallest of its case orbit.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		low := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			low = min(low, f)
		}
		b.WriteRune(low)
	}
	return b.String()
}

// accounts reproduces fpm_unix_test_config, which `php-fpm -t` runs after
// all pools were processed: user, group, listen.owner and listen.group
// names must exist (numeric ids are not looked up).
func (v *validator) accounts() {
	users := v.readNames("/etc/passwd")
	groups := v.readNames("/etc/group")
	for _, p := range v.c.Pools {
		s := &p.Section
		check := func(key string, names map[string]bool, msg string) bool {
			val := s.Value(key)
			if val == "" || names == nil || strings.Trim(val, "0123456789") == "" || names[val] {
				return true
			}
			f, l := at(s, key)
			v.add(Problem{Pool: p.Name, Directive: key, File: f, Line: l,
				Message: fmt.Sprintf(msg, p.Name, val),
				Rule:    key + " must name an existing account (checked in /etc/passwd and /etc/group; other NSS sources are not consulted)"})
			return false
		}
		_ = check("user", users, "[pool %s] cannot get uid for user '%s'") &&
			check("group", groups, "[pool %s] cannot get gid for group '%s'") &&
			check("listen.owner", users, "[pool %s] cannot get uid for user '%s': Success (0)") &&
			check("listen.group", groups, "[pool %s] cannot get gid for group '%s': Success (0)")
	}
}

// readNames returns the first fields of a passwd or group file, or nil when
// it cannot be read (then names are not checked).
func (v *validator) readNames(file string) map[string]bool {
	data, err := v.fs.readFile(file, MaxFileBytes)
	if err != nil {
		return nil
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, MaxLineBytes)
	for sc.Scan() {
		if name, _, ok := strings.Cut(sc.Text(), ":"); ok && name != "" {
			names[name] = true
		}
	}
	return names
}

// startOnly adds what php-fpm finds only when it creates its sockets, and
// listen.allowed_clients entries it rejects in every worker.
func (v *validator) startOnly() {
	for _, p := range v.c.Pools {
		s := &p.Section
		st := s.Get("listen")
		if st == nil || st.Value == "" {
			continue
		}
		a, err := ParseListen(st.Value)
		if err != nil {
			v.add(Problem{Pool: p.Name, Directive: "listen", File: st.File, Line: st.Line, StartOnly: true,
				Message: err.Error(),
				Rule:    "listen is a socket path, a port, or address:port with a port from 1 to 65535; php-fpm -t does not check it"})
			continue
		}
		if a.IsName() {
			v.add(Problem{Pool: p.Name, Directive: "listen", File: st.File, Line: st.Line, Severity: Warning, Extra: true,
				Message: fmt.Sprintf("[pool %s] listen on host name '%s': php-fpm binds only its first address", p.Name, a.Host),
				Rule:    "with both ::1 and 127.0.0.1 for a name, php-fpm listens on one of them only; use an IP literal"})
		}
		if a.Network == "unix" && len(v.listenKey(s, st.Value)) > 107 {
			v.add(Problem{Pool: p.Name, Directive: "listen", File: st.File, Line: st.Line, Severity: Warning, Extra: true,
				Message: fmt.Sprintf("[pool %s] socket path longer than 107 bytes", p.Name),
				Rule:    "unix socket paths are limited to 108 bytes including the NUL; php-fpm cuts or refuses longer ones"})
		}
		if a.Network == "tcp" {
			if ac := s.Get("listen.allowed_clients"); ac != nil {
				parsed := ParseAllowedClients(ac.Value)
				for _, bad := range parsed.Invalid {
					v.add(Problem{Pool: p.Name, Directive: "listen.allowed_clients", File: ac.File, Line: ac.Line, Severity: Warning, StartOnly: true,
						Message: fmt.Sprintf("Wrong IP address '%s' in listen.allowed_clients", bad),
						Rule:    "comma-separated IP literals without spaces; names and CIDR ranges are not accepted, and the entry is ignored"})
				}
				if parsed.Set && len(parsed.IPs) == 0 {
					v.add(Problem{Pool: p.Name, Directive: "listen.allowed_clients", File: ac.File, Line: ac.Line, Severity: Warning, StartOnly: true,
						Message: "There are no allowed addresses",
						Rule:    "with no valid entry php-fpm refuses every connection (nginx sees the connection closed: 502)"})
				}
			}
		}
	}
}
