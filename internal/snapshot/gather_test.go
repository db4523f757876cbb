package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// TestSitesLinkToPools: the linking rules, on config files alone (nothing
// runs, no probes): a socket reached through a symlinked directory is the
// pool's socket (/var/run → /run), a port-only listen covers 127.0.0.1,
// an upstream's servers are followed, and an address no pool has stays
// unlinked.
func TestSitesLinkToPools(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Mkdir(filepath.Join(dir, "run"), 0o755))
	must(os.Symlink(filepath.Join(dir, "run"), filepath.Join(dir, "varrun")))
	write := func(name, s string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		must(os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	nginx := write("nginx.conf", `events {}
http {
    upstream backend { server 127.0.0.1:9101; server unix:`+dir+`/run/nowhere.sock; }
    server { server_name a.test; location ~ \.php$ { fastcgi_pass unix:`+dir+`/varrun/a.sock; } }
    server { server_name b.test; location ~ \.php$ { fastcgi_pass 127.0.0.1:9100; } }
    server { server_name c.test; location ~ \.php$ { fastcgi_pass backend; } }
}
`)
	fpm := write("php-fpm.conf", "[a]\nuser = www-data\nlisten = "+dir+"/run/a.sock\npm = static\npm.max_children = 1\n"+
		"[b]\nuser = www-data\nlisten = 9100\npm = static\npm.max_children = 1\n"+
		"[c]\nuser = www-data\nlisten = 127.0.0.1:9101\npm = static\npm.max_children = 1\n")
	s, err := Gather(context.Background(), Options{NginxConf: nginx, FPMConfs: []string{fpm}, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	pools := map[string][]string{}
	for _, site := range s.Sites {
		for _, tg := range site.Targets {
			name := "-"
			if tg.Pool != nil {
				name = tg.Pool.Name
			}
			pools[site.Name] = append(pools[site.Name], name)
		}
	}
	want := map[string][]string{"a.test": {"a"}, "b.test": {"b"}, "c.test": {"c", "-"}}
	for site, w := range want {
		got := pools[site]
		if len(got) != len(w) {
			t.Fatalf("%s targets pools %v, want %v", site, got, w)
		}
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%s targets pools %v, want %v", site, got, w)
			}
		}
	}
	if p := s.FPM[0].PoolNamed("A"); p == nil || p.Name != "a" {
		t.Fatalf("PoolNamed is not case-insensitive like php-fpm: %v", p)
	}
	if got := s.PoolByID(s.FPM[0].Pools[1].ID()); got != s.FPM[0].Pools[1] {
		t.Fatalf("PoolByID(%q) = %v", s.FPM[0].Pools[1].ID(), got)
	}
}

// Two php-fpm masters logging to syslog under the same ident share one
// journal job: an entry goes to the pool of the master that wrote it
// (journal _PID), not to the first master's pool of the same name.
func TestJournalEntryTiedToItsMaster(t *testing.T) {
	dir := t.TempDir()
	var confs []string
	// php-fpm compares "syslog" case-insensitively.
	for _, c := range [][2]string{{"7.4", "SysLog"}, {"8.2", "syslog"}} {
		v, errorLog := c[0], c[1]
		p := filepath.Join(dir, "php"+v+"-fpm.conf")
		conf := "[global]\nerror_log = " + errorLog + "\n[www]\nuser = www-data\nlisten = " + dir + "/php" + v + ".sock\npm = static\npm.max_children = 1\n"
		if err := os.WriteFile(p, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		confs = append(confs, p)
	}
	s, err := Gather(context.Background(), Options{FPMConfs: confs, NoProbe: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.FPM) != 2 {
		t.Fatalf("%d php-fpm configs read", len(s.FPM))
	}
	for _, f := range s.FPM {
		if name, ident := f.LogName(); name != "journal:php-fpm" || ident != "php-fpm" {
			t.Fatalf("%s: LogName = %q, %q; want its syslog ident", f.Conf, name, ident)
		}
	}
	s.FPM[0].Master = &host.Process{PID: 740}
	s.FPM[1].Master = &host.Process{PID: 820}
	job := logJob{path: "journal:php-fpm", source: logscan.SourceFPM, format: logscan.FormatJournal, fpm: s.FPM[0], ident: "php-fpm"}
	for _, tc := range []struct {
		pid  int
		want *FPM
	}{{820, s.FPM[1]}, {740, s.FPM[0]}, {0, s.FPM[0]}, {999, s.FPM[0]}} {
		e := logscan.Entry{Source: logscan.SourceFPM, Kind: logscan.KindChildExitedSignal, Pool: "www", PID: tc.pid}
		tieToPool(s, &e, job, nil)
		if want := tc.want.Pools[0].ID(); e.Pool != want {
			t.Errorf("entry from pid %d tied to %q, want %q", tc.pid, e.Pool, want)
		}
	}
}
