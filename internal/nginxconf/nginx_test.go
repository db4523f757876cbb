package nginxconf

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// The tests in this file use the real nginx as the oracle.

const nginxPath = "/usr/sbin/nginx"

func needNginx(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(nginxPath); err != nil {
		lab.Unavailable(t, "nginx not installed: "+err.Error())
	}
}

type dumpFile struct {
	Path    string
	Content string
}

// nginxDump runs `nginx -T` and splits its output into the files it read,
// in the order it read them.
func nginxDump(t *testing.T, main, prefix string) []dumpFile {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(nginxPath, "-T", "-q", "-c", main, "-p", prefix+"/")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("nginx -T: %v\n%s", err, stderr.String())
	}
	var files []dumpFile
	marker := regexp.MustCompile(`(?m)^# configuration file (.*):\n`)
	out := stdout.String()
	locs := marker.FindAllStringSubmatchIndex(out, -1)
	for i, loc := range locs {
		end := len(out)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		// nginx adds one newline after each file's content.
		content := strings.TrimSuffix(out[loc[1]:end], "\n")
		files = append(files, dumpFile{Path: out[loc[2]:loc[3]], Content: content})
	}
	return files
}

// compareWithNginx asserts that we read the same files as nginx, in the
// same order, with the same bytes, and that re-reading nginx's own dump
// (through Options.Root) gives the same directive names in the same order.
func compareWithNginx(t *testing.T, main, prefix string) *Config {
	t.Helper()
	dump := nginxDump(t, main, prefix)
	c := mustLoad(t, main, Options{})
	if len(c.Problems) != 0 {
		t.Fatalf("problems on a config nginx accepts: %v", c.Problems)
	}
	var ours, theirs []string
	for _, f := range c.Files {
		ours = append(ours, f.Path)
	}
	for _, f := range dump {
		theirs = append(theirs, f.Path)
	}
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Fatalf("files differ\nours:\n%s\nnginx:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
	}
	root := t.TempDir()
	for i, f := range dump {
		if got := string(c.Files[i].Src); got != f.Content {
			t.Fatalf("%s: content differs from nginx's dump", f.Path)
		}
		mustWrite(t, filepath.Join(root, f.Path), f.Content)
	}
	replay := mustLoad(t, main, Options{Root: root})
	if a, b := names(c.Directives), names(replay.Directives); strings.Join(a, " ") != strings.Join(b, " ") || len(a) == 0 {
		t.Fatalf("directive names differ: %d from disk, %d from nginx's dump", len(a), len(b))
	}
	checkOffsets(t, c)
	return c
}

