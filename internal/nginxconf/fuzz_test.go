package nginxconf

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fuzzCorpus(f *testing.F) {
	for _, tt := range syntaxErrors {
		f.Add([]byte(tt.src))
	}
	f.Add([]byte(hostingConf))
	for _, p := range []string{
		"testdata/debian/etc/nginx/nginx.conf",
		"testdata/debian-php/etc/nginx/sites-available/default",
		"testdata/debian/etc/nginx/fastcgi.conf",
		"testdata/debian/etc/nginx/snippets/fastcgi-php.conf",
	} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`a "b\"c" 'd\'e' ${f}g \; # x` + "\n" + `if ($a = "b") { x; }`))
	f.Add([]byte("location ~ ^/(a|b){2}$ { }"))
}

// FuzzParse: any input parses without panic or hang, every range is
// exact, and the model and value parsers cope with whatever comes out.
func FuzzParse(f *testing.F) {
	fuzzCorpus(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		const path = "/etc/nginx/nginx.conf"
		dirs, probs := parseFile(path, src, 64)
		if len(probs) > 1 {
			t.Fatalf("parseFile stops at the first error, got %d", len(probs))
		}
		c := &Config{Main: path, Directives: dirs, byPath: map[string]*File{path: {Path: path, Src: src}}}
		n := 0
		c.Walk(func(d *Directive) bool {
			n++
			if d.Start < 0 || d.End > len(src) || d.Start >= d.End {
				t.Fatalf("%s: range %d..%d of %d", d.Pos(), d.Start, d.End, len(src))
			}
			if d.IsBlock && d.BlockClose >= 0 && src[d.BlockClose] != '}' {
				t.Fatalf("%s: BlockClose is %q", d.Pos(), src[d.BlockClose])
			}
			if !d.IsBlock && src[d.End-1] != ';' {
				t.Fatalf("%s: does not end with ';'", d.Pos())
			}
			for _, a := range d.Args {
				if a.Start < d.Start || a.End > d.End || string(src[a.Start:a.End]) != a.Raw {
					t.Fatalf("%s: arg range %d..%d", d.Pos(), a.Start, a.End)
				}
				if len(a.Value) > len(a.Raw) {
					t.Fatalf("%s: value longer than its source", d.Pos())
				}
				_ = ParseTarget(a.Value)
				_, _ = ParseDuration(a.Value)
				_, _ = ParseSize(a.Value)
			}
			return true
		})
		if n > len(src) {
			t.Fatalf("%d directives from %d bytes", n, len(src))
		}
		// The fast path must not change anything.
		slow := newLexer(src, string(src))
		slow.noFastPath = true
		sdirs, sprobs := parse(slow, path, 64)
		if got, want := dumpTree(dirs, probs), dumpTree(sdirs, sprobs); got != want {
			t.Fatalf("fast path differs:\n%s\nslow:\n%s", got, want)
		}
		if len(probs) == 0 && len(src) < 1<<12 { // checkOffsets is quadratic
			checkOffsets(t, c)
		}
		m := c.Model()
		for _, s := range m.Servers {
			for _, l := range s.Locations {
				_ = m.Settings(l.Directive)
			}
		}
	})
}

// FuzzLoad splits the input into four files that may include each other
// (and themselves): includes, globs and cycles must end, within limits.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("include b.conf;\x00x;\x00\x00"))
	f.Add([]byte("include *.conf;\x00include a.conf;\x00include c.conf; include c.conf;\x00include a.conf;"))
	f.Add([]byte("http { include b.conf; }\x00server { include c.conf; }\x00location / { fastcgi_pass unix:/x; }\x00"))
	f.Add([]byte("include [bc].conf;\x00include ?.conf;\x00include d*;\x00include /etc/*/*;"))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		parts := bytes.SplitN(data, []byte{0}, 4)
		for i, p := range parts {
			name := filepath.Join(dir, string(rune('a'+i))+".conf")
			if err := os.WriteFile(name, p, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		c, err := Load(ctx, "/a.conf", Options{Root: dir, MaxDirectives: 20000, MaxIncludeDepth: 8})
		if err != nil {
			t.Fatal(err)
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("Load took %v", time.Since(start))
		}
		for _, f := range c.Files {
			if strings.HasPrefix(f.Path, dir) {
				t.Fatalf("root leaked into %s", f.Path)
			}
		}
		// Splicing in place must give what copying every time gives.
		cp, err := load(ctx, "/a.conf", Options{Root: dir, MaxDirectives: 20000, MaxIncludeDepth: 8}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := dumpSpliced(c), dumpSpliced(cp); got != want && ctx.Err() == nil {
			t.Fatalf("in place:\n%s\ncopies:\n%s", got, want)
		}
		_ = c.Model()
	})
}

// dumpTree renders everything the parser produced, for comparisons.
func dumpTree(ds []*Directive, probs []Problem) string {
	var b strings.Builder
	Walk(ds, func(d *Directive) bool {
		fmt.Fprintf(&b, "%q %d %d-%d %v %d-%d %+v\n", d.Name, d.Line, d.Start, d.End, d.IsBlock, d.BlockOpen, d.BlockClose, d.Args)
		return true
	})
	fmt.Fprintf(&b, "%v", probs)
	return b.String()
}

// TestFastPathAtBufferBoundaries: tokens ending right around nginx's 4096
// byte buffer edges lex the same with and without the fast path.
func TestFastPathAtBufferBoundaries(t *testing.T) {
	for pad := 4080; pad < 4100; pad++ {
		for _, shape := range []string{"a %s;\n", "a \"%s\";\n", "a '%s';\n", "#%s\na;\n", "x;\n%s\n;", "a $%s{b};\n"} {
			src := []byte(fmt.Sprintf("x y;\n"+shape+"z;\n", strings.Repeat("w", pad)))
			fast, fp := parseFile("f", src, 64)
			slow := newLexer(src, string(src))
			slow.noFastPath = true
			sd, sp := parse(slow, "f", 64)
			if got, want := dumpTree(fast, fp), dumpTree(sd, sp); got != want {
				t.Fatalf("pad %d shape %q:\n%s\nslow:\n%s", pad, shape, got, want)
			}
		}
	}
}
