package logscan

import (
	"bytes"
	"strings"
	"time"
)

// nginxMaxLine is NGX_MAX_ERROR_STR: nginx cuts an entry (newline
// included) at 2048 bytes, so an entry this long was probably cut.
const nginxMaxLine = 2048

// isNginxHead reports whether line starts a new nginx error-log entry:
// "YYYY/MM/DD HH:MM:SS [". Everything else is a continuation line.
func isNginxHead(b []byte) bool {
	return len(b) >= 22 && b[4] == '/' && b[7] == '/' && b[10] == ' ' && b[13] == ':' &&
		b[16] == ':' && b[19] == ' ' && b[20] == '['
}

// nginxClock reads the timestamp of a head line; ok is false when the
// fields are not digits or out of range.
func nginxClock(b []byte) (y, mo, d, h, mi, s int, ok bool) {
	y, mo, d = digits4(b, 0), digits2(b, 5), digits2(b, 8)
	h, mi, s = digits2(b, 11), digits2(b, 14), digits2(b, 17)
	return y, mo, d, h, mi, s, validDate(y, mo, d, h, mi, s)
}

var nginxLevels = [...]string{"emerg", "alert", "crit", "error", "warn", "notice", "info", "debug"}

// nginxMessageStart returns the offset of the message in a head line (after
// "[level] pid#tid: " and an optional "*N "), or -1.
func nginxMessageStart(b []byte) int {
	j := bytes.IndexByte(b[21:min(len(b), 30)], ']')
	if j < 0 {
		return -1
	}
	i := 21 + j + 1
	if i >= len(b) || b[i] != ' ' {
		return -1
	}
	i++
	// pid#tid: ; a few platforms print other thread ids, so only the shape is checked.
	k := bytes.Index(b[i:min(len(b), i+48)], []byte(": "))
	if k < 0 {
		return -1
	}
	i += k + 2
	if i < len(b) && b[i] == '*' {
		k := i + 1
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if k < len(b) && b[k] == ' ' {
			i = k + 1
		}
	}
	return i
}

// nginxMaybeRelevant is the cheap byte test run on every head line: it looks
// only at the start of the message. Lines it rejects are never parsed.
func nginxMaybeRelevant(b []byte) bool {
	if len(b) > 27 && string(b[21:27]) == "emerg]" {
		return true
	}
	i := nginxMessageStart(b)
	if i < 0 || i >= len(b) {
		return false
	}
	m := b[i:]
	switch m[0] {
	case 'c':
		return bytes.HasPrefix(m, []byte("connect() ")) || resolveFailure(m)
	case 'r':
		return bytes.HasPrefix(m, []byte("recv() failed")) || bytes.HasPrefix(m, []byte("readv() failed")) || resolveFailure(m)
	case 'w':
		return bytes.HasPrefix(m, []byte("writev() failed")) || resolveFailure(m)
	case 's':
		return bytes.HasPrefix(m, []byte("send() failed")) || resolveFailure(m)
	case 'u':
		return bytes.HasPrefix(m, []byte("upstream ")) || resolveFailure(m)
	case 'n':
		return bytes.HasPrefix(m, []byte("no ")) || resolveFailure(m)
	case 'F':
		return bytes.HasPrefix(m, []byte("FastCGI sent in stderr"))
	case 'h':
		return bytes.HasPrefix(m, []byte("host not found in upstream")) || resolveFailure(m)
	case 'i':
		return bytes.HasPrefix(m, []byte("invalid ")) || resolveFailure(m)
	}
	return resolveFailure(m)
}

// resolveFailure matches "NAME could not be resolved (": a host name has no
// spaces, so only the bytes after the first space are compared.
func resolveFailure(m []byte) bool {
	sp := bytes.IndexByte(m[:min(len(m), 300)], ' ')
	return sp > 0 && bytes.HasPrefix(m[sp:], []byte(" could not be resolved ("))
}

