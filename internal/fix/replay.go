package fix

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// errNoReplay is why an action cannot be proven with --no-replay.
var errNoReplay = errors.New("--no-replay: the logged failing request is not sent again")

// loggedRequest is the failing request a finding's log evidence names:
// nginx's error-log line carries `request: "GET /x HTTP/1.1"` and
// `host: "example.com"`; php-fpm's line carries `request: "GET /x?y"` and
// no host (the site's server name is used then). Only GET and HEAD are
// returned: they change nothing by HTTP's rules, a POST might.
func loggedRequest(f report.Finding, site *snapshot.Site, timeout time.Duration) (Replay, error) {
	var refused string
	for _, ev := range f.Evidence {
		if ev.Kind != report.KindLog || strings.HasSuffix(ev.Text, "…") {
			continue // a cut line would replay a cut URI
		}
		e, ok := logscan.ParseNginx(ev.Text, time.Local)
		if !ok || e.Request == "" {
			e, ok = logscan.ParseFPM(ev.Text, time.Local)
		}
		if !ok || e.Request == "" {
			continue
		}
		method, rest, _ := strings.Cut(e.Request, " ")
		uri, _, _ := strings.Cut(rest, " ") // nginx's line ends with the protocol
		if !strings.HasPrefix(uri, "/") {
			continue
		}
		if method != "GET" && method != "HEAD" {
			refused = method
			continue
		}
		host := e.Host
		if host == "" && site != nil {
			host = site.Name
		}
		if host == "" || host == "_" || strings.ContainsAny(host, "*~ ") {
			host = "localhost"
		}
		return Replay{Method: method, Host: host, URI: uri, Timeout: timeout}, nil
	}
	if refused != "" {
		return Replay{}, fmt.Errorf("the logged failing request is a %s: fpmdoctor replays only GET and HEAD, which change nothing", refused)
	}
	return Replay{}, errors.New("no logged failing request (GET or HEAD with its URI) in the finding's evidence")
}

// maxMeasured bounds how many distinct logged failing requests a fix
// measures: each is one FastCGI request to the pool.
const maxMeasured = 5

// loggedRequests is the finding's logged failing request (loggedRequest)
// followed by the other distinct GET/HEAD requests that failed the same
// way on the same upstream within the finding's logged span, at most
// maxMeasured in all: nginx logs no header size, and another page or a
// longer cookie may have had a bigger one than the first line's.
func loggedRequests(ctx context.Context, f report.Finding, site *snapshot.Site, timeout time.Duration) ([]Replay, error) {
	first, err := loggedRequest(f, site, timeout)
	if err != nil {
		return nil, err
	}
	out := []Replay{first}
	var example logscan.Entry
	file := ""
	for _, ev := range f.Evidence {
		if ev.Kind != report.KindLog || ev.File == "" {
			continue
		}
		if e, ok := logscan.ParseNginx(ev.Text, time.Local); ok && e.Request != "" {
			example, file = e, ev.File
			break
		}
	}
	if file == "" || f.Logs == nil {
		return out, nil
	}
	w := logscan.Window{Since: f.Logs.First, Until: f.Logs.Last.Add(time.Second)}
	_, _ = logscan.Scan(ctx, file, logscan.Options{Window: w}, func(e *logscan.Entry) error {
		if len(out) >= maxMeasured || e.Kind != example.Kind || e.Target != example.Target || e.Retried || e.OwnCheck() {
			return nil
		}
		method, rest, _ := strings.Cut(e.Request, " ")
		uri, _, _ := strings.Cut(rest, " ")
		if (method != "GET" && method != "HEAD") || !strings.HasPrefix(uri, "/") {
			return nil
		}
		host := e.Host
		if host == "" || host == "_" || strings.ContainsAny(host, "*~ ") {
			host = first.Host
		}
		r := Replay{Method: method, Host: host, URI: uri, Timeout: timeout}
		for _, have := range out {
			if have == r {
				return nil
			}
		}
		out = append(out, r)
		return nil
	})
	return out, nil
}

// replayChecks makes one check of the action replay the logged request
// (through the site that serves its Host, else the first site checked),
// or marks the action unverified and says why.
func (p *Planner) replayChecks(a *Action, f report.Finding, timeout time.Duration) {
	if p.noReplay {
		a.Unverified = errNoReplay.Error()
		return
	}
	at := -1
	var rp Replay
	for i, c := range a.Checks {
		if c.Site == nil || c.NoWorse {
			continue
		}
		r, err := loggedRequest(f, c.Site, timeout)
		if err != nil {
			a.Unverified = err.Error()
			return
		}
		if at < 0 || serves(c.Site, r.Host) {
			at, rp = i, r
		}
		if serves(c.Site, r.Host) {
			break
		}
	}
	if at < 0 {
		a.Unverified = "no site of the pool to send the logged request through"
		return
	}
	// A copy: the checks are compared by value, and the replay makes this
	// one differ from a plain check of the same site.
	a.Checks[at].Replay = rp
}

// serves reports whether site's server block answers to host (its port,
// if any, left aside).
func serves(site *snapshot.Site, host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if site.Server == nil {
		return false
	}
	for _, n := range site.Server.Names {
		if strings.EqualFold(n, host) {
			return true
		}
	}
	return false
}
