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
func isNginxHead[T string | []byte](b T) bool {
	return len(b) >= 22 && b[4] == '/' && b[7] == '/' && b[10] == ' ' && b[13] == ':' &&
		b[16] == ':' && b[19] == ' ' && b[20] == '['
}

// nginxClock reads the timestamp of a head line; ok is false when the
// fields are not digits or out of range.
func nginxClock[T string | []byte](b T) (y, mo, d, h, mi, s int, ok bool) {
	y, mo, d = digits4(b, 0), digits2(b, 5), digits2(b, 8)
	h, mi, s = digits2(b, 11), digits2(b, 14), digits2(b, 17)
	return y, mo, d, h, mi, s, validDate(y, mo, d, h, mi, s)
}

// nginxMessageStart returns the offset of the message in a head line (after
// "[level] pid#tid: " and an optional "*N "), or -1.
func nginxMessageStart[T string | []byte](b T) int {
	i := 21
	for i < len(b) && i < 30 && b[i] != ']' {
		i++
	}
	if i >= len(b) || b[i] != ']' {
		return -1
	}
	i++
	if i >= len(b) || b[i] != ' ' {
		return -1
	}
	i++
	// pid#tid: ; a few platforms print other thread ids, so only the shape is checked.
	limit := min(len(b)-1, i+48)
	for i < limit && !(b[i] == ':' && b[i+1] == ' ') {
		i++
	}
	if i >= limit {
		return -1
	}
	i += 2
	return skipConn(b, i)
}

// skipConn returns where the message starts when the "pid#tid: " part ends
// at i: after the connection's "*N " if there is one.
func skipConn[T string | []byte](b T, i int) int {
	if i < len(b) && b[i] == '*' {
		k := i + 1
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			k++
		}
		if k < len(b) && b[k] == ' ' {
			return k + 1
		}
	}
	return i
}

// lineMessageStart is nginxMessageStart for the scanner's hot path: the
// level word is matched whole and the "pid#tid: " end is found with a
// vector search instead of a byte loop. Unusual shapes take the general
// path, so the answer is always nginxMessageStart's.
func lineMessageStart(b []byte) int {
	if len(b) < 32 {
		return nginxMessageStart(b)
	}
	var i int
	switch string(b[21:27]) {
	case "error]", "emerg]", "alert]", "debug]":
		i = 27
	case "warn] ", "crit] ", "info] ":
		i = 26
	case "notice":
		i = 28
		if b[27] != ']' {
			return nginxMessageStart(b)
		}
	default:
		return nginxMessageStart(b)
	}
	if b[i] != ' ' {
		return nginxMessageStart(b)
	}
	i++
	limit := min(len(b)-1, i+48)
	j := bytes.IndexByte(b[i:limit], ':')
	if j < 0 || b[i+j+1] != ' ' {
		return nginxMessageStart(b)
	}
	i += j + 2
	return skipConn(b, i)
}

