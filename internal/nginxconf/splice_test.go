package nginxconf

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// dumpSpliced renders the spliced tree with its links (parent, include)
// and the includes and problems, for comparing two loads.
func dumpSpliced(c *Config) string {
	var b strings.Builder
	pos := func(d *Directive) string {
		if d == nil {
			return "-"
		}
		return d.Name + "@" + d.Pos()
	}
	c.Walk(func(d *Directive) bool {
		via := "-"
		if d.Via != nil {
			via = pos(d.Via.Directive) + "<" + pos(d.Via.Directive.Parent)
		}
		fmt.Fprintf(&b, "%s %v parent=%s via=%s kids=%d nil=%v\n", pos(d), d.Args, pos(d.Parent), via, len(d.Block), d.Block == nil)
		for _, k := range d.Block {
			if k.Parent != d {
				fmt.Fprintf(&b, "  BAD PARENT %s\n", pos(k))
			}
		}
		return true
	})
	for _, inc := range c.Includes {
		fmt.Fprintf(&b, "include %s %s %v parent=%s\n", pos(inc.Directive), inc.Pattern, inc.Files, pos(inc.Directive.Parent))
	}
	for _, f := range c.Files {
		fmt.Fprintf(&b, "file %s\n", f.Path)
	}
	fmt.Fprintf(&b, "%v\n", c.Problems)
	return b.String()
}

// TestSpliceInPlaceSameAsCopies: splicing a file's parsed directives in
// place the first time gives the same tree as copying every time, with
// snippets included many times, inside blocks, nested, and in cycles.
func TestSpliceInPlaceSameAsCopies(t *testing.T) {
	dir := writeTree(t, t.TempDir(), map[string]string{
		"nginx.conf":   "events {}\nhttp {\n include snip.conf;\n server { include snip.conf; location / { include snip.conf; include sites/*.conf; } }\n include snip.conf;\n map $a $b { include map.conf; }\n include cycle.conf;\n}\n",
		"snip.conf":    "fastcgi_param A b;\nif ($x) { include inner.conf; return 301; }\nlocation /s { }\n",
		"inner.conf":   "return 200;\nset $y 1;\n",
		"map.conf":     "a b;\nc d;\n",
		"cycle.conf":   "include cycle.conf;\nserver { listen 80; include inner.conf; }\n",
		"sites/a.conf": "location /a { include snip.conf; include ../inner.conf; }\n",
		"sites/b.conf": "include inner.conf;\nlocation /b { if ($z) { include snip.conf; } }\n",
		"sites/c.conf": "server_name x;\nlocation /c {\n",
	})
	for _, opts := range []Options{{}, {MaxDirectives: 40}, {MaxIncludeDepth: 2}} {
		a, err := load(context.Background(), filepath.Join(dir, "nginx.conf"), opts, true)
		if err != nil {
			t.Fatal(err)
		}
		b, err := load(context.Background(), filepath.Join(dir, "nginx.conf"), opts, false)
		if err != nil {
			t.Fatal(err)
		}
		got, want := dumpSpliced(a), dumpSpliced(b)
		if got != want {
			t.Fatalf("in place:\n%s\ncopies:\n%s", got, want)
		}
		if strings.Contains(got, "BAD PARENT") || len(a.Includes) < 10 {
			t.Fatalf("%d includes:\n%s", len(a.Includes), got)
		}
	}
}
