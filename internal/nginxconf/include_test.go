package nginxconf

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestIncludeGlobOrderAndSplicing(t *testing.T) {
	dir := writeTree(t, t.TempDir(), map[string]string{
		"nginx.conf": "events {}\nhttp {\n  include sites/*;\n  include none/*.conf;\n  include snip.conf;\n}\n",
		"sites/b":    "server { listen 81; include snip.conf; }\n",
		"sites/a":    "server { listen 80; include snip.conf; }\n",
		"sites/B2":   "server { listen 82; }\n",
		"sites/.hid": "this would be a syntax error {",
		"sites/a~":   "server { listen 83; }\n",
		"snip.conf":  "fastcgi_param A b;\n",
	})
	c := mustLoad(t, filepath.Join(dir, "nginx.conf"), Options{})
	if len(c.Problems) != 0 {
		t.Fatal(c.Problems)
	}
	var files []string
	for _, f := range c.Files {
		files = append(files, strings.TrimPrefix(f.Path, dir+"/"))
	}
	// Bytewise order (C locale): upper case first; dot files skipped;
	// snip.conf read once although included three times.
	if want := []string{"nginx.conf", "sites/B2", "sites/a", "snip.conf", "sites/a~", "sites/b"}; !reflect.DeepEqual(files, want) {
		t.Fatalf("files %q want %q", files, want)
	}
	got := strings.Join(names(c.Directives), " ")
	want := "events http server listen server listen fastcgi_param server listen server listen fastcgi_param fastcgi_param"
	if got != want {
		t.Fatalf("tree %s\nwant %s", got, want)
	}
	checkOffsets(t, c)
	// Each splice has its own parent.
	var params []*Directive
	c.Walk(func(d *Directive) bool {
		if d.Name == "fastcgi_param" {
			params = append(params, d)
		}
		return true
	})
	if params[0].Parent.Name != "server" || params[2].Parent.Name != "http" || params[0] == params[1] {
		t.Fatal("spliced copies share parents")
	}
	if len(c.Includes) != 5 {
		t.Fatalf("%d includes", len(c.Includes))
	}
	// Includes are listed in tree order: the snippet includes inside the
	// sites come before http's second include.
	if inc := c.Includes[3]; inc.Pattern != dir+"/none/*.conf" || len(inc.Files) != 0 {
		t.Fatalf("empty glob include %+v", inc)
	}
}

