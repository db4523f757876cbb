package fix

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// Verdict is what one check saw.
type Verdict struct {
	OK bool
	// HTTP is nginx's status for the site (0: not requested or no answer);
	// Probe the pool's FastCGI verdict.
	HTTP   int
	Detail string
}

// Verifier runs checks; tests wrap it to inject a failed verification.
type Verifier interface {
	Verify(ctx context.Context, c Check) Verdict
}

// Live checks a site by requesting, through nginx, a script that cannot
// exist under its PHP location (php-fpm answers 404 "Primary script
// unknown": the whole chain works, and no application code runs), and its
// pool with a FastCGI probe as nginx's worker user. A 502, 503 or 504, no
// answer, or a failed probe is a failure.
type Live struct {
	Timeout time.Duration // each request (0: 3s)
}

// Verify implements Verifier.
func (v Live) Verify(ctx context.Context, c Check) Verdict {
	timeout := v.Timeout
	if timeout <= 0 {
		timeout = 3 * time.Second
	}
	var parts []string
	out := Verdict{OK: true}
	if c.Pool != nil {
		res := probePool(ctx, c, timeout)
		if !res.OK() {
			out.OK = false
		}
		parts = append(parts, fmt.Sprintf("probe %s: %s", res.Target, res.Reason))
	}
	if c.Site != nil {
		req, ok := siteRequest(c.Site)
		t := timeout
		if c.Replay.Set() {
			req, ok, t = replayRequest(c.Site, c.Replay), true, max(timeout, c.Replay.Timeout)
		}
		if ok {
			code, err := req.get(ctx, t)
			out.HTTP = code
			what := "request"
			if c.Replay.Set() {
				what = "replay of the logged failing request"
			}
			if err != nil {
				out.OK = false
				parts = append(parts, fmt.Sprintf("%s %s: %v", what, req, err))
			} else {
				out.OK = out.OK && code != 502 && code != 503 && code != 504
				parts = append(parts, fmt.Sprintf("%s %s: %d", what, req, code))
			}
		}
	}
	out.Detail = strings.Join(parts, "; ")
	return out
}

func probePool(ctx context.Context, c Check, timeout time.Duration) probe.Result {
	pl := c.Pool
	t, err := probe.ParseTarget(c.probeAddr())
	if err != nil {
		return probe.Result{Reason: "usage", Detail: err.Error()}
	}
	var n *snapshot.Nginx
	if c.Site != nil {
		n = c.Site.Nginx
	} else if len(pl.Sites) > 0 {
		n = pl.Sites[0].Nginx
	}
	return probe.Probe(ctx, t, snapshot.ProbeOptions(pl, n, nil, t.Network == "unix", timeout))
}

// siteReq is one HTTP request through nginx to a site's PHP location.
type siteReq struct {
	network, addr string // where nginx listens
	https         bool
	host, path    string
	method        string // "": GET
}

// url is what is requested; nginx is reached at addr whatever its host.
func (r siteReq) url() string {
	if r.https {
		return "https://" + r.host + r.path
	}
	return "http://" + r.host + r.path
}

func (r siteReq) String() string { return r.verb() + " " + r.url() + " via " + r.addr }

func (r siteReq) verb() string {
	if r.method == "" {
		return http.MethodGet
	}
	return r.method
}

func (r siteReq) get(ctx context.Context, timeout time.Duration) (int, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, r.network, r.addr)
		},
		TLSClientConfig:   &tls.Config{ServerName: r.host, InsecureSkipVerify: true}, // the chain to php-fpm is checked, not the certificate
		DisableKeepAlives: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r.method != "" && r.method != http.MethodGet && r.method != http.MethodHead {
		return 0, fmt.Errorf("%s is never replayed", r.method) // only requests that change nothing
	}
	req, err := http.NewRequestWithContext(ctx, r.verb(), r.url(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "fpmdoctor-fix-verify")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, nil
}

// siteRequest builds the request for a site: nginx's listen address (a
// wildcard becomes loopback), the server_name as Host, and a path under
// the PHP location. An exact (=) or named (@) location cannot be reached
// without running the application, so only the pool is probed then.
func siteRequest(site *snapshot.Site) (siteReq, bool) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	script := logscan.OwnCheckPrefix + hex.EncodeToString(rnd[:]) + ".php" // logscan.Entry.OwnCheck leaves its lines out
	path := "/" + script
	reachable := true
	if loc := site.Pass.Location; loc != nil {
		switch loc.Modifier {
		case "=", "@":
			reachable = false
		case "", "^~":
			path = strings.TrimSuffix(loc.Path, "/") + "/" + script
		default:
			for p := loc.Parent; p != nil; p = p.Parent {
				if p.Modifier == "" || p.Modifier == "^~" {
					path = strings.TrimSuffix(p.Path, "/") + "/" + script
					break
				}
			}
		}
	}
	r := siteReq{network: "tcp", addr: "127.0.0.1:80", host: site.Name, path: path}
	if r.host == "" || r.host == "_" || strings.ContainsAny(r.host, "*~") {
		r.host = "localhost"
	}
	if site.Server == nil || len(site.Server.Listens) == 0 {
		return r, reachable
	}
	l := site.Server.Listens[0]
	for _, cand := range site.Server.Listens {
		if !strings.HasPrefix(cand.Address, "unix:") {
			l = cand
			break
		}
	}
	if l.Directive != nil {
		for _, a := range l.Directive.Args[1:] {
			if a.Value == "ssl" {
				r.https = true
			}
		}
	}
	addr := l.Address
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		r.network, r.addr = "unix", p
		return r, reachable
	}
	if _, err := strconv.Atoi(addr); err == nil {
		r.addr = "127.0.0.1:" + addr
		return r, reachable
	}
	h, port, err := net.SplitHostPort(addr)
	if err != nil {
		h, port = strings.Trim(addr, "[]"), "80"
		if r.https {
			port = "443"
		}
	}
	switch h {
	case "", "*", "0.0.0.0":
		h = "127.0.0.1"
	case "::":
		h = "::1"
	}
	r.addr = net.JoinHostPort(h, port)
	return r, reachable
}

// replayRequest is the logged request rp sent to the nginx that serves
// site, at the address the site listens on.
func replayRequest(site *snapshot.Site, rp Replay) siteReq {
	r, _ := siteRequest(site)
	r.method, r.host, r.path = rp.Method, rp.Host, rp.URI
	return r
}
