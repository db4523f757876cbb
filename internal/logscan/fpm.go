package logscan

import (
	"strings"
	"time"
)

// fpmClock reads "[26-Nov-2026 19:13:50] ", "[26-Nov-2026 19:13:50.123456] "
// (log_level = debug) or PHP's own "[26-Nov-2026 19:16:24 UTC] ". It returns
// the time and the length of the prefix including the space after "]".
func fpmClock(s string, loc *time.Location) (time.Time, int, bool) {
	if len(s) < 22 || s[0] != '[' || s[3] != '-' || s[7] != '-' || s[12] != ' ' || s[15] != ':' || s[18] != ':' {
		return time.Time{}, 0, false
	}
	b := s[:21]
	d, mo, y := digits2(b, 1), monthFromAbbr(b[4:7]), digits4(b, 8)
	h, mi, sec := digits2(b, 13), digits2(b, 16), digits2(b, 19)
	if !validDate(y, mo, d, h, mi, sec) {
		return time.Time{}, 0, false
	}
	ns := 0
	i := 21
	if s[i] == '.' {
		j := i + 1
		scale := 100000000
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			ns += int(s[j]-'0') * scale
			scale /= 10
			j++
		}
		i = j
	}
	if i < len(s) && s[i] == ' ' { // PHP error_log: a zone name
		k := strings.IndexByte(s[i:min(len(s), i+40)], ']')
		if k < 0 {
			return time.Time{}, 0, false
		}
		if s[i+1:i+k] == "UTC" {
			loc = time.UTC
		}
		i += k
	}
	if i >= len(s) || s[i] != ']' {
		return time.Time{}, 0, false
	}
	i++
	if i < len(s) && s[i] == ' ' {
		i++
	}
	return time.Date(y, time.Month(mo), d, h, mi, sec, ns, loc), i, true
}

var fpmLevels = [...]string{"DEBUG", "NOTICE", "WARNING", "ERROR", "ALERT"}

// cutFPMLevel takes "LEVEL: " (or syslog's "[LEVEL] ") off the front of s.
func cutFPMLevel(s string) (level, rest string, ok bool) {
	for _, l := range fpmLevels {
		if len(s) > len(l) && s[:len(l)] == l && s[len(l)] == ':' {
			return l, strings.TrimPrefix(s[len(l)+1:], " "), true
		}
		if len(s) > len(l)+2 && s[0] == '[' && s[1:len(l)+1] == l && s[len(l)+1] == ']' {
			return l, strings.TrimPrefix(s[len(l)+2:], " "), true
		}
	}
	return "", s, false
}

// ParseFPM parses one php-fpm log line: the master's "[time] LEVEL: ..."
// (with the debug "pid N, func(), line N: " prefix too), a worker's
// undecorated "LEVEL: ..." output, the syslog form "[LEVEL] ..." and PHP's
// own error_log lines "[time UTC] PHP Fatal error: ...". ok is false when s
// has none of these shapes.
func ParseFPM(s string, loc *time.Location) (e Entry, ok bool) {
	if loc == nil {
		loc = time.Local
	}
	e.Source = SourceFPM
	e.Raw = s
	rest := s
	if t, n, good := fpmClock(s, loc); good {
		e.Time = t
		rest = s[n:]
	} else if s == "" || (s[0] != '[' && (s[0] < 'A' || s[0] > 'Z')) {
		return e, false
	}
	level, r, good := cutFPMLevel(rest)
	switch {
	case good:
		e.Level = level
		rest = r
	case e.Time.IsZero():
		return e, false
	case strings.HasPrefix(rest, "PHP "):
		// PHP's own error_log line: no level of php-fpm's.
	default:
		e.Kind = KindOther
		e.Message = rest
		return e, true
	}
	// Debug prefixes: master "pid N, func(), line N: ", child "func(), line N: ".
	if v, found := strings.CutPrefix(rest, "pid "); found {
		if n, r2, ok := leadingInt(v); ok && strings.HasPrefix(r2, ", ") {
			e.PID = n
			rest = r2[2:]
		}
	}
	if i := strings.Index(rest[:min(len(rest), 80)], "(), line "); i > 0 && !strings.Contains(rest[:i], " ") {
		if _, r2, ok := leadingInt(rest[i+9:]); ok && strings.HasPrefix(r2, ": ") {
			rest = r2[2:]
		}
	}
	if v, found := strings.CutPrefix(rest, "[pool "); found {
		// Pool names may contain spaces ("[ www ]" gives " www "), not "]".
		if j := strings.Index(v, "] "); j >= 0 {
			e.Pool = v[:j]
			rest = v[j+2:]
		} else if strings.HasSuffix(v, "]") {
			e.Pool = v[:len(v)-1]
			rest = ""
		}
	}
	e.Message = rest
	classifyFPM(&e)
	return e, true
}

