package checks_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/fastcgi"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// The usual 502 checklist's "standardize" advice, on real servers: each
// is a warning, not a 502. What it means live is shown beside it.

// fcgiFrom sends one FastCGI request for the lab's ok.php to addr from the
// source address src, as another host on the network would.
func fcgiFrom(l *lab.Lab, src, addr string) (*fastcgi.Response, error) {
	c := &fastcgi.Client{Network: "tcp", Address: addr, Options: fastcgi.Options{
		Timeout: 3 * time.Second,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
			return d.DialContext(ctx, network, address)
		},
	}}
	return c.Do(context.Background(), &fastcgi.Request{Params: map[string]string{
		"REQUEST_METHOD": "GET", "SCRIPT_FILENAME": l.Path("www/ok.php"), "SCRIPT_NAME": "/ok.php",
	}})
}

// TestListenAllAddressesRealServers: a pool on a bare port serves nginx
// (200, no finding but the warning) and a client from another address just
// as well; with listen.allowed_clients that client is dropped.
func TestListenAllAddressesRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	port := itoa(lab.FreePort(t))
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = {{DIR}}/run/php-fpm.sock", "listen = "+port)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass 127.0.0.1:"+port+";")
	l.Start()
	l.MustStatus("/ok.php", 200)

	r := diagnose(t, l)
	noErrors(t, r)
	f := finding(t, r, "listen-all-addresses", report.Warning)
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), 4)
	// Another address (127.0.0.2 stands for another host) runs PHP.
	resp, err := fcgiFrom(l, "127.0.0.2", "127.0.0.1:"+port)
	if err != nil || !strings.Contains(string(resp.Body), "ok") {
		t.Fatalf("from 127.0.0.2: %v %+v, want ok.php's answer", err, resp)
	}

	// The fix: only nginx's address. The finding goes, and so does the
	// other address's access; nginx still gets 200.
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = "+port, "listen = "+port+"\nlisten.allowed_clients = 127.0.0.1")
	l.ReloadFPM()
	l.MustStatus("/ok.php", 200)
	if _, err := fcgiFrom(l, "127.0.0.2", "127.0.0.1:"+port); err == nil {
		t.Error("from 127.0.0.2 with listen.allowed_clients = 127.0.0.1: answered, want dropped")
	}
	for _, f := range diagnose(t, l).Findings {
		if f.Cause == "listen-all-addresses" {
			t.Errorf("still reported after listen.allowed_clients: %s", f.Title)
		}
	}
}

// TestUnusedPoolRealServers: a second pool no fastcgi_pass reaches. The
// site answers 200 through www; the other pool's status page shows it
// idle (only the status request itself accepted).
func TestUnusedPoolRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes", "catch_workers_output = yes\npm.status_path = /status")
	l.Write("etc/php/fpm/pool.d/idle.conf", `[idle]
user = www-data
group = www-data
listen = {{DIR}}/run/idle.sock
listen.owner = www-data
listen.group = www-data
pm = static
pm.max_children = 2
pm.status_path = /status
`)
	l.Start()
	for range 3 {
		l.MustStatus("/ok.php", 200)
	}
	r := diagnose(t, l)
	noErrors(t, r)
	f := finding(t, r, "unused-pool", report.Warning)
	if !strings.Contains(f.Title, "pool idle") {
		t.Fatalf("unused-pool names %q, want pool idle\n%s", f.Title, dump(r))
	}
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/idle.conf"), 4)
	for _, g := range r.Findings {
		if g.Cause == "unused-pool" && strings.Contains(g.Title, "pool www") {
			t.Errorf("the pool nginx uses is reported unused: %s", g.Title)
		}
	}
	accepted := func(sock string) int64 {
		res := probe.Probe(context.Background(), probe.Target{Network: "unix", Address: l.Path("run/" + sock)}, probe.Options{StatusPath: "/status"})
		if res.Status == nil {
			t.Fatalf("status of %s: %+v", sock, res)
		}
		return res.Status.AcceptedConn
	}
	if idle, used := accepted("idle.sock"), accepted("php-fpm.sock"); idle > 1 || used < 3 {
		t.Errorf("accepted conn: idle pool %d, www %d: want the idle pool to have served only its status request and www the 3 requests", idle, used)
	}
}

// TestSocketNamingRealServers: three pools of one php-fpm, one socket in
// another directory. Every site answers 200 today: a warning, no 502.
func TestSocketNamingRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	for _, p := range []struct{ name, sock string }{{"b", "{{DIR}}/run/b.sock"}, {"odd", "{{DIR}}/tmp/odd.sock"}} {
		l.Write("etc/php/fpm/pool.d/"+p.name+".conf", "["+p.name+"]\nuser = www-data\ngroup = www-data\nlisten = "+p.sock+
			"\nlisten.owner = www-data\nlisten.group = www-data\npm = static\npm.max_children = 1\n")
		l.Edit("etc/nginx/conf.d/site.conf", "    location ~ \\.php$ {", "    location ~ ^/"+p.name+"/.*\\.php$ {\n        include /etc/nginx/fastcgi.conf;\n        fastcgi_pass unix:"+p.sock+";\n    }\n\n    location ~ \\.php$ {")
		l.Write("www/"+p.name+"/ok.php", "<?php echo \"ok\\n\";\n")
	}
	l.Start()
	for _, path := range []string{"/ok.php", "/b/ok.php", "/odd/ok.php"} {
		l.MustStatus(path, 200)
	}
	r := diagnose(t, l)
	noErrors(t, r)
	f := finding(t, r, "socket-naming", report.Warning)
	if !strings.Contains(f.Title, "pool odd") {
		t.Fatalf("socket-naming names %q, want pool odd\n%s", f.Title, dump(r))
	}
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/odd.conf"), 4)
	n := 0
	for _, g := range r.Findings {
		if g.Cause == "socket-naming" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d socket-naming findings, want 1 (only the odd pool)\n%s", n, dump(r))
	}
}
