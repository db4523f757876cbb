package logscan

import (
	"strings"
	"time"
	"unsafe"
)

// Entry is one classified logical log entry. Its text fields are substrings
// of Raw or constants. An entry handed to a Func may point into a reused
// read buffer: Clone it to keep it.
type Entry struct {
	Source Source
	Kind   Kind
	// Time is the entry's own timestamp. Lines without one (undecorated
	// worker output, plain dmesg) inherit the last time seen in the stream
	// and have TimeInherited set; Time is zero when none was seen yet.
	Time          time.Time
	TimeInherited bool
	Level         string // as written: "error", "crit", "WARNING", ...
	// Status is the HTTP status nginx answered because of this entry (502,
	// 504, 500), or 0 when the entry does not decide one (for example a
	// reset "while reading upstream", after the client already got 200).
	Status int
	// Retried is set (by Attempts.Mark) on a failed try that nginx
	// followed with a try of another server of the upstream: the request
	// did not end with this line, so Status is 0.
	Retried bool

	Message string // message text without errno and context
	Errno   int    // errno number, 0 when absent; match numbers, texts differ by libc
	ErrText string // errno text as written ("Connection refused", "Operation timed out")

	// PID is the process that wrote the entry: nginx's "pid#", or the
	// journal's _PID.
	PID int
	// nginx context.
	Conn     int64  // *N connection serial number, 0 when absent
	Action   string // after "while": "connecting to upstream", "reading response header from upstream", ...
	Client   string
	Server   string
	Request  string // full request line: "GET /x?y HTTP/1.1"
	Upstream string // as logged: "fastcgi://unix:/run/php.sock:"
	Host     string
	Referrer string
	// Target is the normalized upstream or listen address: a unix socket
	// path ("/run/php/php8.2-fpm.sock"), "host:port" ("127.0.0.1:9000",
	// "[::1]:9000"), or an upstream group name ("php_pool"). TargetKind is
	// "unix", "tcp" or "group".
	Target     string
	TargetKind string
	ConfFile   string // "in FILE:LINE" of configuration errors
	ConfLine   int

	// php-fpm context.
	Pool       string
	Child      int     // child pid
	Signal     int     // signal number of child-exited-signal
	SignalName string  // "SIGSEGV"
	CoreDumped bool    // "- core dumped"
	ExitCode   int     // child-exited-code
	Seconds    float64 // child lifetime, or request duration for timed-out / slow
	Script     string  // script path of timed-out / slow requests
	Limit      int     // max_children value, or memory_limit bytes for memory-exhausted
	Idle       int     // seems-busy: idle children
	Total      int     // seems-busy: total children
	Address    string  // listen address of bind / inherited-socket lines, client IP of connection-disallowed

	// Kernel and journal context.
	Process string // process name of OOM kills ("php-fpm8.2")
	RSSKiB  int64  // anon-rss of an OOM-killed process
	Unit    string // systemd unit (journal)

	// Position.
	File      string
	Offset    int64 // byte offset of the entry in the (uncompressed) stream
	Line      int64 // 1-based line number, 0 when unknown (after a seek)
	Truncated bool  // the entry was cut: nginx's 2048-byte limit, or our entry cap
	Raw       string
}

// Method returns the request method, "" when unknown.
func (e *Entry) Method() string {
	m, _, _ := strings.Cut(e.requestLine(), " ")
	return m
}

// URI returns the request URI with its query string, "" when unknown.
// php-fpm timeout lines carry "METHOD URI" without a protocol.
func (e *Entry) URI() string {
	r := e.requestLine()
	_, rest, ok := strings.Cut(r, " ")
	if !ok {
		return ""
	}
	if i := strings.LastIndexByte(rest, ' '); i >= 0 && strings.HasPrefix(rest[i+1:], "HTTP/") {
		rest = rest[:i]
	}
	return rest
}

// Path returns the URI without its query string.
func (e *Entry) Path() string {
	u := e.URI()
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	return u
}

func (e *Entry) requestLine() string { return e.Request }

// OwnCheckPrefix starts the name of the script fpmdoctor fix requests
// through nginx to see a site answer (a name no application has, followed
// by 12 hex digits and .php).
const OwnCheckPrefix = "fpmdoctor-check-"

// OwnCheck reports whether the entry is about one of fpmdoctor fix's own
// check requests: fix asks each site once before it changes anything, so
// a site that is still broken logs a 502 of fpmdoctor's own, which is no
// user's failure and must not be counted as one afterwards.
func (e *Entry) OwnCheck() bool {
	if e.Request == "" || !strings.Contains(e.Request, OwnCheckPrefix) {
		return false
	}
	p := e.Path()
	name := p[strings.LastIndexByte(p, '/')+1:]
	hexPart, ok := strings.CutPrefix(name, OwnCheckPrefix)
	if !ok {
		return false
	}
	hexPart, ok = strings.CutSuffix(hexPart, ".php")
	if !ok || len(hexPart) != 12 {
		return false
	}
	for _, c := range hexPart {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// IsFailure reports whether the entry is an nginx upstream failure that
// answered the client with 502 or 504.
func (e *Entry) IsFailure() bool {
	return e.Source == SourceNginx && (e.Status == 502 || e.Status == 504)
}

// ConnectTimeout reports whether the entry is nginx's "upstream timed out
// … while connecting to upstream": the connect got no answer at all, as
// opposed to a response that took longer than fastcgi_read_timeout.
func (e *Entry) ConnectTimeout() bool {
	return e.Kind == KindUpstreamTimeout && e.Action == "connecting to upstream"
}

// Clone returns a copy of e that owns its text: Raw is copied once and
// every field that points into the old Raw is re-pointed into the copy.
// Text a scan borrows from its buffer is always inside Raw; other fields
// are constants or strings the caller set (File, Pool), kept as they are.
func (e *Entry) Clone() Entry {
	c, _ := e.CloneInto(nil)
	return c
}

// CloneInto is Clone copying the text into buf's storage (grown when too
// small) and returning that storage for the caller to reuse. The clone's
// strings point into it: reuse buf only once the clone is dropped.
func (e *Entry) CloneInto(buf []byte) (Entry, []byte) {
	c := *e
	if e.Raw == "" {
		return c, buf
	}
	buf = append(buf[:0], e.Raw...)
	c.Raw = unsafe.String(&buf[0], len(buf))
	base := uintptr(unsafe.Pointer(unsafe.StringData(e.Raw)))
	end := base + uintptr(len(e.Raw))
	for _, f := range c.textFields() {
		if *f == "" {
			continue
		}
		if p := uintptr(unsafe.Pointer(unsafe.StringData(*f))); p >= base && p < end {
			off := int(p - base)
			*f = c.Raw[off : off+len(*f)]
		}
	}
	return c, buf
}

// textFields lists the string fields that may come from the log text.
// Source, Kind and TargetKind are always constants.
func (e *Entry) textFields() []*string {
	return []*string{&e.Level, &e.Message, &e.ErrText, &e.Action, &e.Client, &e.Server, &e.Request,
		&e.Upstream, &e.Host, &e.Referrer, &e.Target, &e.ConfFile, &e.Pool, &e.SignalName, &e.Script,
		&e.Address, &e.Process, &e.Unit, &e.File}
}