func classifyFPM(e *Entry) {
	m := e.Message
	switch {
	case strings.HasPrefix(m, "server reached "):
		if i := strings.Index(m, "max_children setting ("); i >= 0 {
			e.Kind = KindMaxChildren
			e.Limit, _, _ = leadingInt(m[i+22:])
		}
	case strings.HasPrefix(m, "seems busy "):
		e.Kind = KindSeemsBusy
		if i := strings.Index(m, "there are "); i >= 0 {
			e.Idle, _, _ = leadingInt(m[i+10:])
		}
		if i := strings.Index(m, ", and "); i >= 0 {
			e.Total, _, _ = leadingInt(m[i+6:])
		}
	case strings.HasPrefix(m, "child "):
		classifyFPMChild(e, m[6:])
	case strings.HasPrefix(m, "unable to bind listening socket for address '"):
		e.Address = quoted(m[45:], '\'')
		e.Kind = KindBindFailed
		if fpmErrno(e) == 98 {
			e.Kind = KindAddressInUse
		}
	case strings.HasPrefix(m, "failed to listen to address '"):
		e.Address = quoted(m[29:], '\'')
		e.Kind = KindBindFailed
		fpmErrno(e)
	case strings.Contains(m, "FPM instance seems to already listen on "):
		e.Kind = KindAddressInUse
		e.Address = m[strings.Index(m, " listen on ")+11:]
	case strings.HasPrefix(m, "Found multiple addresses for "):
		e.Kind = KindMultipleAddresses
		e.Address, _, _ = strings.Cut(m[29:], ",")
	case strings.HasPrefix(m, "using inherited socket fd="):
		e.Kind = KindInheritedSocket
		if i := strings.IndexByte(m, '"'); i >= 0 {
			e.Address = quoted(m[i+1:], '"')
		}
	case strings.HasPrefix(m, "The maximum number of processes has been reached"):
		e.Kind = KindProcessMax
	case strings.HasPrefix(m, "failed processes threshold"):
		e.Kind = KindEmergencyRestart
	case strings.HasPrefix(m, "ready to handle connections"):
		e.Kind = KindReady
	case strings.HasPrefix(m, "fpm is running, pid "):
		e.Kind = KindStarted
		e.PID, _, _ = leadingInt(m[20:])
	case strings.HasPrefix(m, "Reloading in progress"):
		e.Kind = KindReloading
	case strings.HasPrefix(m, "Terminating ...") || strings.HasPrefix(m, "Finishing ..."):
		e.Kind = KindStopping
	case strings.HasPrefix(m, "exiting, bye-bye"):
		e.Kind = KindExiting
	case strings.Contains(m, "Connection disallowed: IP address '"):
		classifyWorkerOutput(e, m)
	case strings.HasPrefix(m, "PHP "):
		e.Kind = classifyPHPOutput(m, e)
	case e.Level == "ERROR" || e.Level == "ALERT":
		if fpmConfigError(e) {
			e.Kind = KindConfigError
		}
	}
	if e.Address != "" && e.Kind != KindConnectionDisallowed && e.Kind != KindMultipleAddresses {
		e.Target, e.TargetKind = NormalizeListen(e.Address)
	}
}

// classifyFPMChild handles the messages that start with "child N".
func classifyFPMChild(e *Entry, m string) {
	pid, rest, ok := leadingInt(m)
	if !ok {
		return
	}
	e.Child = pid
	switch {
	case strings.HasPrefix(rest, " exited on signal "):
		e.Kind = KindChildExitedSignal
		r := rest[18:]
		e.Signal, r, _ = leadingInt(r)
		if v, ok := strings.CutPrefix(r, " ("); ok {
			name, after, _ := strings.Cut(v, ")")
			if n, found := strings.CutSuffix(name, " - core dumped"); found {
				name = n
				e.CoreDumped = true
			}
			e.SignalName = name
			r = after
		}
		e.Seconds = afterFloat(r, " after ")
	case strings.HasPrefix(rest, " exited with code "):
		e.Kind = KindChildExitedCode
		e.ExitCode, _, _ = leadingInt(rest[18:])
		e.Seconds = afterFloat(rest, " after ")
	case strings.HasPrefix(rest, " started"):
		e.Kind = KindChildStarted
	case strings.HasPrefix(rest, ", script '"):
		// ", script '%s' (request: \"%s %s%s%s\") execution timed out (%d.%06d sec), terminating"
		r := rest[10:]
		j := strings.LastIndex(r, "' (request: \"")
		if j < 0 {
			return
		}
		e.Script = r[:j]
		r = r[j+13:]
		k := strings.LastIndex(r, "\") ")
		if k < 0 {
			return
		}
		e.Request = r[:k]
		r = r[k+3:]
		switch {
		case strings.HasPrefix(r, "execution timed out ("):
			e.Kind = KindExecutionTimedOut
		case strings.HasPrefix(r, "executing too slow ("):
			e.Kind = KindSlow
		}
		if i := strings.IndexByte(r, '('); i >= 0 {
			e.Seconds, _, _ = leadingFloat(r[i+1:])
		}
	case strings.HasPrefix(rest, " said into "):
		// 7.3+: said into stderr: "..."; older: said into stderr: "...", pipe is closed
		r := rest[11:]
		if i := strings.Index(r, `: "`); i >= 0 {
			classifyWorkerOutput(e, r[i+3:])
		}
	case strings.HasPrefix(rest, " (pool "): // PHP 5.3: child N (pool x) said into ...
		v := rest[7:]
		if j := strings.Index(v, ") said into "); j >= 0 {
			e.Pool = v[:j]
			if i := strings.Index(v[j:], `: "`); i >= 0 {
				classifyWorkerOutput(e, v[j+i+3:])
			}
		}
	}
}

