package fix_test

import (
	"fmt"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// TestFixNotFastCGIRealServers: fastcgi_pass names nginx's own HTTP
// listener; the pool listens on another port. fix points fastcgi_pass at
// the pool, reloads nginx, and the site answers 200; the HTTP listener is
// left as it was.
func TestFixNotFastCGIRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	httpPort, fpmPort := l.WritePassToOwnHTTPListener()
	l.Start()
	l.MustStatus("/ok.php", 502)
	r, _ := plan(t, l)
	automatic(t, r, "not-fastcgi")

	mustFix(t, l, "not-fastcgi")
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
	fileHas(t, l, "etc/nginx/conf.d/site.conf", fmt.Sprintf("fastcgi_pass 127.0.0.1:%d;", fpmPort))
	fileHas(t, l, "etc/nginx/conf.d/site.conf", fmt.Sprintf("listen 127.0.0.1:%d;", httpPort))
}
