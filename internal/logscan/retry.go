package logscan

import (
	"slices"
	"time"
)

// RetryCondition names the fastcgi_next_upstream condition under which
// nginx tries the next server after the failure e logs ("error",
// "timeout", "invalid_header"), or "" when nginx never does: e is no
// failure, a "no live upstreams" (nothing left to try), or a request that
// cannot be repeated. ngx_http_upstream_next() gives up on a POST, LOCK or
// PATCH once its request was sent, that is after the connect.
func (e *Entry) RetryCondition() string {
	if !e.IsFailure() {
		return ""
	}
	var cond string
	switch e.Kind {
	case KindConnectENOENT, KindConnectEACCES, KindConnectRefused, KindConnectEAGAIN, KindConnectFailed,
		KindRecvReset, KindRecvFailed, KindSendFailed, KindPrematureClose:
		cond = "error" // NGX_HTTP_UPSTREAM_FT_ERROR
	case KindUpstreamTimeout:
		cond = "timeout"
	case KindTooBigHeader, KindInvalidResponse:
		cond = "invalid_header"
	default:
		return ""
	}
	if e.Action != "connecting to upstream" {
		switch e.Method() {
		case "POST", "LOCK", "PATCH":
			return ""
		}
	}
	return cond
}

// Attempts tells, line by line, which upstream failures ended their
// request and which only ended one try of it. nginx logs every failed try
// of a request (a connect refused by each dead server in turn), and only
// the request's last try decides its status: one that nginx followed with
// a try of another server is no 502, whatever that try did (a success
// logs nothing; a failure logs its own line; no server left to try logs
// "no live upstreams", itself a 502). The tries of one request share the
// worker (pid), the connection number (*N), the request line and the
// client, and never repeat a server (round robin marks each one tried).
//
// The zero value is ready. Memory is bounded: a request whose last try
// succeeded leaves no line to say so, so the requests are kept in two
// generations of at most maxPendingRequests/2 each, and the older one is
// dropped when the newer fills (a request that old has long ended).
type Attempts struct {
	cur, prev map[attemptKey]*attemptSet
}

type attemptKey struct {
	pid  int
	conn int64
}

// attemptSet is one request between its tries. It keeps hashes, not
// copies, of the entry's borrowed text: Mark runs for every failure line
// of a scan, and copying three strings per line cost a tenth of a
// diagnosis over a large log (and its garbage collection more). Within one
// worker's connection a collision between two request lines or two
// servers of 64-bit FNV-1a is not a practical concern.
type attemptSet struct {
	request uint64 // the request line and the client
	peers   []uint64
	last    time.Time
}

// textHash is FNV-1a of a and b with a separator between them.
func textHash(a, b string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(a); i++ {
		h = (h ^ uint64(a[i])) * prime
	}
	h = (h ^ 0xff) * prime
	for i := 0; i < len(b); i++ {
		h = (h ^ uint64(b[i])) * prime
	}
	return h
}

const (
	// attemptGap bounds the time between two tries of one request: each
	// waits at most fastcgi_connect_timeout or fastcgi_read_timeout
	// (60 s by default) before nginx moves on.
	attemptGap = 10 * time.Minute
	// maxPendingRequests bounds the requests kept between their tries.
	maxPendingRequests = 1 << 16
)

// Mark decides whether the failure e ended its request, e being the
// next line of one nginx error log in file order. tries is how many
// servers nginx may try for the request: the upstream's servers not marked
// down plus its backups, capped by fastcgi_next_upstream_tries; 0 or 1
// when it has none other, or when fastcgi_next_upstream does not cover
// e.RetryCondition(). While e is one of the first tries-1 tries of its
// request, nginx went on to another server: Mark sets e.Retried and clears
// e.Status, so e counts as a failed try, not as a 502 or 504. Otherwise e
// keeps its status.
func (a *Attempts) Mark(e *Entry, tries int) {
	if e.Source != SourceNginx || e.Retried {
		return
	}
	if e.Kind == KindNoLiveUpstreams {
		a.forget(e) // the request ended with it
		return
	}
	if tries < 2 || e.RetryCondition() == "" {
		a.forget(e)
		return
	}
	if e.Conn == 0 {
		return // its tries cannot be grouped: it keeps its status, as it did
	}
	k := attemptKey{e.PID, e.Conn}
	s := a.find(k)
	request, peer := textHash(e.Request, e.Client), textHash(e.Target, "")
	if s == nil || s.request != request || slices.Contains(s.peers, peer) || e.Time.Sub(s.last) > attemptGap {
		// A new request: the first, or the next one of a keepalive
		// connection (it tries a server this one already tried).
		if s == nil {
			s = &attemptSet{}
			a.put(k, s)
		}
		s.request, s.peers = request, s.peers[:0]
	}
	s.peers = append(s.peers, peer)
	s.last = e.Time
	if len(s.peers) < tries {
		e.Retried, e.Status = true, 0
		return
	}
	delete(a.cur, k) // tries exhausted: e decided the 502 or 504
}

// forget drops the request e ended.
func (a *Attempts) forget(e *Entry) {
	if e.Conn != 0 {
		k := attemptKey{e.PID, e.Conn}
		delete(a.cur, k)
		delete(a.prev, k)
	}
}

// find returns the request kept under k, moving it to the newer
// generation.
func (a *Attempts) find(k attemptKey) *attemptSet {
	if s := a.cur[k]; s != nil {
		return s
	}
	s := a.prev[k]
	if s != nil {
		delete(a.prev, k)
		a.put(k, s)
	}
	return s
}

func (a *Attempts) put(k attemptKey, s *attemptSet) {
	if a.cur == nil || len(a.cur) >= maxPendingRequests/2 {
		a.prev, a.cur = a.cur, make(map[attemptKey]*attemptSet)
	}
	a.cur[k] = s
}
