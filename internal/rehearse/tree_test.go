package rehearse

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

func TestProbeURI(t *testing.T) {
	for loc, want := range map[string]string{
		`location ~ \.php$ {}`:                  "/fpmdoctor-lab-probe.php",
		`location ~ [^/]\.php(/|$) {}`:          "/fpmdoctor-lab-probe.php",
		`location ~* \.PHP$ {}`:                 "/fpmdoctor-lab-probe.php",
		`location ~ ^/(index|app)\.php(/|$) {}`: "/index.php",
		`location = /index.php {}`:              "/index.php",
		`location =/status.php {}`:              "/status.php",
		`location ^~ /api/ {}`:                  "/api/fpmdoctor-lab-probe.php",
		`location /legacy {}`:                   "/legacy/fpmdoctor-lab-probe.php",
		`location /app.php {}`:                  "/app.php",
	} {
		d := parseOne(t, "server { "+loc+" }").Block[0]
		if got := probeURI(d); got != want {
			t.Errorf("%s: %s, want %s", loc, got, want)
		}
	}
	if got := probeURI(nil); got != "/fpmdoctor-lab-probe.php" {
		t.Errorf("no location: %s", got)
	}
}

func TestListenPort(t *testing.T) {
	for in, want := range map[string]int{"80": 80, "*:8080": 8080, "127.0.0.1": 80, "[::]:443": 443, "example.com:81": 81, "0.0.0.0:9000": 9000} {
		if got, ok := listenPort(in); !ok || got != want {
			t.Errorf("listenPort(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"99999", "*:http", "0"} {
		if _, ok := listenPort(bad); ok {
			t.Errorf("listenPort(%q) accepted", bad)
		}
	}
}

func TestServerName(t *testing.T) {
	for names, want := range map[string][2]string{
		"server_name blog.example.org www.blog.example.org;": {"blog.example.org", "blog.example.org"},
		"server_name _;":                  {"_", "fpmdoctor-lab.invalid"},
		"server_name *.example.org;":      {"*.example.org", "lab.example.org"},
		`server_name ~^(?<s>.+)\.x$ a.b;`: {"a.b", "a.b"},
		"":                                {"_", "fpmdoctor-lab.invalid"},
	} {
		n, h := serverName(parseOne(t, "server { "+names+" }"))
		if n != want[0] || h != want[1] {
			t.Errorf("%q: %s, %s; want %v", names, n, h, want)
		}
	}
}

// copyTree runs Copy on tree without starting anything (no root needed).
func copyTree(t *testing.T, tree string) *Lab {
	t.Helper()
	return copySource(t, Source{Root: tree})
}

// copySource runs Copy on src without starting anything.
func copySource(t *testing.T, src Source) *Lab {
	t.Helper()
	l := &Lab{Dir: t.TempDir(), opts: Options{NginxBin: "/bin/true", FPMBin: "/bin/true"}}
	for _, sub := range []string{"log", "run"} {
		if err := os.Mkdir(filepath.Join(l.Dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Copy(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	return l
}

// Every path a server would write or listen on, in every copied file, is
// inside the lab; every listen and pass is on 127.0.0.1; nginx's pass and
// the pool it names get the same lab port or socket.
func TestCopyRewritesEverything(t *testing.T) {
	l := copyTree(t, "testdata/wordpress")
	var all strings.Builder
	err := filepath.Walk(filepath.Join(l.Dir, "root", "etc"), func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		all.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	text := all.String()
	// Host paths a server would write to or read from, outside the lab.
	outside := regexp.MustCompile(`(^|[\s=:"])(/run/|/var/|/srv/|/etc/)`)
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") || strings.HasPrefix(strings.TrimSpace(line), ";") {
			continue
		}
		if m := outside.FindString(line); m != "" {
			t.Errorf("a host path is left in the copy: %q", line)
		}
	}
	listen := regexp.MustCompile(`(?m)^\s*listen\s+([^=\s;][^;\s]*)`)
	for _, m := range listen.FindAllStringSubmatch(text, -1) {
		if !strings.HasPrefix(m[1], "127.0.0.1:") {
			t.Errorf("nginx listens on %s", m[1])
		}
	}
	shopPort := l.tree.ports[9001]
	if shopPort == 0 || !strings.Contains(text, "fastcgi_pass 127.0.0.1:"+strconv.Itoa(shopPort)+";") || !strings.Contains(text, "listen = 127.0.0.1:"+strconv.Itoa(shopPort)) {
		t.Errorf("port 9001 is not mapped alike in nginx and php-fpm (lab port %d)", shopPort)
	}
	sock := l.tree.sockets["/run/php/php8.2-fpm-blog.sock"]
	if sock == "" || !strings.Contains(text, "server unix:"+sock+";") || !strings.Contains(text, "listen = "+sock) {
		t.Errorf("the blog's socket is not mapped alike in the upstream and the pool (%q)", sock)
	}
	if !strings.Contains(text, "user = www-data\ngroup = www-data\nlisten = "+sock) {
		t.Error("the blog pool's missing user wpblog was not replaced by www-data")
	}
	if got := len(l.tree.sites); got != 3 {
		t.Errorf("%d PHP sites, want 3", got)
	}
	for _, s := range l.tree.sites {
		if _, err := os.Stat(filepath.Join(s.docroot, s.uri)); err != nil {
			t.Errorf("%s: no probe script at its URI: %v", s.Name, err)
		}
	}
	// The real servers accept the copy, when they are here to ask.
	if os.Geteuid() == 0 {
		if out, err := exec.Command("/usr/sbin/nginx", "-t", "-p", l.tree.nginxPrefix+"/", "-c", l.tree.nginxConf, "-e", filepath.Join(l.Dir, "log", "t.log")).CombinedOutput(); err != nil && !os.IsNotExist(err) {
			t.Errorf("nginx -t on the copy: %v\n%s", err, out)
		}
		f := l.tree.fpm[0]
		if out, err := exec.Command("/usr/sbin/php-fpm8.2", "-t", "--fpm-config", f.conf, "--prefix", f.prefix).CombinedOutput(); err != nil && !os.IsNotExist(err) {
			t.Errorf("php-fpm -t on the copy: %v\n%s", err, out)
		}
	}
}

// A fastcgi_pass with variables could reach any address: the site is not
// asked, and the resolver points at a loopback port where nothing answers.
func TestVariablePassNotAsked(t *testing.T) {
	root := t.TempDir()
	for p, body := range map[string]string{
		"etc/nginx/nginx.conf":         "events {}\nhttp {\n resolver 10.0.0.53 valid=30s;\n server { listen 80; server_name v.example.org; root /srv/v;\n  set $php 10.0.0.5:9000;\n  location ~ \\.php$ { fastcgi_pass $php; } } }\n",
		"etc/php/8.2/fpm/php-fpm.conf": "[global]\n[www]\nlisten = 9000\n",
	} {
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	l := copyTree(t, root)
	answers := l.Ask(context.Background(), time.Second)
	if len(answers) != 1 || answers[0].Status != 0 || !strings.Contains(answers[0].Error, "fastcgi_pass uses variables") || !answers[0].Failed() {
		t.Errorf("answers: %+v", answers)
	}
	b, err := os.ReadFile(l.tree.nginxConf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "resolver 127.0.0.1:"+strconv.Itoa(l.tree.ports[53])+";") {
		t.Errorf("resolver not moved to loopback:\n%s", b)
	}
}

// A mapped repository is copied through its mounts: the lab holds the
// server's paths (the absolute sites-enabled link read through the
// mapping, the relative snippet include), never the repository's layout.
func TestCopyMappedRepository(t *testing.T) {
	abs, err := filepath.Abs("testdata/repo")
	if err != nil {
		t.Fatal(err)
	}
	l := copySource(t, Source{Root: abs, Mounts: []rootfs.Mount{
		{Host: "/etc/nginx", Dir: filepath.Join(abs, "nginx")},
		{Host: "/etc/php/8.2/fpm", Dir: filepath.Join(abs, "php/8.2/fpm")},
	}})
	for file, want := range map[string]string{
		"etc/nginx/sites-enabled/app.conf":    "server_name app.example.org;",
		"etc/nginx/snippets/fastcgi-php.conf": "fastcgi_split_path_info",
		"etc/php/8.2/fpm/pool.d/api.conf":     "[api]",
		"etc/php/8.2/fpm/php-fpm.conf":        "include=" + filepath.Join(l.Dir, "root/etc/php/8.2/fpm/pool.d/*.conf"),
		"etc/nginx/sites-enabled/api.conf":    "server_name api.example.org;",
		"etc/nginx/sites-available/app.conf":  "", // reached only through the link: not copied
		"nginx/nginx.conf":                    "", // the repository's layout
		"php/8.2/fpm/pool.d/app.conf":         "",
		"fpmdoctor.yaml":                      "",
	} {
		b, err := os.ReadFile(filepath.Join(l.Dir, "root", file))
		switch {
		case want == "" && err == nil:
			t.Errorf("%s is in the lab copy", file)
		case want != "" && err != nil:
			t.Errorf("%s: %v", file, err)
		case want != "" && !strings.Contains(string(b), want):
			t.Errorf("%s lacks %q:\n%s", file, want, b)
		}
	}
	err = (&Lab{Dir: t.TempDir()}).Copy(context.Background(), Source{Mounts: []rootfs.Mount{{Host: "/etc/nginx", Dir: abs}}})
	if err == nil || !strings.Contains(err.Error(), "need a root") {
		t.Errorf("mounts over the live host: %v", err)
	}
}
