// Package fpmconf reads php-fpm configuration (php-fpm.conf, pool files and
// everything they include) the way php-fpm 8.2 reads it, keeping the file,
// line and byte range of every setting, and validates it with php-fpm's own
// rules and message texts.
//
// Reading follows sapi/fpm/fpm/fpm_conf.c: the file is read line by line and
// each line goes through the Zend INI scanner in NORMAL mode on its own, so a
// value never spans lines; `[global]` switches to global options, any other
// `[name]` opens a pool or reopens one whose name matches case-insensitively;
// `include` takes a glob whose relative form is resolved against php-fpm's
// prefix (not the including file's directory).
//
// Values go through the INI scanner as php does: `;` starts a comment but
// `#` does not; quotes keep blanks; unquoted yes/on/true read "1" and
// no/off/false/none/null read ""; E_* constants and | & ^ ~ ! ( ) are
// evaluated; ${NAME} comes from Options.Env. `$pool` is replaced by the
// pool name in string options and array values (an error in [global]).
// `$prefix` is only understood at the start of `chroot`, as in php-fpm.
//
// Load never fails because of the content of a file: every problem php-fpm
// would report is kept in Config.Problems, and Validate adds the checks
// php-fpm runs after reading (fpm_conf_post_process and
// fpm_conf_process_all_pools).
package fpmconf

