package fix

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/fastcgi"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// measureHeader sends the logged request rp straight to pool pl over
// FastCGI, with the CGI variables nginx sends for a .php script under a
// literal root, and returns how many bytes of response header php-fpm
// wrote (status line equivalent, headers and the blank line). nginx logs
// only that the header did not fit, not its size; this is the size.
func measureHeader(ctx context.Context, site *snapshot.Site, pl *snapshot.Pool, rp Replay) (int, error) {
	loc := site.Pass.Location
	if loc == nil {
		return 0, errors.New("no PHP location to read the document root from")
	}
	d := loc.Directive.Inherited("root")
	if d == nil || strings.Contains(d.Arg(0), "$") || !strings.HasPrefix(d.Arg(0), "/") {
		return 0, errors.New("the site's root is not a literal absolute path: fpmdoctor cannot tell which file answers the request")
	}
	root := strings.TrimSuffix(d.Arg(0), "/")
	uriPath, query, _ := strings.Cut(rp.URI, "?")
	// Like fastcgi_split_path_info ^(.+\.php)(/.+)$: the script is the
	// path up to its first ".php" segment end, the rest is PATH_INFO.
	i := strings.Index(uriPath, ".php")
	for i >= 0 && i+4 < len(uriPath) && uriPath[i+4] != '/' {
		j := strings.Index(uriPath[i+4:], ".php")
		if j < 0 {
			i = -1
			break
		}
		i += 4 + j
	}
	if i < 0 {
		return 0, fmt.Errorf("%s names no .php script (a front controller behind try_files): fpmdoctor cannot tell which script answers it", uriPath)
	}
	script, pathInfo := path.Clean(uriPath[:i+4]), uriPath[i+4:]
	t, err := probe.ParseTarget(pl.NginxAddress())
	if err != nil {
		return 0, err
	}
	params := map[string]string{
		"GATEWAY_INTERFACE": "CGI/1.1",
		"SERVER_SOFTWARE":   "nginx",
		"SERVER_PROTOCOL":   "HTTP/1.1",
		"REQUEST_METHOD":    rp.Method,
		"REQUEST_URI":       rp.URI,
		"DOCUMENT_URI":      script,
		"DOCUMENT_ROOT":     root,
		"SCRIPT_NAME":       script,
		"SCRIPT_FILENAME":   root + script,
		"PATH_INFO":         pathInfo,
		"QUERY_STRING":      query,
		"HTTP_HOST":         rp.Host,
		"SERVER_NAME":       site.Name,
		"REMOTE_ADDR":       "127.0.0.1",
		"REDIRECT_STATUS":   "200",
		"HTTP_USER_AGENT":   "fpmdoctor-fix-measure",
	}
	timeout := rp.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	c := fastcgi.Client{Network: t.Network, Address: t.Address, Options: fastcgi.Options{Timeout: timeout}}
	resp, err := c.Do(ctx, &fastcgi.Request{Params: params})
	if err != nil {
		return 0, fmt.Errorf("FastCGI request %s %s to %s: %w", rp.Method, rp.URI, t, err)
	}
	n := len(resp.Stdout) - len(resp.Body)
	if n <= 0 {
		return 0, fmt.Errorf("FastCGI request %s %s to %s: no response header", rp.Method, rp.URI, t)
	}
	return n, nil
}

// headerBuffer is the fastcgi_buffer_size that holds a header of n bytes
// as nginx receives it: inside FastCGI records (8 bytes of record header
// and up to 7 of padding for each record of at most 8k php-fpm sends),
// with a quarter of headroom (the same URL's header varies with cookies
// and redirects), rounded up to whole memory pages as nginx's own
// defaults are.
func headerBuffer(n int, page int64) int64 {
	raw := int64(n) + 16*(int64(n)/8192+1)
	want := raw + raw/4
	return (want + page - 1) / page * page
}
