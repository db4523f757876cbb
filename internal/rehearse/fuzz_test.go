package rehearse

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// FuzzCopy: whatever the nginx config says, Copy maps it or returns an
// error; it never panics and never writes outside the lab. mapped reads
// the configs as a repository (nginx/, php/ mounted where the server has
// them, as fpmdoctor.yaml says) instead of a tree laid out like /.
func FuzzCopy(f *testing.F) {
	for _, input := range []string{
		"events {}\nhttp { server { listen 80; root /srv; location ~ \\.php$ { fastcgi_pass unix:/run/php.sock; } } }",
		"http { upstream u { server 10.0.0.1:9000; server unix:/x.sock; } server { location / { fastcgi_pass u; } } }",
		"http { server { listen [::]:443 ssl ipv6only=on default_server; listen 443 ssl; ssl_certificate /no/such.crt; ssl_certificate_key /no/such.key; location = /a.php { fastcgi_pass php:9000; } } }",
		"daemon off; pid run.pid; error_log stderr; http { access_log /var/log/$host.log; server { root $x; listen unix:/run/n.sock; proxy_pass http://backend:8080/x; } }",
		"http { server { listen; listen 99999; listen *:http; fastcgi_pass; root; include; } include /nope/*.conf; }",
		"user nobody-here nogroup-here; http { server { } server { listen 80 default_server backlog=10; } server { listen [::]:80 default_server backlog=10; } }",
	} {
		f.Add(input, false)
		f.Add(input, true)
	}
	f.Add("http { include ../../../../x/*.conf; include /etc/nginx/../../y; server { root ../..; } }", true)
	pool := "[global]\npid = /run/fpm.pid\nerror_log = syslog\ninclude=/etc/php/fpm/pool.d/*.conf\n"
	www := "[www]\nuser = nobody-here\nlisten = 9000\nlisten.allowed_clients = php, 10.0.0.1\nchroot = /srv\nphp_admin_value[open_basedir] = /srv:/tmp\n"
	f.Fuzz(func(t *testing.T, conf string, mapped bool) {
		root := t.TempDir()
		files := map[string]string{"etc/nginx/nginx.conf": conf, "etc/php/fpm/php-fpm.conf": pool, "etc/php/fpm/pool.d/www.conf": www}
		var mounts []rootfs.Mount
		if mapped {
			files = map[string]string{"nginx/nginx.conf": conf, "php/php-fpm.conf": pool, "php/pool.d/www.conf": www}
			mounts = []rootfs.Mount{{Host: "/etc/nginx", Dir: filepath.Join(root, "nginx")}, {Host: "/etc/php/fpm", Dir: filepath.Join(root, "php")}}
		}
		for p, body := range files {
			p = filepath.Join(root, p)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		lab := t.TempDir()
		l := &Lab{Dir: lab, opts: Options{NginxBin: "/bin/true", FPMBin: "/bin/true"}}
		_ = l.Copy(context.Background(), Source{Root: root, Mounts: mounts, NginxConf: "/etc/nginx/nginx.conf", FPMConfs: []string{"/etc/php/fpm/php-fpm.conf"}})
		// The source is only read: not a file in it is added or changed.
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			b, err := os.ReadFile(p)
			if want, ok := files[rel]; !ok || err != nil || string(b) != want {
				t.Errorf("the copy wrote %s in its source (%v)", rel, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if l.tree == nil {
			return
		}
		for _, m := range l.tree.mappings {
			if m.To != "" && (m.Kind == "path" || m.Kind == "socket" || m.Kind == "docroot") && !filepath.IsAbs(m.To) {
				t.Errorf("%s mapped to a relative path %q", m.From, m.To)
			}
		}
	})
}
