package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"testing"
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
