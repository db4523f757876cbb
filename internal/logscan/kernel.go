package logscan

import (
	"bytes"
	"strings"
	"time"
)

// kernelMaybeRelevant is the cheap test for kernel log lines.
func kernelMaybeRelevant(b []byte) bool {
	return bytes.Contains(b, []byte("oom")) || bytes.Contains(b, []byte("Kill"))
}

// ParseKernel parses an OOM-killer line from dmesg, kern.log/syslog or
// journalctl's short output:
//
//	[ 1234.567890] Out of memory: Killed process 4242 (php-fpm8.2) total-vm:..., anon-rss:...kB, ...
//	Nov 26 19:14:51 web1 kernel: [ 1234.5] oom-kill:constraint=...,task=php-fpm8.2,pid=4242,uid=33
//	2026-11-26T19:14:51.123456+01:00 web1 kernel: php-fpm8.2 invoked oom-killer: gfp_mask=...
//	[Thu Nov 26 19:14:51 2026] Memory cgroup out of memory: Killed process 4242 (php-fpm8.2) ...
//
// Syslog timestamps carry no year: ref (usually now) supplies it, and a
// date more than a day after ref is taken to be from the year before.
// Plain dmesg lines carry only the uptime, so Time stays zero. ok is false
// for lines that are not about the OOM killer.
func ParseKernel(s string, loc *time.Location, ref time.Time) (e Entry, ok bool) {
	if loc == nil {
		loc = time.Local
	}
	e.Source = SourceKernel
	e.Raw = s
	msg := s
	if t, rest, good := kernelClock(s, loc, ref); good {
		e.Time = t
		msg = rest
	}
	// The uptime stamp, with or without a syslog prefix before it.
	if strings.HasPrefix(msg, "[") {
		if i := strings.IndexByte(msg, ']'); i > 0 {
			msg = strings.TrimPrefix(msg[i+1:], " ")
		}
	}
	e.Message = msg
	switch {
	case strings.Contains(msg, "Killed process "):
		e.Kind = KindOOMKilled
		r := msg[strings.Index(msg, "Killed process ")+15:]
		e.PID, r, _ = leadingInt(r)
		e.Process = parenName(r)
		if i := strings.Index(r, "anon-rss:"); i >= 0 {
			n, _, _ := leadingInt(r[i+9:])
			e.RSSKiB = int64(n)
		}
	case strings.Contains(msg, "oom-kill:"):
		e.Kind = KindOOMInfo
		e.Process = kv(msg, "task=")
		e.PID, _ = atoi(kv(msg, "pid="))
		if cg := kv(msg, "task_memcg="); cg != "" {
			e.Unit = cg[strings.LastIndexByte(cg, '/')+1:]
		}
	case strings.Contains(msg, " invoked oom-killer"):
		e.Kind = KindOOMInfo
		e.Process = msg[:strings.Index(msg, " invoked oom-killer")]
	case strings.Contains(msg, "Kill process ") || strings.Contains(msg, "oom_reaper: reaped process "):
		e.Kind = KindOOMInfo
		r := msg[strings.Index(msg, " process ")+9:]
		e.PID, r, _ = leadingInt(r)
		e.Process = parenName(r)
	default:
		return e, false
	}
	return e, true
}

// kernelClock reads a syslog ("Nov 26 19:14:51 host kernel: "), ISO
// ("2026-11-26T19:14:51.123+01:00 host kernel: ") or dmesg -T
// ("[Thu Nov 26 19:14:51 2026] ") prefix.
func kernelClock(s string, loc *time.Location, ref time.Time) (time.Time, string, bool) {
	b := s[:min(len(s), 40)]
	switch {
	case len(b) >= 16 && b[3] == ' ' && b[6] == ' ' && b[9] == ':' && b[12] == ':' && monthFromAbbr(b) > 0:
		mo := monthFromAbbr(b)
		d := int(orZero(b[4])-'0')*10 + int(b[5]-'0')
		h, mi, sec := digits2(b, 7), digits2(b, 10), digits2(b, 13)
		y := ref.Year()
		if ref.IsZero() {
			y = time.Now().Year()
		}
		if !validDate(y, mo, d, h, mi, sec) {
			return time.Time{}, s, false
		}
		t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, loc)
		if !ref.IsZero() && t.After(ref.Add(24*time.Hour)) {
			t = t.AddDate(-1, 0, 0)
		}
		return t, afterHostTag(s[15:]), true
	case len(b) >= 20 && b[4] == '-' && b[7] == '-' && b[10] == 'T':
		sp := strings.IndexByte(s, ' ')
		if sp < 0 {
			return time.Time{}, s, false
		}
		t, err := time.Parse(time.RFC3339Nano, s[:sp])
		if err != nil {
			return time.Time{}, s, false
		}
		return t, afterHostTag(s[sp:]), true
	case len(b) >= 26 && b[0] == '[' && b[4] == ' ' && b[8] == ' ' && b[14] == ':':
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return time.Time{}, s, false
		}
		t, err := time.ParseInLocation("Mon Jan _2 15:04:05 2006", s[1:end], loc)
		if err != nil {
			return time.Time{}, s, false
		}
		return t, strings.TrimPrefix(s[end+1:], " "), true
	}
	return time.Time{}, s, false
}

func orZero(c byte) byte {
	if c == ' ' {
		return '0'
	}
	return c
}

// afterHostTag skips " host tag: " after a syslog time.
func afterHostTag(s string) string {
	s = strings.TrimPrefix(s, " ")
	_, rest, ok := strings.Cut(s, " ") // host
	if !ok {
		return s
	}
	if i := strings.Index(rest, ": "); i >= 0 && !strings.Contains(rest[:i], " ") {
		return rest[i+2:]
	}
	return rest
}

func parenName(r string) string {
	r = strings.TrimPrefix(r, " ")
	if strings.HasPrefix(r, "(") {
		if j := strings.IndexByte(r, ')'); j > 0 {
			return r[1:j]
		}
	}
	return ""
}

// kv returns the value of key in a "k=v,k=v" list.
func kv(s, key string) string {
	i := strings.Index(s, key)
	for i > 0 && s[i-1] != ',' && s[i-1] != ':' && s[i-1] != ' ' {
		j := strings.Index(s[i+1:], key)
		if j < 0 {
			return ""
		}
		i += 1 + j
	}
	if i < 0 {
		return ""
	}
	v := s[i+len(key):]
	if j := strings.IndexAny(v, ", "); j >= 0 {
		v = v[:j]
	}
	return v
}
