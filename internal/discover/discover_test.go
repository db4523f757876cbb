package discover_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/discover"
	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// TestFindsRunningMastersRealServers: masters started by hand (no
// systemd) are found in /proc with their configs, prefix and workers.
func TestFindsRunningMastersRealServers(t *testing.T) {
	l := lab.New(t)
	l.Start()
	h := host.New("")
	var procs []host.Process
	// php-fpm's workers take their title a moment after the master is ready.
	if err := lab.WaitFor(func() bool {
		var err error
		if procs, err = h.Processes(context.Background()); err != nil {
			t.Fatal(err)
		}
		for _, p := range procs {
			if p.Role() == host.RoleFPMWorker && p.PPID == l.FPMPid() {
				return true
			}
		}
		return false
	}, 5*time.Second); err != nil {
		t.Fatal("php-fpm's workers never showed up")
	}
	res := discover.Find(context.Background(), h, procs, discover.Options{})
	var nginx *discover.Nginx
	for _, n := range res.Nginx {
		if n.Conf == l.NginxConf() {
			nginx = n
		}
	}
	if nginx == nil || nginx.Master == nil || nginx.Master.PID != l.NginxPid() || len(nginx.Workers) == 0 || nginx.Prefix != l.Dir+"/" {
		t.Fatalf("lab nginx not discovered right: %+v (all: %+v)", nginx, res.Nginx)
	}
	if nginx.Workers[0].UID != 33 {
		t.Fatalf("nginx worker uid %d, want www-data (33)", nginx.Workers[0].UID)
	}
	var fpm *discover.FPM
	for _, f := range res.FPM {
		if f.Conf == l.FPMConf() {
			fpm = f
		}
	}
	if fpm == nil || fpm.Master == nil || fpm.Master.PID != l.FPMPid() || len(fpm.Workers) == 0 || fpm.Binary != lab.FPMBin {
		t.Fatalf("lab php-fpm not discovered right: %+v", fpm)
	}
	if fpm.Workers[0].FPMPool() != "www" {
		t.Fatalf("worker title %q", fpm.Workers[0].Title)
	}
	// Explicit configs attach the running masters too.
	res = discover.Find(context.Background(), h, procs, discover.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}})
	if res.Nginx[0].Master == nil || res.FPM[0].Master == nil {
		t.Fatalf("explicit configs lost their masters: %+v %+v", res.Nginx[0], res.FPM[0])
	}
}

// TestFindsInstalledConfigsOffline: nothing runs; the usual install
// locations of Debian, RHEL and the Docker image are found under --root.
func TestFindsInstalledConfigsOffline(t *testing.T) {
	for _, c := range []struct {
		example, nginx, fpm, prefix string
	}{
		{"php-upgrade", "/etc/nginx/nginx.conf", "/etc/php/8.2/fpm/php-fpm.conf", ""},
		{"rhel-invalid-pool", "/etc/nginx/nginx.conf", "/etc/php-fpm.conf", ""},
		{"docker-tcp", "/etc/nginx/nginx.conf", "/usr/local/etc/php-fpm.conf", "/usr/local"},
	} {
		h := host.New(filepath.Join("..", "..", "examples", c.example))
		res := discover.Find(context.Background(), h, nil, discover.Options{})
		if len(res.Nginx) != 1 || res.Nginx[0].Conf != c.nginx {
			t.Errorf("%s: nginx %+v", c.example, res.Nginx)
		}
		if len(res.FPM) != 1 || res.FPM[0].Conf != c.fpm || res.FPM[0].Prefix != c.prefix || res.FPM[0].Master != nil {
			t.Errorf("%s: php-fpm %+v", c.example, res.FPM)
		}
	}
}

// TestForkedChildIsNotAMaster: a worker forked a moment ago still has its
// master's title; it must not be taken for another master.
func TestForkedChildIsNotAMaster(t *testing.T) {
	const title = "php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)"
	procs := []host.Process{
		{PID: 100, PPID: 1, Title: title},
		{PID: 101, PPID: 100, Title: "php-fpm: pool www"},
		{PID: 102, PPID: 100, Title: title}, // just forked
	}
	res := discover.Find(context.Background(), host.New("/nonexistent-root"), procs, discover.Options{FPMConfs: []string{"/etc/php/8.2/fpm/php-fpm.conf"}})
	if len(res.FPM) != 1 || res.FPM[0].Master == nil || res.FPM[0].Master.PID != 100 {
		t.Fatalf("master = %+v", res.FPM[0].Master)
	}
	if len(res.FPM[0].Workers) != 1 || res.FPM[0].Workers[0].PID != 101 {
		t.Fatalf("workers = %+v, want only pid 101 (the fresh child has no worker title yet)", res.FPM[0].Workers)
	}
}

func TestDebianPHPVersion(t *testing.T) {
	for conf, want := range map[string]string{
		"/etc/php/8.2/fpm/php-fpm.conf":    "8.2",
		"/etc/php/7.4/fpm/pool.d/www.conf": "7.4",
		"/etc/php/8.2/cli/php.ini":         "",
		"/etc/php/foo.conf":                "",
		"/etc/php-fpm.conf":                "",
		"/etc/php/8/fpm/php-fpm.conf":      "",
		"/usr/local/etc/php-fpm.conf":      "",
		"/etc/php/8.x/fpm/php-fpm.conf":    "",
	} {
		if got := discover.DebianPHPVersion(conf); got != want {
			t.Errorf("DebianPHPVersion(%q) = %q, want %q", conf, got, want)
		}
	}
}
