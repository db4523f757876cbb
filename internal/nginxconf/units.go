package nginxconf

import (
	"errors"
	"math"
	"time"
)

// ErrInvalidValue is returned by ParseDuration and ParseSize; nginx says
// "invalid value" for the same inputs.
var ErrInvalidValue = errors.New("invalid value")

// ParseDuration parses a time the way nginx's ngx_conf_set_msec_slot does
// (ngx_parse_time with is_sec = 0): a bare number is seconds; units are
// ms, s, m, h, d, w, each at most once and from largest to smallest,
// optionally separated by spaces ("1m30s", "1h 30m", "500ms"). "M" and
// "y" are not accepted in this form, as in nginx.
func ParseDuration(s string) (time.Duration, error) {
	ms, err := parseTime(s, false)
	if err != nil || ms > math.MaxInt64/int64(time.Millisecond) {
		return 0, ErrInvalidValue
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// parseSeconds is ngx_parse_time with is_sec = 1, used by parameters such
// as fail_timeout: y (365d) and M (30d) are allowed, ms is not.
func parseSeconds(s string) (time.Duration, error) {
	sec, err := parseTime(s, true)
	if err != nil || sec > math.MaxInt64/int64(time.Second) {
		return 0, ErrInvalidValue
	}
	return time.Duration(sec) * time.Second, nil
}

// parseTime transcribes ngx_parse_time: the result is in milliseconds, or
// in seconds when isSec is set.
func parseTime(s string, isSec bool) (int64, error) {
	const (
		stStart = iota
		stYear
		stMonth
		stWeek
		stDay
		stHour
		stMin
		stSec
		stMsec
		stLast
	)
	step := stMonth
	if isSec {
		step = stStart
	}
	var total, value int64
	valid := false
	for i := 0; i < len(s); {
		c := s[i]
		i++
		if c >= '0' && c <= '9' {
			if value > (math.MaxInt64-9)/10 {
				return 0, ErrInvalidValue
			}
			value = value*10 + int64(c-'0')
			valid = true
			continue
		}
		var scale int64 // seconds, except for ms
		next := 0
		switch c {
		case 'y':
			if step > stStart {
				return 0, ErrInvalidValue
			}
			next, scale = stYear, 365*24*3600
		case 'M':
			next, scale = stMonth, 30*24*3600
		case 'w':
			next, scale = stWeek, 7*24*3600
		case 'd':
			next, scale = stDay, 24*3600
		case 'h':
			next, scale = stHour, 3600
		case 'm':
			if i < len(s) && s[i] == 's' {
				if isSec {
					return 0, ErrInvalidValue
				}
				i++
				next, scale = stMsec, 1
			} else {
				next, scale = stMin, 60
			}
		case 's':
			next, scale = stSec, 1
		case ' ':
			// A bare number followed by a space counts as seconds.
			if step >= stSec {
				return 0, ErrInvalidValue
			}
			next, scale = stLast, 1
		default:
			return 0, ErrInvalidValue
		}
		if next != stLast && next != stYear && step >= next {
			return 0, ErrInvalidValue
		}
		step = next
		if next != stMsec && !isSec {
			scale *= 1000
		}
		if value > math.MaxInt64/scale || total > math.MaxInt64-value*scale {
			return 0, ErrInvalidValue
		}
		total += value * scale
		value = 0
		for i < len(s) && s[i] == ' ' {
			i++
		}
	}
	if !valid {
		return 0, ErrInvalidValue
	}
	if !isSec {
		if value > math.MaxInt64/1000 {
			return 0, ErrInvalidValue
		}
		value *= 1000
	}
	if total > math.MaxInt64-value {
		return 0, ErrInvalidValue
	}
	return total + value, nil
}

// ParseSize parses a size like nginx's ngx_parse_size: digits with an
// optional k/K (KiB) or m/M (MiB) suffix. nginx 1.22 has no "g" for sizes.
func ParseSize(s string) (int64, error) {
	if s == "" {
		return 0, ErrInvalidValue
	}
	scale := int64(1)
	switch s[len(s)-1] {
	case 'k', 'K':
		scale, s = 1024, s[:len(s)-1]
	case 'm', 'M':
		scale, s = 1024*1024, s[:len(s)-1]
	}
	if s == "" {
		return 0, ErrInvalidValue
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || n > (math.MaxInt64-9)/10 {
			return 0, ErrInvalidValue
		}
		n = n*10 + int64(c-'0')
	}
	if n > math.MaxInt64/scale {
		return 0, ErrInvalidValue
	}
	return n * scale, nil
}