func TestIncludeProblems(t *testing.T) {
	dir := writeTree(t, t.TempDir(), map[string]string{
		"nginx.conf": "include a.conf;\ninclude missing.conf;\ninclude bad.conf;\nafter;\n",
		"a.conf":     "x;\ninclude b.conf;\n",
		"b.conf":     "y;\ninclude a.conf;\n",
		"bad.conf":   "z;\n}\nlost;\n",
	})
	c := mustLoad(t, filepath.Join(dir, "nginx.conf"), Options{})
	var msgs []string
	for _, p := range c.Problems {
		msgs = append(msgs, strings.ReplaceAll(p.Error(), dir+"/", ""))
	}
	want := []string{
		"include cycle: a.conf -> b.conf -> a.conf in b.conf:2",
		`open() "missing.conf" failed (2: No such file or directory) in nginx.conf:2`,
		`unexpected "}" in bad.conf:2`,
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Fatalf("problems\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
	if got := strings.Join(names(c.Directives), " "); got != "x y z after" {
		t.Fatalf("tree %s", got)
	}
}

func TestIncludeSelf(t *testing.T) {
	dir := writeTree(t, t.TempDir(), map[string]string{"nginx.conf": "include *.conf;\n"})
	c := mustLoad(t, filepath.Join(dir, "nginx.conf"), Options{})
	if len(c.Problems) != 1 || !strings.Contains(c.Problems[0].Message, "include cycle") {
		t.Fatal(c.Problems)
	}
}

func TestIncludeExponentialIsBounded(t *testing.T) {
	// Each level includes the next twice: 2^30 splices if unbounded.
	files := map[string]string{"nginx.conf": "include l0.conf;\n", "l30.conf": "x;\n"}
	for i := 0; i < 30; i++ {
		files[filepathName(i)] = "include " + filepathName(i+1) + ";\ninclude " + filepathName(i+1) + ";\n"
	}
	dir := writeTree(t, t.TempDir(), files)
	c := mustLoad(t, filepath.Join(dir, "nginx.conf"), Options{MaxDirectives: 10000})
	if len(c.Problems) == 0 || !strings.Contains(c.Problems[len(c.Problems)-1].Message, "more than 10000 directives") {
		t.Fatalf("problems %v", c.Problems)
	}
}

func filepathName(i int) string { return "l" + strconv.Itoa(i) + ".conf" }

func TestMainFileMissing(t *testing.T) {
	_, err := Load(context.Background(), filepath.Join(t.TempDir(), "nope.conf"), Options{})
	if err == nil || !strings.Contains(err.Error(), "nope.conf") {
		t.Fatalf("err %v", err)
	}
}

func TestRootConfinement(t *testing.T) {
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret.conf": "secret;\n"})
	root := writeTree(t, t.TempDir(), map[string]string{
		"etc/nginx/nginx.conf":            "include /etc/nginx/conf.d/*.conf;\ninclude ../../../../../../" + strings.TrimPrefix(outside, "/") + "/secret.conf;\n",
		"etc/nginx/conf.d/a.conf":         "a;\n",
		"etc/nginx/real/target.conf":      "via_absolute_link;\n",
		"etc/nginx/real/rel.conf":         "via_relative_link;\n",
		filepath.Join("x", "placeholder"): "",
	})
	// An absolute symlink is followed inside the root, like chroot.
	mustSymlink(t, "/etc/nginx/real/target.conf", filepath.Join(root, "etc/nginx/conf.d/b.conf"))
	mustSymlink(t, "../real/rel.conf", filepath.Join(root, "etc/nginx/conf.d/c.conf"))
	// A relative symlink climbing past the root stays inside it.
	mustSymlink(t, "../../../../../../.."+outside+"/secret.conf", filepath.Join(root, "etc/nginx/conf.d/d.conf"))

	c := mustLoad(t, "/etc/nginx/nginx.conf", Options{Root: root})
	got := strings.Join(names(c.Directives), " ")
	if got != "a via_absolute_link via_relative_link" {
		t.Fatalf("tree %q (problems %v)", got, c.Problems)
	}
	for _, f := range c.Files {
		if strings.Contains(f.Path, root) || !strings.HasPrefix(f.Path, "/etc/nginx/") {
			t.Fatalf("reported path %q", f.Path)
		}
	}
	if len(c.Problems) != 2 {
		t.Fatalf("problems %v", c.Problems)
	}
	for _, p := range c.Problems {
		if !strings.Contains(p.Message, "No such file") {
			t.Fatalf("problem %v", p)
		}
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pat, name string
		want      bool
	}{
		{"*", "a", true}, {"*", ".a", false}, {".*", ".a", true}, {"*.conf", "x.conf", true},
		{"*.conf", "x.conf~", false}, {"a?c", "abc", true}, {"a?c", "ac", false},
		{"[ab]*", "bz", true}, {"[!ab]*", "bz", false}, {"[^ab]*", "cz", true}, {"[a-c]", "b", true},
		{"[]a]", "]", true}, {`\*`, "*", true}, {`\*`, "a", false}, {"[a", "[a", true},
		{"*a*b", "xxaxxb", true}, {"*a*b", "xxaxxbx", false}, {"**", "", true},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pat, tt.name); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v", tt.pat, tt.name, got)
		}
	}
}