import (
	"fmt"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// Options say how php-fpm was (or would be) started.
type Options struct {
	// Root, when not empty, reads every absolute path below this directory
	// (an offline copy of a host, for example configs from git). Reported
	// paths stay as they are on the host; `..` and symlinks cannot leave Root.
	Root string
	// Mounts put directories of a repository where the host has them
	// (rootfs.Tree); they need Root.
	Mounts []rootfs.Mount
	// Prefix is php-fpm's --prefix. Empty means none was given: relative
	// paths then use the compile-time prefix (DefaultPrefix, /usr on Debian),
	// and pid/error_log use /var.
	Prefix string
	// Env looks up ${NAME} variables. php-fpm looks at php.ini directives
	// first, then its environment; pass the master's environment here.
	// Nil means an empty environment: every ${NAME} expands to "".
	Env func(string) string
	// NonRoot says the master runs as an unprivileged user (for example a
	// container with USER www-data); php-fpm then does not require `user`.
	NonRoot bool
	// AllowRunAsRoot mirrors php-fpm's -R / --allow-to-run-as-root, which
	// also makes `user` optional.
	AllowRunAsRoot bool
}

// Compile-time defaults of Debian's php-fpm 8.2 (PHP_PREFIX and
// PHP_LOCALSTATEDIR); other builds may differ.
const (
	DefaultPrefix   = "/usr"
	DefaultStateDir = "/var"
)

// Limits that keep hostile or broken input from exhausting memory or time.
// php-fpm itself nests includes at most 5 files deep.
const (
	MaxIncludeDepth = 5
	MaxFiles        = 50000
	MaxTotalBytes   = 512 << 20
	MaxFileBytes    = 16 << 20
	MaxLineBytes    = 1 << 20
)

// Config is everything read from one main file and its includes.
type Config struct {
	Path     string   // the main file, as given
	Files    []string // every file read, in reading order (host paths)
	Global   *Section // settings of [global] (and lines before any section)
	Pools    []*Pool  // in the order php-fpm creates them
	Problems []Problem

	opts Options
}

// Options returns the options the configuration was loaded with.
func (c *Config) Options() Options { return c.opts }

// Pool returns the pool with this name (php-fpm compares names
// case-insensitively), or nil.
func (c *Config) Pool(name string) *Pool {
	key := asciiLower(name)
	for _, p := range c.Pools {
		if asciiLower(p.Name) == key {
			return p
		}
	}
	return nil
}

// Setting is one `key = value` line.
type Setting struct {
	Key      string // as written, e.g. "listen" or "php_admin_value[memory_limit]"
	Name     string // the option name, e.g. "listen" or "php_admin_value"
	ArrayKey string // for arrays: the key inside [] (may be empty for access.suppress_path[])
	IsArray  bool
	Raw      string // the value text as written (without the comment)
	Value    string // after the INI scanner (quotes, ${VAR}, yes/no, constants) and $pool
	File     string
	Line     int
	// Byte offsets in File: the whole line (LineEnd excludes the newline)
	// and the value as written (Raw == file[ValueStart:ValueEnd]).
	LineStart, LineEnd   int
	ValueStart, ValueEnd int
}

// Location returns "file:line".
func (s *Setting) Location() string { return fmt.Sprintf("%s:%d", s.File, s.Line) }

// Section is [global] or a pool: its settings in file order.
type Section struct {
	Name     string
	File     string // where the section was first opened
	Line     int
	Reopened []Position // later [name] headers that reopened it
	Settings []*Setting

	global bool
	cfg    *Config
}

// Position is a place in a file.
type Position struct {
	File string
	Line int
}

// Pool is a worker pool section.
type Pool struct {
	Section
}

// IsGlobal reports whether this is the [global] section.
func (s *Section) IsGlobal() bool { return s.global }

// Get returns the setting php-fpm uses for key, or nil if it is not set.
// Option names compare case-insensitively as in php-fpm (ASCII letters
// only, like strcasecmp); array keys are
// written in full ("env[DB_HOST]") and compare exactly. For repeated
// options and php_value/php_admin_value/php_flag entries the last one wins;
// for a repeated env[NAME] the FIRST one wins, because php-fpm keeps the
// entries newest first and calls setenv for each in turn (observed with
// php-fpm 8.2: env[A] = first, env[A] = second gives "first").
func (s *Section) Get(key string) *Setting {
	if s == nil {
		return nil
	}
	name, akey, isArr := splitArrayKey(key)
	if isArr && name == "env" {
		for _, st := range s.Settings {
			if st.IsArray && st.Name == name && st.ArrayKey == akey {
				return st
			}
		}
		return nil
	}
	for i := len(s.Settings) - 1; i >= 0; i-- {
		st := s.Settings[i]
		if isArr {
			if st.IsArray && st.Name == name && st.ArrayKey == akey {
				return st
			}
		} else if !st.IsArray && asciiEqualFold(st.Name, name) {
			return st
		}
	}
	return nil
}

// All returns every setting of an option, in file order; for an array name
// such as "env" or "php_admin_value" it returns all its entries.
func (s *Section) All(name string) []*Setting {
	var out []*Setting
	for _, st := range s.Settings {
		if st.IsArray && st.Name == name || !st.IsArray && asciiEqualFold(st.Name, name) {
			out = append(out, st)
		}
	}
	return out
}

// Value returns the expanded value of key, or php-fpm's default when the
// key is not set ("" when php-fpm has none). Computed defaults are
// included: pm.start_servers for pm = dynamic, listen.mode 0660,
// listen.backlog -1, ping.response "pong" when ping.path is set,
// access.format when access.log is set, and so on.
func (s *Section) Value(key string) string {
	if st := s.Get(key); st != nil {
		return st.Value
	}
	return s.defaultValue(asciiLower(key))
}

// IsSet reports whether key appears in the section.
func (s *Section) IsSet(key string) bool { return s.Get(key) != nil }

// Int returns the value of an integer or time option the way php-fpm reads
// it: times in seconds (suffixes s, m, h, d), rlimit_core "unlimited" as -1,
// booleans as 0/1, the pm style as 0 static, 1 dynamic, 2 ondemand.
// Values php-fpm would reject read as 0; they are reported as problems.
func (s *Section) Int(key string) int {
	v := s.Value(key)
	k := asciiLower(key)
	opt, ok := lookupOption(s.global, k)
	if !ok {
		n, _ := parseInteger(v)
		return n
	}
	switch opt.kind {
	case kindTime:
		n, _ := parseTime(v)
		return n
	case kindBool:
		b, _ := parseBool(v)
		if b {
			return 1
		}
		return 0
	case kindRlimitCore:
		n, _ := parseRlimitCore(v)
		return n
	case kindPM:
		pm, _ := parsePM(v)
		return int(pm)
	}
	n, _ := parseInteger(v)
	return n
}

// Bool returns a boolean option as php-fpm reads it (invalid reads false).
func (s *Section) Bool(key string) bool {
	b, _ := parseBool(s.Value(key))
	return b
}

// Path returns a path option resolved the way php-fpm resolves it
// (fpm_evaluate_full_path): relative paths go below the pool prefix, else
// the global prefix, else the compile-time prefix; pid and error_log use
// /var instead. "" when unset and without default.
func (s *Section) Path(key string) string {
	v := s.Value(key)
	if v == "" {
		return ""
	}
	k := asciiLower(key)
	if s.global {
		if k == "error_log" && asciiEqualFold(v, "syslog") {
			return v
		}
		return s.cfg.fullPath(v, "", DefaultStateDir)
	}
	return s.cfg.fullPath(v, s.Get("prefix").valueOr(""), "")
}

func (st *Setting) valueOr(def string) string {
	if st == nil {
		return def
	}
	return st.Value
}

// fullPath is fpm_evaluate_full_path without $prefix expansion.
func (c *Config) fullPath(p, poolPrefix, def string) string {
	if p == "" || p[0] == '/' {
		return p
	}
	prefix := poolPrefix
	if prefix == "" {
		prefix = c.opts.Prefix
	}
	if prefix == "" {
		prefix = def
	}
	if prefix == "" {
		prefix = DefaultPrefix
	}
	out := prefix + "/" + p
	if out[0] != '/' && poolPrefix != "" {
		// A relative pool prefix is itself resolved against the global one.
		return c.fullPath(out, "", def)
	}
	return out
}

// PM returns the process manager: "static", "dynamic", "ondemand", or "" if
// unset or invalid.
func (p *Pool) PM() string {
	pm, err := parsePM(p.Value("pm"))
	if err != nil {
		return ""
	}
	return pm.String()
}

// Listen parses the pool's listen address (see ParseListen); a relative
// unix path is resolved against the pool prefix as php-fpm does.
func (p *Pool) Listen() (Address, error) {
	st := p.Get("listen")
	if st == nil || st.Value == "" {
		return Address{}, fmt.Errorf("pool %s: %w", p.Name, ErrNoListen)
	}
	a, err := ParseListen(st.Value)
	if err != nil {
		return a, fmt.Errorf("pool %s at %s: %w", p.Name, st.Location(), err)
	}
	if a.Network == "unix" && !strings.HasPrefix(a.Path, "/") {
		a.Path = p.cfg.fullPath(a.Path, p.Get("prefix").valueOr(""), "")
	}
	return a, nil
}

// splitArrayKey splits "php_value[x]" into ("php_value", "x", true).
func splitArrayKey(key string) (name, akey string, ok bool) {
	i := strings.IndexByte(key, '[')
	if i < 0 || !strings.HasSuffix(key, "]") {
		return key, "", false
	}
	return key[:i], key[i+1 : len(key)-1], true
}