// ParseNginx parses one logical nginx error-log entry (continuation lines
// joined with "\n", no trailing newline) and classifies it. It also accepts
// the console copy "nginx: [emerg] ..." written to stderr, which has no
// time. ok is false when s is not an nginx entry at all; an entry of no
// interest has Kind KindOther.
func ParseNginx(s string, loc *time.Location) (e Entry, ok bool) {
	if loc == nil {
		loc = time.Local
	}
	var t time.Time
	if len(s) >= 22 && isNginxHead([]byte(s[:22])) {
		y, mo, d, h, mi, sec, good := nginxClock([]byte(s[:19]))
		if !good {
			return e, false
		}
		t = time.Date(y, time.Month(mo), d, h, mi, sec, 0, loc)
	}
	ok = parseNginxAt(s, t, &e)
	return e, ok
}

// parseNginxAt parses s whose head time t the caller already knows.
func parseNginxAt(s string, t time.Time, e *Entry) bool {
	e.Source = SourceNginx
	e.Raw = s
	var body string
	switch {
	case len(s) >= 22 && isNginxHead([]byte(s[:22])):
		e.Time = t
		i := nginxMessageStart([]byte(s[:min(len(s), 96)]))
		if i < 0 {
			return false
		}
		e.Level = s[21 : 21+strings.IndexByte(s[21:], ']')]
		hdr := s[22+len(e.Level)+1 : i]
		pid, _, _ := strings.Cut(hdr, "#")
		e.PID, _ = atoi(pid)
		if j := strings.Index(hdr, ": *"); j >= 0 {
			n, _ := atoi(strings.TrimSpace(hdr[j+3:]))
			e.Conn = int64(n)
		}
		body = s[i:]
	case strings.HasPrefix(s, "nginx: ["):
		j := strings.IndexByte(s, ']')
		if j < 0 {
			return false
		}
		e.Level = s[8:j]
		body = strings.TrimPrefix(s[j+1:], " ")
	default:
		return false
	}
	known := false
	for _, l := range nginxLevels {
		if e.Level == l {
			known = true
		}
	}
	if !known {
		return false
	}
	e.Truncated = len(s) >= nginxMaxLine-1
	parseNginxBody(body, e)
	return true
}

// parseNginxBody splits "message (errno: text) while action, client: ...,
// upstream: "...", host: "..."" and classifies it.
func parseNginxBody(body string, e *Entry) {
	msg := splitNginxTail(body, e)

	if i := strings.LastIndex(msg, " while "); i >= 0 && isAction(msg[i+7:]) {
		e.Action = msg[i+7:]
		msg = msg[:i]
	}
	if strings.HasSuffix(msg, ")") {
		if i := strings.LastIndex(msg, " ("); i >= 0 {
			if n, rest, ok := leadingInt(msg[i+2 : len(msg)-1]); ok && strings.HasPrefix(rest, ": ") {
				e.Errno = n
				e.ErrText = rest[2:]
				msg = msg[:i]
				// nginx inserts "..." before the errno when its buffer is nearly full.
				msg = strings.TrimSuffix(msg, "...")
			}
		}
	}
	e.Message = msg
	classifyNginx(e)
}

