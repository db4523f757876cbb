package rehearse

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
)

// ProbeScript is the only PHP the lab runs: it proves that a request went
// through nginx to a php-fpm worker and back.
const ProbeScript = "<?php echo \"fpmdoctor lab probe ok\\n\";\n"

// probeBody is what ProbeScript prints.
const probeBody = "fpmdoctor lab probe ok"

// probeName is the probe's file name when the location lets us choose.
const probeName = "fpmdoctor-lab-probe.php"

// Site is one PHP site of the copy: a server block with a location that
// passes to php-fpm, and how the lab asks it for the probe.
type Site struct {
	Name string `json:"server_name"`
	// File and Line are the server block's, as on the host.
	File string `json:"file"`
	Line int    `json:"line"`
	// Pass is the fastcgi_pass as written and where (host path:line).
	Pass      string `json:"fastcgi_pass"`
	PassWhere string `json:"fastcgi_pass_at"`
	// URL is what the lab requests, with Host as the Host header.
	URL  string `json:"url"`
	Host string `json:"host"`

	uri      string // the URL's path
	variable bool   // fastcgi_pass uses variables: not asked
	docroot  string // lab document root of the PHP location
	passPos  string // the lab fastcgi_pass's file:line, as diagnose names it
}

// findSites lists every server block that passes to php-fpm, with the URL
// its PHP location answers and the lab port it listens on.
func (t *tree) findSites(cfg *nginxconf.Config) error {
	seen := map[*nginxconf.Syntax]bool{}
	var err error
	cfg.Walk(func(d *nginxconf.Directive) bool {
		if d.Name != "fastcgi_pass" || err != nil {
			return true
		}
		srv := d.Ancestor("server")
		if srv == nil || srv.Parent == nil || srv.Parent.Name != "http" {
			return true
		}
		if seen[d.Syntax] && seen[srv.Syntax] {
			return true
		}
		seen[d.Syntax], seen[srv.Syntax] = true, true
		s := &Site{File: srv.File, Line: srv.Line, Pass: d.Arg(0), PassWhere: d.Pos()}
		s.Name, s.Host = serverName(srv)
		uri := probeURI(d.Ancestor("location"))
		scheme, port := t.sitePort(srv)
		if port == 0 {
			return true
		}
		s.URL = fmt.Sprintf("%s://127.0.0.1:%d%s", scheme, port, uri)
		s.uri = uri
		// A pass with variables is only known per request: it could
		// reach any address, so the lab does not send it traffic.
		s.variable = strings.Contains(s.Pass, "$")
		s.docroot = t.docrootOf(d)
		s.passPos = t.mapPath(d.File) + ":" + strconv.Itoa(d.Line)
		t.sites = append(t.sites, s)
		return true
	})
	return err
}

// serverName is the site's first name and the Host header that reaches
// it: a wildcard gets a label, a catch-all gets a name no other server has.
func serverName(srv *nginxconf.Directive) (name, hostHeader string) {
	for _, sn := range srv.Find("server_name") {
		for _, v := range sn.ArgValues() {
			switch {
			case v == "" || v == "_" || strings.HasPrefix(v, "~"):
				continue
			case strings.HasPrefix(v, "*."):
				return v, "lab" + v[1:]
			case strings.HasPrefix(v, "."):
				return v, v[1:]
			case strings.HasSuffix(v, ".*"):
				return v, strings.TrimSuffix(v, "*") + "test"
			}
			return v, v
		}
	}
	return "_", "fpmdoctor-lab.invalid"
}

// sitePort is the lab port a server listens on, plain HTTP preferred.
func (t *tree) sitePort(srv *nginxconf.Directive) (string, int) {
	ls := srv.Find("listen")
	if len(ls) == 0 {
		return "http", t.ports[80]
	}
	scheme, port := "", 0
	for _, l := range ls {
		if len(l.Args) == 0 {
			continue // nginx refuses it; the diagnosis says so
		}
		p, ok := listenPort(l.Arg(0))
		if !ok || strings.HasPrefix(l.Arg(0), "unix:") {
			continue
		}
		ssl := false
		for _, a := range l.ArgValues()[1:] {
			ssl = ssl || a == "ssl" || a == "quic"
		}
		if port == 0 || scheme == "https" && !ssl {
			scheme, port = "http", t.ports[p]
			if ssl {
				scheme = "https"
			}
		}
	}
	return scheme, port
}