// rewriteTree copies a testdata tree to dir, replacing absolute paths so
// that nginx can read it with -c/-p (it has no --root).
func rewriteTree(t *testing.T, from, dir string, replace ...string) {
	t.Helper()
	r := strings.NewReplacer(replace...)
	err := filepath.Walk(from, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		to := filepath.Join(dir, rel)
		switch {
		case fi.IsDir():
			return os.MkdirAll(to, 0o755)
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(r.Replace(target), to)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(to, []byte(r.Replace(string(b))), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestAgainstNginxDebian(t *testing.T) {
	needNginx(t)
	for _, tree := range []string{"testdata/debian", "testdata/debian-php"} {
		t.Run(filepath.Base(tree), func(t *testing.T) {
			dir := t.TempDir()
			rewriteTree(t, tree, dir,
				"/etc/nginx", dir+"/etc/nginx",
				"/var/log/nginx", dir,
				"/run/nginx.pid", dir+"/nginx.pid",
				"user www-data;", "",
			)
			c := compareWithNginx(t, dir+"/etc/nginx/nginx.conf", dir)
			if len(c.Files) < 3 {
				t.Fatalf("only %d files", len(c.Files))
			}
		})
	}
}

func TestAgainstNginxHosting(t *testing.T) {
	needNginx(t)
	dir := t.TempDir()
	main := writeHosting(t, dir, 200)
	c := compareWithNginx(t, main, dir)
	if m := c.Model(); len(m.Servers) != 200 || len(m.Problems) != 0 {
		t.Fatalf("%d servers, problems %v", len(m.Servers), m.Problems)
	}
}

func TestAgainstNginxTrickySyntax(t *testing.T) {
	needNginx(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"nginx.conf": fmt.Sprintf(`# tricky but valid
pid %[1]s/nginx.pid;error_log %[1]s/error.log
    notice;
events{worker_connections 16;}
http{
  include "mime.types";
  map $http_host $site { hostnames; default "x y"; '~^(?<n>.+)\.example$' ${n}; include maps/*.map; }
  geo $g { default 0; 127.0.0.1/32 1; }
  log_format main '$remote_addr "$request" \'q\' \"dq\"';
  server{listen 8081;server_name "a;b" 'c{d}' e\ f;
    set $a "${site}x";
    location ~* "\.(php|phtml){1}$" { if ($a ~ "^(x|y){2}$") { return 403; } fastcgi_pass unix:/run/php/x.sock; }
    location = "/a{b" { return 200 "}"; }
    location /c { include inc/*.conf; location /c/d { include inc/*.conf; } }
    location @named { limit_except GET { deny all; } }
  }
  include inc/*.conf;
}
`, dir),
		"mime.types":  "types { text/html html; }\n",
		"maps/a.map":  "a.example 1;\n",
		"maps/.x.map": "broken {",
		"inc/1.conf":  "fastcgi_param A \"1\";\n",
		"inc/2.conf":  "#only a comment",
	})
	c := compareWithNginx(t, filepath.Join(dir, "nginx.conf"), dir)
	m := c.Model()
	if len(m.Servers) != 1 || strings.Join(m.Servers[0].Names, "|") != "a;b|c{d}|e\\ f" {
		t.Fatalf("servers %+v", m.Servers)
	}
}

var emergLine = regexp.MustCompile(`\[emerg\] \d+#\d+: ((?s:.*?)) in (\S+):(\d+)\n`)

// nginxFirstError runs nginx -t and returns its first error and line.
func nginxFirstError(t *testing.T, src string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"nginx.conf": "error_log " + dir + "/e.log;\npid " + dir + "/p;\n" + src})
	out, _ := exec.Command(nginxPath, "-t", "-q", "-c", dir+"/nginx.conf", "-p", dir+"/").CombinedOutput()
	m := emergLine.FindSubmatch(out)
	if m == nil {
		return "", string(out)
	}
	return string(m[1]), string(m[3])
}

func TestAgainstNginxErrors(t *testing.T) {
	needNginx(t)
	for _, tt := range syntaxErrors {
		msg, line := nginxFirstError(t, tt.src)
		// Two lines of prologue were added in front.
		if msg != tt.msg || line != fmt.Sprint(tt.line+2) {
			t.Errorf("%.40q: nginx says %q at line %s; our table says %q at line %d", tt.src, msg, line, tt.msg, tt.line)
		}
	}
}

// TestAgainstNginxTokenValues uses nginx's "unknown directive" message,
// which prints the unescaped first word, as an oracle for our unescaping.
func TestAgainstNginxTokenValues(t *testing.T) {
	needNginx(t)
	tokens := []string{
		`"a\"b\tc\\d\qe"`, `'it\'s "x"'`, `a\ b`, `${x}y`, `"$"`, `a#b`, `"a;b{c}"`, `x}y`,
		`'\n\r'`, `a\;b`, `"\\\""`, `\"q`, `$`, `a${b}c`, `"#"`,
	}
	for _, tok := range tokens {
		msg, _ := nginxFirstError(t, tok+" x;\n")
		want, ok := strings.CutPrefix(msg, "unknown directive \"")
		if !ok {
			t.Errorf("%s: nginx said %q", tok, msg)
			continue
		}
		want = strings.TrimSuffix(want, "\"")
		c := loadString(t, tok+" x;\n")
		if len(c.Directives) != 1 || c.Directives[0].Name != want {
			t.Errorf("%s: nginx reads %q, we read %v (problems %v)", tok, want, names(c.Directives), c.Problems)
		}
	}
}

func TestAgainstNginxTargets(t *testing.T) {
	needNginx(t)
	long := "/" + strings.Repeat("s", 106)
	for _, raw := range []string{
		"unix:", "127.0.0.1:99999", "http://127.0.0.1:9000", "127.0.0.1", "[::1]x", "[zz]:9000", ":9000",
		"unix:" + long + "x", "php?x", "127.0.0.1:0", "pool:9000",
	} {
		src := fmt.Sprintf("events {}\nhttp { upstream pool { server 127.0.0.1:1; } server { location / { fastcgi_pass %s; } } }\n", raw)
		msg, _ := nginxFirstError(t, src)
		c := loadString(t, src)
		m := c.Model()
		if len(m.FastCGIPasses) != 1 {
			t.Fatalf("%s: %d passes", raw, len(m.FastCGIPasses))
		}
		if got := m.FastCGIPasses[0].Target; got.Kind != TargetInvalid || got.Err != msg {
			t.Errorf("fastcgi_pass %s: nginx says %q; we say %v %q", raw, msg, got.Kind, got.Err)
		}
	}
	// And valid ones nginx accepts.
	for _, raw := range []string{"unix:/run/x.sock:", "UNIX:/x", "[::1]:9000", "pool", "POOL", "127.0.0.1:09000", "unix:" + long} {
		src := fmt.Sprintf("events {}\nhttp { upstream pool { server 127.0.0.1:1; } server { location / { fastcgi_pass %s; } } }\n", raw)
		if msg, _ := nginxFirstError(t, src); msg != "" {
			t.Errorf("fastcgi_pass %s: nginx says %q", raw, msg)
		}
		if m := loadString(t, src).Model(); m.FastCGIPasses[0].Target.Kind == TargetInvalid {
			t.Errorf("fastcgi_pass %s: we say %q", raw, m.FastCGIPasses[0].Target.Err)
		}
	}
}
