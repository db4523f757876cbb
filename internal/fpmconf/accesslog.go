package fpmconf

import (
	"fmt"
	"path"
	"strings"
)

// accessLogs reproduces what php-fpm does with access.log after every pool
// was processed (fpm_conf_post_process): it opens each pool's access log
// (creating the file, not its directory) and then checks each pool's
// access.format with fpm_log_write in test mode. Observed order with
// php-fpm 8.2: pool checks and duplicate listen addresses first, then every
// pool's log file, then every pool's format, then the account lookups.
func (v *validator) accessLogs() {
	for _, p := range v.c.Pools {
		st := p.Get("access.log")
		if st == nil {
			continue
		}
		// An empty access.log is still a file name to php-fpm: open("")
		// fails with ENOENT.
		file := p.Path("access.log")
		if why := v.openError(file); why != "" {
			v.add(Problem{Pool: p.Name, Directive: "access.log", File: st.File, Line: st.Line,
				Message: fmt.Sprintf("failed to open access log (%s): %s", file, why),
				Rule:    "php-fpm creates the access log file when it starts, but not its directory: the directory must exist"})
			return // php-fpm stops at the first log it cannot open
		}
	}
	for _, p := range v.c.Pools {
		if p.Value("access.log") == "" {
			continue // the format is only used, and checked, with a log
		}
		format := p.Value("access.format")
		if why := accessFormatError(format); why != "" {
			f, l := at(&p.Section, "access.format")
			v.add(Problem{Pool: p.Name, Directive: "access.format", File: f, Line: l,
				Message: fmt.Sprintf("[pool %s] wrong format for access.format '%s'", p.Name, format),
				Rule:    why + " (php-fpm's own reason; access.format takes %C %d %e %f %l %m %M %n %o %p %P %q %Q %r %R %s %t %T %u %%, with {modifier} only for C, d, e, M, o, t and T)"})
			return
		}
	}
}

// openError says why open(file, O_WRONLY|O_CREAT) as root would fail, in
// php-fpm's "strerror (errno)" form, or "" when it would succeed. Only
// what the file system shows is judged: a missing directory, a component
// that is not a directory, a directory in the file's place.
func (v *validator) openError(file string) string {
	const (
		enoent  = "No such file or directory (2)"
		enotdir = "Not a directory (20)"
		eisdir  = "Is a directory (21)"
	)
	if file == "" {
		return enoent
	}
	if v.fs.isDir(file) {
		return eisdir
	}
	dir := path.Dir(file)
	if !v.missingDir(dir) {
		return ""
	}
	// Walk up to the first component that exists: a file there makes
	// the path ENOTDIR, nothing at all ENOENT.
	for d := dir; d != "/" && d != "." && d != ""; d = path.Dir(d) {
		if fi, err := v.fs.stat(d); err == nil {
			if !fi.IsDir() {
				return enotdir
			}
			break
		}
	}
	return enoent
}

// accessFormatError checks an access.format the way fpm_log_write does in
// test mode and returns php-fpm's warning for the first bad token, or "".
// Learnt from php-src's sapi/fpm/fpm/fpm_log.c and checked against
// php-fpm 8.2 (realfpm_test.go).
func accessFormatError(f string) string {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		modifier, braced := "", false
		for i++; ; i++ {
			if i >= len(f) {
				return "" // a lone '%' at the end is ignored
			}
			if f[i] != '{' {
				break
			}
			// %{modifier}X: php-fpm wants a character after the '}'.
			end := strings.IndexByte(f[i+1:], '}')
			if end < 0 || i+1+end+1 >= len(f) {
				return "missing closing embrace in the access.format"
			}
			modifier, braced = f[i+1:i+1+end], true
			i += 1 + end
		}
		c := f[i]
		switch c {
		case 'C':
			if !oneOf(modifier, "", "total", "user", "system") {
				return fmt.Sprintf("only 'total', 'user' or 'system' are allowed as a modifier for %%C ('%s')", modifier)
			}
		case 'd':
			if !oneOf(modifier, "", "seconds", "milliseconds", "milli", "miliseconds", "mili", "microseconds", "micro") {
				return fmt.Sprintf("only 'seconds', 'milli', 'milliseconds', 'micro' or 'microseconds' are allowed as a modifier for %%d ('%s')", modifier)
			}
		case 'M':
			if !oneOf(modifier, "", "bytes", "kilobytes", "kilo", "megabytes", "mega") {
				return fmt.Sprintf("only 'bytes', 'kilo', 'kilobytes', 'mega' or 'megabytes' are allowed as a modifier for %%M ('%s')", modifier)
			}
		case 'e':
			if modifier == "" {
				return "the name of the environment variable must be set between embraces for %e"
			}
		case 'o':
			if modifier == "" {
				return "the name of the header must be set between embraces for %o"
			}
		case 't', 'T':
			// any strftime(3) format
		case '%', 'f', 'l', 'm', 'n', 'p', 'P', 'q', 'Q', 'r', 'R', 's', 'u':
			if braced && modifier != "" {
				return fmt.Sprintf("embrace is not allowed for modifier %%%c", c)
			}
		default:
			return fmt.Sprintf("Invalid token in the access.format (%%%c)", c)
		}
	}
	return ""
}

// oneOf is strcasecmp against each of words.
func oneOf(s string, words ...string) bool {
	for _, w := range words {
		if asciiEqualFold(s, w) {
			return true
		}
	}
	return false
}