// nginxRelevantAt is the cheap byte test run on every head line, given
// where its message starts (-1: none): it looks only at the start of the
// message. Lines it rejects are never parsed.
func nginxRelevantAt(b []byte, i int) bool {
	if len(b) > 27 && string(b[21:27]) == "emerg]" {
		return true
	}
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
	if isNginxHead(s) {
		y, mo, d, h, mi, sec, good := nginxClock(s)
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
	return parseNginxHinted(s, t, -1, e)
}

// parseNginxHinted is parseNginxAt for a caller that already found where
// the message starts (msg >= 0), as the scanner's relevance test does.
func parseNginxHinted(s string, t time.Time, msg int, e *Entry) bool {
	e.Source = SourceNginx
	e.Raw = s
	var body string
	switch {
	case isNginxHead(s):
		e.Time = t
		i := msg
		if i < 0 {
			i = nginxMessageStart(s)
		}
		if i < 0 {
			return false
		}
		end := 21
		for end < i && s[end] != ']' {
			end++
		}
		e.Level = s[21:end]
		// "pid#tid: " and an optional "*conn " lie between the level and
		// the message.
		if k := end + 2; k < i {
			if n, next := leadingDigits(s, k, i); next < i && s[next] == '#' {
				e.PID = int(n)
			}
		}
		if d := i - 1; d > 3 && s[d] == ' ' {
			for d > 0 && s[d-1] >= '0' && s[d-1] <= '9' {
				d--
			}
			if d < i-1 && s[d-1] == '*' && s[d-2] == ' ' && s[d-3] == ':' {
				n, _ := leadingDigits(s, d, i-1)
				e.Conn = n
			}
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
	switch e.Level {
	case "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug":
	default:
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

	if a := knownAction(msg); a != "" {
		e.Action = a
		msg = msg[:len(msg)-len(a)-7]
	} else if i := lastIndex(msg, " while "); i >= 0 && isAction(msg[i+7:]) {
		e.Action = msg[i+7:]
		msg = msg[:i]
	}
	if strings.HasSuffix(msg, ")") {
		if i := lastOpenParen(msg); i >= 0 {
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

// leadingDigits reads the decimal number in s[from:to] up to the first
// non-digit, and where it stopped. More than 18 digits read as 0.
func leadingDigits(s string, from, to int) (int64, int) {
	var n int64
	k := from
	for ; k < to && s[k] >= '0' && s[k] <= '9'; k++ {
		n = n*10 + int64(s[k]-'0')
	}
	if k-from > 18 {
		n = 0
	}
	return n, k
}

// lastOpenParen returns the index of the last " (" in msg, or -1. The
// errno part sits at the end and its text has no parentheses, so the
// backward walk is short.
func lastOpenParen(msg string) int {
	for i := len(msg) - 1; i > 0; i-- {
		if msg[i] == '(' && msg[i-1] == ' ' {
			return i - 1
		}
	}
	return -1
}

// knownAction returns the action msg ends with (" while <action>"), if it
// is one nginx's upstream module sets; a cheap suffix test for the common case.
func knownAction(msg string) string {
	for _, a := range [...]string{"connecting to upstream", "reading response header from upstream",
		"sending request to upstream", "reading upstream"} {
		if len(msg) > len(a)+7 && msg[len(msg)-len(a):] == a && msg[len(msg)-len(a)-7:len(msg)-len(a)] == " while " {
			return a
		}
	}
	return ""
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

// tailFields are the context fields nginx appends, right to left.
var tailFields = [...]struct {
	name   string // ", name: " plus a quote for quoted fields
	quoted bool
}{
	{`, referrer: "`, true},
	{`, host: "`, true},
	{`, upstream: "`, true},
	{`, subrequest: "`, true},
	{`, request: "`, true},
	{", server: ", false},
	{", client: ", false},
}

// splitNginxTail removes the context fields nginx appends and returns what
// is left. Fields are found in one backward pass: a request line or a
// referrer can itself contain ", " or quotes, so the rightmost marker of
// each field wins, fields must come in nginx's order, and a value that
// would span another field's separator is refused. If no client field is
// found that way (a line cut at 2048 bytes), fields are read from the left.
func splitNginxTail(body string, e *Entry) string {
	if msg, ok := splitTailForward(body, e); ok {
		return msg
	}
	e.Client, e.Server, e.Request, e.Upstream, e.Host, e.Referrer = "", "", "", "", "", ""
	end := len(body)
	next := 0           // index in tailFields of the next field that may match
	sepInValue := false // a ", " was passed since the last accepted field
	quoteSep := false   // a "\", " was passed since the last accepted field
	var vals [len(tailFields)]string
	found := false
	for i := end - 2; i > 0 && next < len(tailFields); i-- {
		if body[i] != ',' || body[i+1] != ' ' {
			continue
		}
		matched := false
		for k := next; k < len(tailFields); k++ {
			f := tailFields[k]
			if !strings.HasPrefix(body[i:end], f.name) {
				continue
			}
			if f.quoted && (quoteSep || body[end-1] != '"' || end-1 < i+len(f.name)) {
				continue
			}
			if !f.quoted && sepInValue {
				continue
			}
			if f.quoted {
				vals[k] = body[i+len(f.name) : end-1]
			} else {
				vals[k] = body[i+len(f.name) : end]
			}
			end, next, matched, found = i, k+1, true, true
			sepInValue, quoteSep = false, false
			break
		}
		if !matched {
			sepInValue = true
			if body[i-1] == '"' {
				quoteSep = true
			}
		}
	}
	if found && next == len(tailFields) {
		e.Referrer, e.Host, e.Upstream = vals[0], vals[1], vals[2]
		e.Request, e.Server, e.Client = vals[4], vals[5], vals[6]
		return body[:end]
	}
	// Cut line: read "..., client: A, server: B, request: "C..." left to right,
	// starting after the action so text inside a stderr message is skipped.
	from := lastIndex(body, " while ")
	if from < 0 {
		from = 0
	}
	i := strings.Index(body[from:], ", client: ")
	if i < 0 {
		if found { // fields without a client: resolver-less runtime lines, odd builds
			e.Referrer, e.Host, e.Upstream = vals[0], vals[1], vals[2]
			e.Request, e.Server = vals[4], vals[5]
			return body[:end]
		}
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

// splitTailForward is the fast path for well-formed lines: it reads the
// fields left to right with SIMD-backed searches and reports whether they
// ran exactly to the end of the line. Anything unusual (a request with
// quotes, ", client: " inside a stderr message, a cut line) fails the check
// and goes to the careful backward pass.
func splitTailForward(body string, e *Entry) (string, bool) {
	i := strings.Index(body, ", client: ")
	if i < 0 {
		return "", false
	}
	msg, r := body[:i], body[i+10:]
	j := indexCommaSpace(r)
	if j < 0 {
		e.Client = r
		return msg, true
	}
	e.Client, r = r[:j], r[j:]
	if len(r) >= 10 && r[:10] == ", server: " {
		v := r[10:]
		if j := indexCommaSpace(v); j >= 0 {
			e.Server, r = v[:j], v[j:]
		} else {
			e.Server, r = v, ""
		}
	}
	// The quoted fields, each optional, in nginx's order. Markers are
	// compared as constants, which the compiler turns into word compares.
	var sub string
	for stage := 0; r != ""; {
		var dst *string
		var n int
		switch {
		case stage <= 0 && strings.HasPrefix(r, `, request: "`):
			dst, n, stage = &e.Request, 12, 1
		case stage <= 1 && strings.HasPrefix(r, `, subrequest: "`):
			dst, n, stage = &sub, 15, 2
		case stage <= 2 && strings.HasPrefix(r, `, upstream: "`):
			dst, n, stage = &e.Upstream, 13, 3
		case stage <= 3 && strings.HasPrefix(r, `, host: "`):
			dst, n, stage = &e.Host, 9, 4
		case stage <= 4 && strings.HasPrefix(r, `, referrer: "`):
			dst, n, stage = &e.Referrer, 13, 5
		default:
			return msg, false
		}
		val, rest, ok := quotedValue(r[n:])
		if !ok {
			return msg, false
		}
		*dst, r = val, rest
	}
	return msg, true
}

// quotedValue splits `value", next...` at the quote that is followed by the
// end or by the next field's marker.
func quotedValue(v string) (val, rest string, ok bool) {
	from := 0
	for {
		k := indexByteShort(v[from:], '"')
		if k < 0 {
			return "", "", false
		}
		k += from
		after := v[k+1:]
		if after == "" || isFieldAfterQuote(after) {
			return v[:k], after, true
		}
		from = k + 1
	}
}

// isFieldAfterQuote reports whether s starts with the marker of a quoted
// field that may follow another quoted one.
func isFieldAfterQuote(s string) bool {
	if len(s) < 9 || s[0] != ',' || s[1] != ' ' {
		return false
	}
	switch s[2] {
	case 'u':
		return strings.HasPrefix(s, `, upstream: "`)
	case 'h':
		return strings.HasPrefix(s, `, host: "`)
	case 'r':
		return strings.HasPrefix(s, `, referrer: "`)
	case 's':
		return strings.HasPrefix(s, `, subrequest: "`)
	}
	return false
}

// lastIndex is strings.LastIndex for short patterns, scanning back for the
// first byte: much cheaper than the generic Rabin-Karp on log lines.
func lastIndex(s, sub string) int {
	if sub == "" {
		return len(s)
	}
	c := sub[0]
	for i := len(s) - len(sub); i >= 0; i-- {
		if s[i] == c && s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// classifyNginx sets Kind, Status and Target from the parsed fields. Errno
// numbers decide, never texts: musl and glibc word them differently.
func classifyNginx(e *Entry) {
	m := e.Message
	afterHeader := e.Action == "reading upstream"
	peer, matched := classifyNginxPrefix(m, e)
	if !matched {
		switch {
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

// classifyNginxPrefix classifies the messages recognized by how they
// start, dispatching on the first byte since it runs for every relevant
// entry. It returns the peer named in the message, and false when no
// prefix rule applies.
func classifyNginxPrefix(m string, e *Entry) (peer string, matched bool) {
	if m == "" {
		return "", false
	}
	upstreamSide := func() bool { return e.Upstream != "" || strings.Contains(e.Action, "upstream") }
	switch m[0] {
	case 'c':
		if strings.HasPrefix(m, "connect() ") && upstreamSide() {
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
			return peer, true
		}
	case 'r':
		if (strings.HasPrefix(m, "recv() failed") || strings.HasPrefix(m, "readv() failed")) && upstreamSide() {
			e.Kind = KindRecvFailed
			if e.Errno == 104 {
				e.Kind = KindRecvReset
			}
			return "", true
		}
	case 'w', 's':
		if (strings.HasPrefix(m, "writev() failed") || strings.HasPrefix(m, "send() failed")) && strings.Contains(e.Action, "to upstream") {
			e.Kind = KindSendFailed
			return "", true
		}
	case 'u':
		switch {
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
		default:
			return "", false
		}
		return "", true
	case 'n':
		switch {
		case strings.HasPrefix(m, "no live upstreams"):
			e.Kind = KindNoLiveUpstreams
			return "", true
		case strings.HasPrefix(m, "no resolver defined to resolve "):
			e.Kind = KindResolveFailed
			return strings.TrimPrefix(m, "no resolver defined to resolve "), true
		}
	case 'F':
		if strings.HasPrefix(m, "FastCGI sent in stderr") {
			e.Kind = classifyPHPOutput(m, e)
			return "", true
		}
	case 'h':
		if strings.HasPrefix(m, "host not found in upstream ") {
			e.Kind = KindHostNotFound
			return confLocation(e), true
		}
	}
	return "", false
}

// NormalizeUpstream turns an nginx upstream value ("fastcgi://unix:/p.sock:",
// "fastcgi://127.0.0.1:9000", "fastcgi://[::1]:9000", "fastcgi://php_pool",
// "unix:/p.sock", "php:9000") into a target a caller can compare with a
// pool's listen address. nginx prints a ":" after unix paths except on
// "upstream timed out" lines (it clears the peer address before logging);
// set noSep for those, so a path that really ends in ":" stays intact.
func NormalizeUpstream(u string, noSep bool) (target, kind string) {
	if len(u) > 10 && u[:10] == "fastcgi://" { // nearly every line: skip the search
		u = u[10:]
	} else if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if len(u) >= 5 && (u[:5] == "unix:" || strings.EqualFold(u[:5], "unix:")) {
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
		// php-fpm's own words when SCRIPT_FILENAME names no file it can
		// see (another document root, a chroot, another container).
		if strings.Contains(m, "sent in stderr: \"Primary script unknown") {
			return KindScriptUnknown
		}
		return KindFastCGIStderr
	}
	return KindOther
}