// classifyWorkerOutput classifies what a worker wrote, as captured by the
// master (catch_workers_output) or written raw (decorate_workers_output=no).
func classifyWorkerOutput(e *Entry, out string) {
	if i := strings.Index(out, "Connection disallowed: IP address '"); i >= 0 {
		e.Kind = KindConnectionDisallowed
		e.Address = quoted(out[i+35:], '\'')
		return
	}
	if strings.Contains(out, "Unable to set php_value '") || strings.Contains(out, "Unable to set php_admin_value '") {
		e.Kind = KindConfigError
		return
	}
	e.Kind = classifyPHPOutput(out, e)
}

// fpmConfigError decides whether an ERROR/ALERT line is php-fpm refusing
// its configuration or failing to start, as opposed to a runtime error
// (ptrace of slow requests, reading workers' pipes).
func fpmConfigError(e *Entry) bool {
	m := e.Message
	if strings.Contains(m, "ptrace") || strings.Contains(m, "trace of") || strings.Contains(m, "what child say") {
		return false
	}
	if e.Pool != "" {
		return true
	}
	// "[FILE:LINE] unknown entry 'x'"
	if strings.HasPrefix(m, "[") {
		if end := strings.IndexByte(m, ']'); end > 0 {
			if _, _, ok := cutSuffixInt(m[1:end], ":"); ok {
				return true
			}
		}
	}
	for _, p := range fpmConfigPhrases {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

// fpmConfigPhrases are the php-fpm start-up failures (php-src fpm_conf.c,
// fpm_sockets.c, fpm_unix.c, fpm_stdio.c). Read-only.
var fpmConfigPhrases = [...]string{
	"FPM initialization failed",
	"configuration file",
	"failed to post process the configuration",
	"invalid port value",
	"getaddrinfo:",
	"No pool defined",
	"at least one pool section",
	"Unable to globalize",
	"Unable to include",
	"failed to include more than",
	"unknown entry",
	"failed to open error_log",
	"Unable to create the PID file",
	"Unable to create or open slowlog",
	"log_limit must be",
	"process_max can't be negative",
	"process.priority must be",
	"the global prefix",
	"please specify user and group",
	"cannot get uid",
	"cannot get gid",
	"child failed to initialize",
	"failed to setuid",
	"failed to setgid",
	"failed to initgroups",
	"failed to chroot",
	"failed to chdir",
}

// fpmErrno reads php-fpm's ": text (N)" errno suffix into the entry.
func fpmErrno(e *Entry) int {
	m := e.Message
	if !strings.HasSuffix(m, ")") {
		return 0
	}
	i := strings.LastIndex(m, " (")
	if i < 0 {
		return 0
	}
	n, ok := atoi(m[i+2 : len(m)-1])
	if !ok {
		return 0
	}
	e.Errno = n
	if j := strings.LastIndex(m[:i], ": "); j >= 0 {
		e.ErrText = m[j+2 : i]
	}
	return n
}

func quoted(s string, q byte) string {
	if i := strings.IndexByte(s, q); i >= 0 {
		return s[:i]
	}
	return s
}

func afterFloat(s, sep string) float64 {
	if i := strings.Index(s, sep); i >= 0 {
		f, _, _ := leadingFloat(s[i+len(sep):])
		return f
	}
	return 0
}

// NormalizeListen turns a php-fpm listen address as printed in its log
// into the form NormalizeUpstream produces: a unix path, or "host:port"
// with IPv6 hosts in brackets. A port-only address "9000" becomes ":9000"
// (php-fpm binds every address).
func NormalizeListen(a string) (target, kind string) {
	if a == "" {
		return "", ""
	}
	if _, ok := atoi(a); ok {
		return ":" + a, "tcp"
	}
	if !strings.Contains(a, ":") {
		return a, "unix"
	}
	i := strings.LastIndexByte(a, ':')
	host, port := a[:i], a[i+1:]
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port, "tcp"
	}
	return host + ":" + port, "tcp"
}
