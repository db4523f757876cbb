package logscan

import (
	"strconv"
	"strings"
	"time"
)

// atoi parses a non-negative decimal number without allocating. It refuses
// empty input and values that would overflow.
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// leadingInt returns the number at the start of s and what follows it.
func leadingInt(s string) (int, string, bool) {
	i := 0
	for i < len(s) && i < 18 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, s, false
	}
	n, _ := atoi(s[:i])
	return n, s[i:], true
}

// leadingFloat parses "123.456" at the start of s.
func leadingFloat(s string) (float64, string, bool) {
	i := 0
	for i < len(s) && i < 32 && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, s, false
	}
	return f, s[i:], true
}

// digits2 / digits4 read fixed-width decimal fields; -1 means "not digits".
func digits2[T string | []byte](b T, i int) int {
	c0, c1 := b[i]-'0', b[i+1]-'0'
	if c0 > 9 || c1 > 9 {
		return -1
	}
	return int(c0)*10 + int(c1)
}

func digits4[T string | []byte](b T, i int) int {
	h, l := digits2(b, i), digits2(b, i+2)
	if h < 0 || l < 0 {
		return -1
	}
	return h*100 + l
}

// validDate rejects values time.Date would silently normalize.
func validDate(y, mo, d, h, mi, s int) bool {
	return y >= 1970 && y < 3000 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 &&
		h >= 0 && h < 24 && mi >= 0 && mi < 60 && s >= 0 && s < 61
}

var monthAbbr = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func monthFromAbbr[T string | []byte](b T) int {
	if len(b) < 3 {
		return 0
	}
	for i, m := range monthAbbr {
		if b[0] == m[0] && b[1] == m[1] && b[2] == m[2] {
			return i + 1
		}
	}
	return 0
}

// minuteCache turns broken-down local times into Unix seconds, calling
// time.Date only once per distinct minute: log lines come in runs of the
// same minute, and time.Date with a zone is the costly part.
type minuteCache struct {
	loc  *time.Location
	key  int64
	base int64
	ok   bool
}

func (c *minuteCache) unix(y, mo, d, h, mi, s int) int64 {
	key := int64(y)<<24 | int64(mo)<<20 | int64(d)<<15 | int64(h)<<8 | int64(mi)
	if !c.ok || key != c.key {
		c.key = key
		c.base = time.Date(y, time.Month(mo), d, h, mi, 0, 0, c.loc).Unix()
		c.ok = true
	}
	return c.base + int64(s)
}

func cutSuffixInt(s, sep string) (string, int, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, 0, false
	}
	n, ok := atoi(s[i+len(sep):])
	if !ok {
		return s, 0, false
	}
	return s[:i], n, true
}
