package checks_test

import (
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestAllowedClientsRealServers: a TCP pool allows only another address;
// php-fpm drops nginx's connection and nginx answers 502.
func TestAllowedClientsRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	port := itoa(lab.FreePort(t))
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = {{DIR}}/run/php-fpm.sock", "listen = 127.0.0.1:"+port+"\nlisten.allowed_clients = 10.20.30.40")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass 127.0.0.1:"+port+";")
	l.Start()
	l.MustStatus("/ok.php", 502)

	r := diagnose(t, l)
	first(t, r, "allowed-clients")
	f := finding(t, r, "allowed-clients", report.Error)
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), 5)
	evidenceText(t, f, report.KindFact, "from 127.0.0.1")
}