func TestGlobSubdirectories(t *testing.T) {
	dir := writeTree(t, t.TempDir(), map[string]string{
		"nginx.conf":          "include vhosts/*/site.conf;\n",
		"vhosts/b/site.conf":  "b;\n",
		"vhosts/a/site.conf":  "a;\n",
		"vhosts/c/other.conf": "c;\n",
	})
	c := mustLoad(t, filepath.Join(dir, "nginx.conf"), Options{})
	if got := strings.Join(names(c.Directives), " "); got != "a b" || len(c.Problems) != 0 {
		t.Fatalf("tree %q problems %v", got, c.Problems)
	}
}

func TestIncludeDirectoryAndDevice(t *testing.T) {
	dir := writeTree(t, t.TempDir(), map[string]string{
		"nginx.conf": "include d/*;\ninclude /dev/null;\n",
		"d/a.conf":   "a;\n",
		"d/sub/x":    "x;\n",
	})
	c := mustLoad(t, filepath.Join(dir, "nginx.conf"), Options{})
	// nginx 1.22: pread() "…/d/sub" failed (21: Is a directory)
	if len(c.Problems) != 1 || c.Problems[0].Message != `pread() "`+dir+`/d/sub" failed (21: Is a directory)` {
		t.Fatalf("problems %v", c.Problems)
	}
	if got := strings.Join(names(c.Directives), " "); got != "a" {
		t.Fatalf("tree %q", got)
	}
}

func TestLimits(t *testing.T) {
	files := map[string]string{"nginx.conf": "include sites/*.conf;\n"}
	for i := 0; i < 50; i++ {
		files["sites/"+strconv.Itoa(100+i)+".conf"] = "server { listen 80; }\n"
	}
	dir := writeTree(t, t.TempDir(), files)
	main := filepath.Join(dir, "nginx.conf")

	c := mustLoad(t, main, Options{MaxFiles: 10})
	if len(c.Files) != 10 || len(c.Problems) != 41 || !strings.Contains(c.Problems[0].Message, "more than 10 files") {
		t.Fatalf("MaxFiles: %d files, %d problems %v", len(c.Files), len(c.Problems), c.Problems[:1])
	}
	c = mustLoad(t, main, Options{MaxBytes: 22 + 22*5})
	if len(c.Files) != 6 || !strings.Contains(c.Problems[0].Message, "byte limit") {
		t.Fatalf("MaxBytes: %d files, problems %v", len(c.Files), c.Problems)
	}
	c = loadString(t, strings.Repeat("a {", 200)+strings.Repeat("}", 200))
	if len(c.Problems) != 1 || c.Problems[0].Message != "blocks nested deeper than 128 levels" {
		t.Fatalf("MaxBlockDepth: %v", c.Problems)
	}
	chain := map[string]string{"nginx.conf": "include c0.conf;\n"}
	for i := 0; i < 100; i++ {
		chain["c"+strconv.Itoa(i)+".conf"] = "include c" + strconv.Itoa(i+1) + ".conf;\n"
	}
	dir = writeTree(t, t.TempDir(), chain)
	c = mustLoad(t, filepath.Join(dir, "nginx.conf"), Options{MaxIncludeDepth: 10})
	if len(c.Problems) != 1 || c.Problems[0].Message != "includes nested deeper than 10 levels" {
		t.Fatalf("MaxIncludeDepth: %v", c.Problems)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, main, Options{}); err == nil {
		t.Fatal("cancelled context: no error")
	}
}

func TestReadAheadWithinLimits(t *testing.T) {
	// Two globs whose files are read ahead while the file limit is close.
	files := map[string]string{"nginx.conf": "include a/*.conf;\ninclude b/*.conf;\n"}
	for i := 0; i < 8; i++ {
		files["a/"+strconv.Itoa(i)+".conf"] = "include b/" + strconv.Itoa(i) + ".conf;\n"
		files["b/"+strconv.Itoa(i)+".conf"] = "x;\n"
	}
	dir := writeTree(t, t.TempDir(), files)
	for limit := 1; limit < 20; limit++ {
		c := mustLoad(t, filepath.Join(dir, "nginx.conf"), Options{MaxFiles: limit})
		if len(c.Files) > limit {
			t.Fatalf("limit %d: %d files", limit, len(c.Files))
		}
	}
}
