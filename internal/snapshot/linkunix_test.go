package snapshot

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
)

// TestLinkUnixHalvesMatchOneLoop: linking a hosting host's unix sockets in
// two halves side by side finds, for every target, the socket file,
// listener and pool that one loop finds, on random trees of sockets that
// exist (listening or not), are missing, or are reached through a
// symlinked directory.
func TestLinkUnixHalvesMatchOneLoop(t *testing.T) {
	for trial := range 3 {
		t.Run(fmt.Sprintf("trial%d", trial), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(trial), 7))
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "run"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(dir, "run"), filepath.Join(dir, "varrun")); err != nil {
				t.Fatal(err)
			}
			const n = 1500
			// A few sockets listen, a few are files left behind.
			for i := range 8 {
				p := filepath.Join(dir, "run", fmt.Sprintf("p%d.sock", rng.IntN(n)))
				if i%2 == 0 {
					if ln, err := net.Listen("unix", p); err == nil {
						t.Cleanup(func() { ln.Close() })
					}
				} else if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var sites, pools strings.Builder
			sites.WriteString("events {}\nhttp {\n")
			for i := range n {
				sock := filepath.Join(dir, []string{"run", "varrun", "missing"}[rng.IntN(3)], fmt.Sprintf("p%d.sock", rng.IntN(n)))
				fmt.Fprintf(&sites, "server { server_name s%d.test; location ~ \\.php$ { fastcgi_pass unix:%s; } }\n", i, sock)
				if rng.IntN(4) > 0 {
					fmt.Fprintf(&pools, "[p%d]\nuser = www-data\nlisten = %s/run/p%d.sock\npm = static\npm.max_children = 1\n", i, dir, i)
				}
			}
			sites.WriteString("}\n")
			nginx, fpm := filepath.Join(dir, "nginx.conf"), filepath.Join(dir, "php-fpm.conf")
			if err := os.WriteFile(nginx, []byte(sites.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fpm, []byte(pools.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Gather(context.Background(), Options{NginxConf: nginx, FPMConfs: []string{fpm}, NoProbe: true})
			if err != nil {
				t.Fatal(err)
			}
			var gathered []*Target
			for _, site := range s.Sites {
				gathered = append(gathered, site.Targets...)
			}
			if len(gathered) != n {
				t.Fatalf("%d targets, want %d", len(gathered), n)
			}
			// Each way of linking starts from bare targets and its own
			// cache of stat results.
			link := func(parallelFrom int) []*Target {
				s.Host = host.Cached(host.New(""))
				live := newListenerIndex(s)
				idx := linkPools(s, live)
				ts := make([]*Target, len(gathered))
				for i, g := range gathered {
					ts[i] = &Target{Target: g.Target, Directive: g.Directive}
				}
				s.linkUnix(ts, live, idx, parallelFrom)
				return ts
			}
			halves, loop := link(1), link(math.MaxInt)
			linked := 0
			for i, g := range gathered {
				for _, got := range []*Target{halves[i], loop[i]} {
					if !reflect.DeepEqual(got.Socket, g.Socket) || got.Listener != g.Listener || got.Pool != g.Pool {
						t.Fatalf("%s: socket %+v listener %v pool %v, want %+v %v %v", g.Path, got.Socket, got.Listener, got.Pool, g.Socket, g.Listener, g.Pool)
					}
				}
				if g.Pool != nil {
					linked++
				}
			}
			if linked == 0 || linked == n {
				t.Fatalf("%d of %d targets linked to a pool: the trial tests nothing", linked, n)
			}
		})
	}
}