// docrootOf is the lab document root the fastcgi_pass's requests use.
func (t *tree) docrootOf(d *nginxconf.Directive) string {
	if r := d.Inherited("root"); r != nil {
		if to, ok := t.rootDirs[r.Syntax]; ok {
			return to
		}
		p := r.Arg(0)
		if !filepath.IsAbs(p) {
			p = filepath.Join(t.nginxPrefixOrig(), p)
		}
		return t.mapPath(p)
	}
	// nginx's default root: html under the prefix.
	to := filepath.Join(t.nginxPrefix, "html")
	t.docroots[to] = true
	return to
}

// probeURI is a URI the PHP location matches, naming a .php file: the
// probe's own name where the location allows it.
func probeURI(loc *nginxconf.Directive) string {
	if loc == nil {
		return "/" + probeName
	}
	mod, p := "", ""
	switch args := loc.ArgValues(); len(args) {
	case 1:
		p = args[0]
		for _, m := range []string{"=", "~*", "~", "^~"} {
			if strings.HasPrefix(p, m) {
				mod, p = m, p[len(m):]
				break
			}
		}
	case 2:
		mod, p = args[0], args[1]
	}
	switch mod {
	case "=":
		return p
	case "~", "~*":
		expr := p
		if mod == "~*" {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return "/" + probeName // PCRE only: try the usual name
		}
		for _, c := range []string{"/" + probeName, "/index.php", "/" + probeName + "/", "/app.php"} {
			if re.MatchString(c) {
				return c
			}
		}
		return "/" + probeName
	}
	switch {
	case strings.HasSuffix(p, "/"):
		return p + probeName
	case strings.HasSuffix(p, ".php"):
		return p
	}
	return p + "/" + probeName
}

// placeProbes writes the probe script into every lab document root: at
// each site's URI and as index.php (front controllers pass everything to
// it), readable by any worker user.
func (t *tree) placeProbes() error {
	put := func(p string) error {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("lab document root: %w", err)
		}
		if err := os.WriteFile(p, []byte(ProbeScript), 0o644); err != nil {
			return fmt.Errorf("probe script: %w", err)
		}
		return nil
	}
	for root := range t.docroots {
		if err := put(filepath.Join(root, "index.php")); err != nil {
			return err
		}
	}
	for _, s := range t.sites {
		name := path.Clean("/" + s.uri)
		if !strings.HasSuffix(name, ".php") {
			name = path.Join(name, "index.php")
		}
		if err := put(filepath.Join(s.docroot, name)); err != nil {
			return err
		}
		if err := put(filepath.Join(s.docroot, "index.php")); err != nil {
			return err
		}
	}
	return nil
}

// labCertificate writes (once) a self-signed certificate and key for
// sites whose certificate is not in the tree.
func (t *tree) labCertificate(key bool) (string, error) {
	crt, kp := filepath.Join(t.lab.Dir, "tls", "lab.crt"), filepath.Join(t.lab.Dir, "tls", "lab.key")
	if _, err := os.Stat(crt); err != nil {
		pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", fmt.Errorf("lab certificate: %w", err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fpmdoctor lab"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour), DNSNames: []string{"localhost"}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &pk.PublicKey, pk)
		if err != nil {
			return "", fmt.Errorf("lab certificate: %w", err)
		}
		kb, err := x509.MarshalECPrivateKey(pk)
		if err != nil {
			return "", fmt.Errorf("lab certificate: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(crt), 0o755); err != nil {
			return "", fmt.Errorf("lab certificate: %w", err)
		}
		if err := os.WriteFile(kp, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
			return "", fmt.Errorf("lab certificate: %w", err)
		}
		if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			return "", fmt.Errorf("lab certificate: %w", err)
		}
	}
	if key {
		return kp, nil
	}
	return crt, nil
}

// Answer is what one site answered through the lab's nginx.
type Answer struct {
	Site
	// Status is the HTTP status; 0 when nginx did not answer (Error says why).
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Probe is true when the body is the probe script's: php-fpm ran it.
	Probe bool `json:"probe_ran"`
	// NginxLog holds nginx's error-log lines written during the request.
	NginxLog []string `json:"nginx_log,omitempty"`
}

// Failed: the answer is one of the gateway errors the lab looks for, or
// no answer at all.
func (a Answer) Failed() bool {
	return a.Status == 0 || a.Status == http.StatusBadGateway || a.Status == http.StatusServiceUnavailable || a.Status == http.StatusGatewayTimeout
}