// isAction accepts the lowercase words nginx puts after "while".
func isAction(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && c != ' ' && c != '"' && c != '_' && c != '-' && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

// splitNginxTail removes the context fields nginx appends and returns what
// is left. Fields are taken from the right because a request line can
// itself contain ", "; a value that would span another field is refused.
// If that fails (a line cut at 2048 bytes), fields are read from the left.
func splitNginxTail(body string, e *Entry) string {
	rest := body
	var sub string
	rest = takeQuoted(rest, `, referrer: "`, &e.Referrer)
	rest = takeQuoted(rest, `, host: "`, &e.Host)
	rest = takeQuoted(rest, `, upstream: "`, &e.Upstream)
	rest = takeQuoted(rest, `, subrequest: "`, &sub)
	rest = takeQuoted(rest, `, request: "`, &e.Request)
	rest = takeUnquoted(rest, ", server: ", &e.Server)
	if i := strings.LastIndex(rest, ", client: "); i >= 0 && !strings.Contains(rest[i+10:], ", ") {
		e.Client = rest[i+10:]
		return rest[:i]
	}
	if e.Request != "" || e.Upstream != "" || e.Host != "" {
		return rest
	}
	// Cut line: read "..., client: A, server: B, request: "C..." left to right,
	// starting after the action so text inside a stderr message is skipped.
	from := strings.LastIndex(body, " while ")
	if from < 0 {
		from = 0
	}
	i := strings.Index(body[from:], ", client: ")
	if i < 0 {
		return body
	}
	i += from
	msg := body[:i]
	tail := body[i+10:]
	e.Client, tail, _ = strings.Cut(tail, ", ")
	if v, ok := strings.CutPrefix(tail, "server: "); ok {
		e.Server, tail, _ = strings.Cut(v, ", ")
	}
	if v, ok := strings.CutPrefix(tail, `request: "`); ok {
		e.Request, tail, _ = strings.Cut(v, `", `)
		e.Request = strings.TrimSuffix(e.Request, `"`)
	}
	if v, ok := strings.CutPrefix(tail, `upstream: "`); ok {
		e.Upstream, tail, _ = strings.Cut(v, `"`)
		tail = strings.TrimPrefix(tail, ", ")
	}
	if v, ok := strings.CutPrefix(tail, `host: "`); ok {
		e.Host, _, _ = strings.Cut(v, `"`)
	}
	return msg
}

func takeQuoted(rest, marker string, dst *string) string {
	if !strings.HasSuffix(rest, `"`) {
		return rest
	}
	i := strings.LastIndex(rest, marker)
	if i < 0 || i+len(marker) > len(rest)-1 {
		return rest
	}
	v := rest[i+len(marker) : len(rest)-1]
	if strings.Contains(v, `", `) {
		return rest
	}
	*dst = v
	return rest[:i]
}

func takeUnquoted(rest, marker string, dst *string) string {
	i := strings.LastIndex(rest, marker)
	if i < 0 || strings.Contains(rest[i+len(marker):], ", ") {
		return rest
	}
	*dst = rest[i+len(marker):]
	return rest[:i]
}

// classifyNginx sets Kind, Status and Target from the parsed fields. Errno
// numbers decide, never texts: musl and glibc word them differently.
func classifyNginx(e *Entry) {
	m := e.Message
	upstreamSide := strings.Contains(e.Action, "upstream") || e.Upstream != ""
	afterHeader := e.Action == "reading upstream"
	peer := ""
	switch {
	case strings.HasPrefix(m, "connect() ") && upstreamSide:
		if v, ok := strings.CutPrefix(m, "connect() to "); ok {
			peer = strings.TrimSuffix(v, " failed")
		}
		switch e.Errno {
		case 2:
			e.Kind = KindConnectENOENT
		case 13:
			e.Kind = KindConnectEACCES
		case 111:
			e.Kind = KindConnectRefused
		case 11:
			e.Kind = KindConnectEAGAIN
		default:
			e.Kind = KindConnectFailed
		}
	case (strings.HasPrefix(m, "recv() failed") || strings.HasPrefix(m, "readv() failed")) && upstreamSide:
		e.Kind = KindRecvFailed
		if e.Errno == 104 {
			e.Kind = KindRecvReset
		}
	case (strings.HasPrefix(m, "writev() failed") || strings.HasPrefix(m, "send() failed")) && strings.Contains(e.Action, "to upstream"):
		e.Kind = KindSendFailed
	case strings.HasPrefix(m, "upstream timed out"):
		e.Kind = KindUpstreamTimeout
	case strings.HasPrefix(m, "upstream prematurely closed"):
		e.Kind = KindPrematureClose
	case strings.HasPrefix(m, "upstream sent too big header"):
		e.Kind = KindTooBigHeader
	case strings.HasPrefix(m, "upstream sent "):
		e.Kind = KindInvalidResponse
	case strings.HasPrefix(m, "upstream server temporarily disabled"):
		e.Kind = KindUpstreamDisabled
	case strings.HasPrefix(m, "no live upstreams"):
		e.Kind = KindNoLiveUpstreams
	case strings.HasPrefix(m, "FastCGI sent in stderr"):
		e.Kind = classifyPHPOutput(m, e)
	case strings.HasPrefix(m, "host not found in upstream "):
		e.Kind = KindHostNotFound
		peer = confLocation(e)
	case strings.HasPrefix(m, "no resolver defined to resolve "):
		e.Kind = KindResolveFailed
		peer = strings.TrimPrefix(m, "no resolver defined to resolve ")
	case strings.Contains(m, " could not be resolved"):
		e.Kind = KindResolveFailed
		peer, _, _ = strings.Cut(m, " ")
	case strings.Contains(m, ` in upstream "`) || strings.HasPrefix(m, "no path in the unix domain socket"):
		e.Kind = KindConfigError
		peer = confLocation(e)
		if e.ConfFile == "" {
			e.Status = 500 // per-request address error (fastcgi_pass with variables)
		}
	case e.Level == "emerg":
		e.Kind = KindEmerg
		if confLocation(e); e.ConfFile != "" {
			e.Kind = KindConfigError
		}
	}
	if e.Status == 0 && !afterHeader {
		e.Status = e.Kind.Status()
	}
	if e.Kind == KindUpstreamDisabled {
		e.Status = 0
	}
	src := e.Upstream
	if src == "" {
		src = peer
	}
	if src != "" && e.Kind != KindOther {
		e.Target, e.TargetKind = NormalizeUpstream(src, e.Kind == KindUpstreamTimeout)
	}
}

// confLocation strips " in FILE:LINE" from the message into ConfFile and
// ConfLine and returns the quoted upstream name, if any.
func confLocation(e *Entry) string {
	m := e.Message
	if i := strings.LastIndex(m, " in "); i >= 0 {
		if file, line, ok := cutSuffixInt(m[i+4:], ":"); ok && file != "" {
			e.ConfFile, e.ConfLine = file, line
			e.Message = m[:i]
			m = m[:i]
		}
	}
	if i := strings.Index(m, ` in upstream "`); i >= 0 {
		v := m[i+14:]
		if j := strings.IndexByte(v, '"'); j >= 0 {
			return v[:j]
		}
	}
	return ""
}

// NormalizeUpstream turns an nginx upstream value ("fastcgi://unix:/p.sock:",
// "fastcgi://127.0.0.1:9000", "fastcgi://[::1]:9000", "fastcgi://php_pool",
// "unix:/p.sock", "php:9000") into a target a caller can compare with a
// pool's listen address. nginx prints a ":" after unix paths except on
// "upstream timed out" lines (it clears the peer address before logging);
// set noSep for those, so a path that really ends in ":" stays intact.
func NormalizeUpstream(u string, noSep bool) (target, kind string) {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if len(u) >= 5 && strings.EqualFold(u[:5], "unix:") {
		p := u[5:]
		if !noSep {
			p = strings.TrimSuffix(p, ":")
		}
		return p, "unix"
	}
	if i := strings.IndexByte(u, '/'); i >= 0 { // a proxy_pass URI part
		u = u[:i]
	}
	if strings.HasPrefix(u, "[") {
		if j := strings.Index(u, "]:"); j >= 0 {
			if _, ok := atoi(u[j+2:]); ok {
				return u, "tcp"
			}
		}
		return u, "group"
	}
	if i := strings.LastIndexByte(u, ':'); i >= 0 {
		if _, ok := atoi(u[i+1:]); ok && strings.IndexByte(u[:i], ':') < 0 {
			return u, "tcp"
		}
	}
	return u, "group"
}

// classifyPHPOutput looks inside PHP's output (FastCGI stderr, or a worker's
// captured stderr) for a memory_limit hit or another fatal error.
func classifyPHPOutput(m string, e *Entry) Kind {
	if i := strings.Index(m, "Allowed memory size of "); i >= 0 {
		if n, rest, ok := leadingInt(m[i+23:]); ok && strings.HasPrefix(rest, " bytes exhausted") {
			e.Limit = n
		}
		return KindMemoryExhausted
	}
	if strings.Contains(m, "PHP Fatal error") {
		return KindPHPFatal
	}
	if e.Source == SourceNginx {
		return KindFastCGIStderr
	}
	return KindOther
}
