package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestProbeLimitRealServers: the flag's values mean what its help and the
// skipped note say: N probes N targets and says how to probe all, -1 probes
// every target, 0 probes none (as --no-probe) and says which flag did it.
func TestProbeLimitRealServers(t *testing.T) {
	l := lab.New(t)
	for _, name := range []string{"shop", "blog"} {
		port := lab.FreePort(t)
		l.Write("etc/php/fpm/pool.d/"+name+".conf", "["+name+"]\nuser = www-data\ngroup = www-data\nlisten = {{DIR}}/run/"+name+".sock\nlisten.owner = www-data\nlisten.group = www-data\npm = static\npm.max_children = 1\n")
		l.Write("etc/nginx/conf.d/"+name+".conf", "server {\n    listen 127.0.0.1:"+strconv.Itoa(port)+";\n    server_name "+name+".test;\n    root {{DIR}}/www;\n    location ~ \\.php$ {\n        include /etc/nginx/fastcgi.conf;\n        fastcgi_pass unix:{{DIR}}/run/"+name+".sock;\n    }\n}\n")
	}
	l.Start()
	l.MustStatus("/ok.php", 200)

	probed := func(limit int) (int, []report.Skipped) {
		t.Helper()
		flags := siteFlags{nginxConf: l.NginxConf(), fpmConfs: []string{l.FPMConf()}, probeMax: limit}
		r, s, err := doctor.Diagnose(context.Background(), flags.options())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, site := range s.Sites {
			for _, tg := range site.Targets {
				if tg.Probe != nil {
					n++
				}
			}
		}
		var probeSkips []report.Skipped
		for _, sk := range r.Skipped {
			if sk.Check == "probe" {
				probeSkips = append(probeSkips, sk)
			}
		}
		return n, probeSkips
	}
	if n, sk := probed(1); n != 1 || len(sk) != 1 || !strings.Contains(sk[0].Reason, "probed 1 of 3") || !strings.Contains(sk[0].Reason, "-1 probes all") {
		t.Fatalf("--probe-limit 1: %d probed, skipped %+v", n, sk)
	}
	if n, sk := probed(-1); n != 3 || len(sk) != 0 {
		t.Fatalf("--probe-limit -1: %d probed, skipped %+v", n, sk)
	}
	if n, sk := probed(0); n != 0 || len(sk) != 1 || !strings.Contains(sk[0].Reason, "--probe-limit 0") {
		t.Fatalf("--probe-limit 0: %d probed, skipped %+v", n, sk)
	}
}