// Ask sends each site one GET for its probe through the lab's nginx, with
// the site's Host header, and collects the lines nginx logged meanwhile.
func (l *Lab) Ask(ctx context.Context, timeout time.Duration) []Answer {
	client := &http.Client{Timeout: timeout,
		// The lab's own or a copied certificate: only ever on 127.0.0.1.
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var out []Answer
	for _, s := range l.tree.sites {
		a := Answer{Site: *s}
		if s.variable {
			a.Error = "not asked: fastcgi_pass uses variables, so nginx could send the request to any address"
			out = append(out, a)
			continue
		}
		logs := l.errorLogs()
		before := map[string]int64{}
		for _, p := range logs {
			if fi, err := os.Stat(p); err == nil {
				before[p] = fi.Size()
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
		if err != nil {
			a.Error = err.Error()
			out = append(out, a)
			continue
		}
		req.Host = s.Host
		// The site's name as SNI too: nginx picks the certificate and,
		// for TLS, the server block by it.
		client.Transport.(*http.Transport).TLSClientConfig.ServerName = s.Host
		resp, err := client.Do(req)
		if err != nil {
			a.Error = err.Error()
		} else {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			a.Status = resp.StatusCode
			a.Probe = strings.Contains(string(body), probeBody)
		}
		for _, p := range logs {
			a.NginxLog = append(a.NginxLog, newLines(p, before[p])...)
		}
		out = append(out, a)
		if ctx.Err() != nil {
			break
		}
	}
	return out
}

// errorLogs are the lab's nginx error logs.
func (l *Lab) errorLogs() []string {
	logs := []string{filepath.Join(l.Dir, "log", "nginx-startup.log")}
	return append(logs, l.tree.nginxErrorLogs...)
}

// newLines returns the lines appended to p after offset (at most 20).
func newLines(p string, offset int64) []string {
	f, err := os.Open(p)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() && len(out) < 20 {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			out = append(out, line)
		}
	}
	return out
}

// Start starts every php-fpm of the copy and nginx, all at once: nginx
// needs no pool to start, and each server takes a few hundred
// milliseconds. A php-fpm that refuses its config is not fatal: production
// would then answer 502 too, which is what the lab is there to show. Its
// message is returned in fpmErrs.
func (l *Lab) Start(ctx context.Context) (fpmErrs []error, err error) {
	if l.tree == nil {
		return nil, errors.New("internal error: Start before Copy")
	}
	bin, err := l.nginxBin()
	if err != nil {
		return nil, err
	}
	// Pid files are recorded first, so Close finds whatever started.
	for _, f := range l.tree.fpm {
		if err := l.track(f.pid); err != nil {
			return nil, err
		}
	}
	if err := l.track(l.tree.nginxPid); err != nil {
		return nil, err
	}
	errs := make([]error, len(l.tree.fpm))
	var wg sync.WaitGroup
	for i, f := range l.tree.fpm {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.startFPM(ctx, f)
		}()
	}
	err = l.startNginx(ctx, bin)
	wg.Wait()
	for _, e := range errs {
		if e != nil {
			fpmErrs = append(fpmErrs, e)
		}
	}
	return fpmErrs, err
}

// Mappings lists what the copy moved.
func (l *Lab) Mappings() []Mapping { return l.tree.mappings }

// NginxConf and FPMConfs are the lab's main config files.
func (l *Lab) NginxConf() string { return l.tree.nginxConf }

// FPMConfs are the lab copies of the php-fpm main configs.
func (l *Lab) FPMConfs() []string {
	var out []string
	for _, f := range l.tree.fpm {
		out = append(out, f.conf)
	}
	return out
}

// Binaries names the server binaries the lab runs.
func (l *Lab) Binaries() (nginx string, fpm []string) {
	nginx, _ = l.nginxBin()
	for _, f := range l.tree.fpm {
		fpm = append(fpm, f.bin)
	}
	return nginx, fpm
}

// HostPath turns a lab path back into the host path it mirrors, so a
// finding's file:line points at the tree the user gave.
func (l *Lab) HostPath(p string) string {
	m := filepath.Join(l.Dir, "root")
	if rest, ok := strings.CutPrefix(p, m+"/"); ok {
		return "/" + rest
	}
	return p
}

// PassPos is the lab copy's fastcgi_pass position (file:line), by which a
// diagnosis of the running lab names the site.
func (s Site) PassPos() string { return s.passPos }
