package nginxconf

import (
	"sort"
	"strings"
)

// glob expands pattern like glob(3) with flags 0, which is what nginx's
// ngx_open_glob uses: "*", "?" and "[...]" (with "!" or "^" negation) match
// within one path component, a leading "." must be matched explicitly,
// backslash escapes, and the result is sorted bytewise (nginx runs in the C
// locale). No match is not an error for include.
func (fs fsys) glob(pattern string) []string {
	segs := strings.Split(pattern, "/")
	var out []string
	var walk func(prefix string, i int)
	walk = func(prefix string, i int) {
		// prefix is the path matched so far, written as in the pattern.
		if i == len(segs) {
			if fs.exists(prefix) {
				out = append(out, prefix)
			}
			return
		}
		seg := segs[i]
		join := func(name string) string {
			if i == 0 {
				return name
			}
			return prefix + "/" + name
		}
		if !strings.ContainsAny(seg, "*?[") {
			walk(join(unescapeGlob(seg)), i+1)
			return
		}
		dir := prefix
		if dir == "" {
			dir = "/"
		}
		names := fs.readDirNames(dir)
		sort.Strings(names)
		for _, name := range names {
			if !globMatch(seg, name) {
				continue
			}
			if i == len(segs)-1 {
				out = append(out, join(name))
			} else {
				walk(join(name), i+1)
			}
		}
	}
	walk("", 0)
	sort.Strings(out)
	return out
}

func unescapeGlob(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// globMatch is fnmatch(pattern, name, FNM_PERIOD) for one path component.
func globMatch(pattern, name string) bool {
	if strings.HasPrefix(name, ".") && !strings.HasPrefix(pattern, ".") && !strings.HasPrefix(pattern, `\.`) {
		return false
	}
	p, s := 0, 0
	star, starS := -1, 0
	for s < len(name) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				star, starS = p, s
				p++
				continue
			case '?':
				p++
				s++
				continue
			case '[':
				if ok, n := matchClass(pattern[p:], name[s]); n > 0 {
					if ok {
						p += n
						s++
						continue
					}
				} else if name[s] == '[' { // no closing "]": a literal "["
					p++
					s++
					continue
				}
			case '\\':
				lit := byte('\\')
				n := 1
				if p+1 < len(pattern) {
					lit, n = pattern[p+1], 2
				}
				if name[s] == lit {
					p += n
					s++
					continue
				}
			default:
				if name[s] == c {
					p++
					s++
					continue
				}
			}
		}
		if star < 0 {
			return false
		}
		// Let the last "*" swallow one more byte and retry.
		starS++
		p, s = star+1, starS
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// matchClass matches c against the bracket expression at the start of
// pattern. n is the length of the expression, 0 when it is not closed.
func matchClass(pattern string, c byte) (ok bool, n int) {
	i := 1
	negate := false
	if i < len(pattern) && (pattern[i] == '!' || pattern[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(pattern) {
		lo := pattern[i]
		if lo == ']' && !first {
			return ok != negate, i + 1
		}
		first = false
		if lo == '\\' && i+1 < len(pattern) {
			i++
			lo = pattern[i]
		}
		hi := lo
		if i+2 < len(pattern) && pattern[i+1] == '-' && pattern[i+2] != ']' {
			hi = pattern[i+2]
			if hi == '\\' && i+3 < len(pattern) {
				i++
				hi = pattern[i+2]
			}
			i += 2
		}
		if lo <= c && c <= hi {
			ok = true
		}
		i++
	}
	return false, 0
}
