package fix_test

import (
	"strconv"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// TestOneStartForEveryPoolRealServers: a stopped php-fpm with two pools,
// each serving a site, is one fpm-down finding (both pools under
// affected) and one repair: the plan starts php-fpm once, and both sites
// answer afterwards.
func TestOneStartForEveryPoolRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	second := lab.FreePort(t)
	l.Write("etc/php/fpm/pool.d/shop.conf", "[shop]\nuser = www-data\ngroup = www-data\nlisten = {{DIR}}/run/shop.sock\nlisten.owner = www-data\nlisten.group = www-data\npm = static\npm.max_children = 1\n")
	l.Write("etc/nginx/conf.d/shop.conf", "server {\n    listen 127.0.0.1:"+strconv.Itoa(second)+";\n    server_name shop.test;\n    root {{DIR}}/www;\n    location ~ \\.php$ {\n        include /etc/nginx/fastcgi.conf;\n        fastcgi_pass unix:{{DIR}}/run/shop.sock;\n    }\n}\n")
	l.MustStartNginx()
	l.MustStatus("/ok.php", 502)

	p, res := fixLab(t, l, options(t))
	if !res.Fixed {
		t.Fatalf("not fixed: %v", res.Err)
	}
	starts := 0
	for _, a := range p.Actions {
		if a.Finding.Cause == "fpm-down" {
			starts++
			if a.Finding.Affected == nil || len(a.Finding.Affected.Pools) != 2 {
				t.Fatalf("the finding behind the start should cover both pools: %+v", a.Finding)
			}
		}
	}
	if starts != 1 {
		t.Fatalf("%d fpm-down actions, want one start for both pools", starts)
	}
	l.MustStatus("/ok.php", 200)
	healthy(t, l)
}
