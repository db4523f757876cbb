package checks_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// Healthy setups must report no error finding: false alarms at 3 a.m. cost
// as much as missed causes.

func TestHealthyDefaultRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/ok.php", 200)
	noErrors(t, diagnose(t, l))
}

func TestHealthyUpstreamBlockRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	site := strings.Replace(lab.DefaultSite, "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass php_backend;", 1)
	l.Write("etc/nginx/conf.d/site.conf", "upstream php_backend {\n    server unix:{{DIR}}/run/php-fpm.sock;\n}\n"+site)
	l.Start()
	l.MustStatus("/ok.php", 200)
	r := diagnose(t, l)
	noErrors(t, r)
	if r.Sites[0].Pool != "www" {
		t.Fatalf("upstream not followed to the pool: %+v", r.Sites[0])
	}
}

func TestHealthyPoolVariableInListenRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "run/php-fpm.sock", "run/php-$pool.sock")
	l.Edit("etc/nginx/conf.d/site.conf", "run/php-fpm.sock", "run/php-www.sock")
	l.Start()
	l.MustStatus("/ok.php", 200)
	r := diagnose(t, l)
	noErrors(t, r)
	if r.Sites[0].Listen != "unix:"+l.Path("run/php-www.sock") {
		t.Fatalf("$pool not expanded: %+v", r.Sites[0])
	}
}

func TestHealthyTCPPortOnlyListenRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	port := itoa(lab.FreePort(t))
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = {{DIR}}/run/php-fpm.sock", "listen = "+port)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass 127.0.0.1:"+port+";")
	l.Start()
	l.MustStatus("/ok.php", 200)
	r := diagnose(t, l)
	noErrors(t, r)
	if r.Sites[0].Pool != "www" {
		t.Fatalf("port-only listen not matched: %+v", r.Sites[0])
	}
}

// TestHealthyRootOwnedSocketGroupRealServers: the socket is root-owned and
// group-writable for a group nginx's user is a member of (through
// /etc/group, i.e. initgroups), not its primary group.
func TestHealthyRootOwnedSocketGroupRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	// www-data is in no extra group on a stock system; use its primary
	// group through listen.group with a root owner, which nginx reaches
	// through its gid.
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen.owner = www-data\nlisten.group = www-data\n", "listen.owner = root\nlisten.group = www-data\nlisten.mode = 0660\n")
	l.Start()
	l.MustStatus("/ok.php", 200)
	noErrors(t, diagnose(t, l))
}

func itoa(n int) string { return strconv.Itoa(n) }
