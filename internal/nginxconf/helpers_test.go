package nginxconf

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree writes files (path relative to dir → content) and returns dir.
func writeTree(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		mustWrite(t, filepath.Join(dir, name), content)
	}
	return dir
}

// loadString loads a single main file with the given content.
func loadString(t testing.TB, content string) *Config {
	t.Helper()
	dir := writeTree(t, t.TempDir(), map[string]string{"nginx.conf": content})
	return mustLoad(t, filepath.Join(dir, "nginx.conf"), Options{})
}

// checkOffsets asserts that every directive's and argument's byte range
// is exactly its text in the file it came from.
func checkOffsets(t testing.TB, c *Config) {
	t.Helper()
	c.Walk(func(d *Directive) bool {
		f := c.File(d.File)
		if f == nil {
			t.Errorf("%s: file %q not in Config.Files", d.Pos(), d.File)
			return true
		}
		if d.Start < 0 || d.End > len(f.Src) || d.Start >= d.End {
			t.Errorf("%s: bad range %d..%d", d.Pos(), d.Start, d.End)
			return true
		}
		text := string(f.Src[d.Start:d.End])
		if !strings.HasPrefix(text, rawName(f.Src, d)) {
			t.Errorf("%s: text %q does not start with the name %q", d.Pos(), text, d.Name)
		}
		want := byte(';')
		if d.IsBlock {
			want = '}'
		}
		if d.IsBlock && d.BlockClose < 0 {
			return true // unterminated block (syntax error already reported)
		}
		if text[len(text)-1] != want {
			t.Errorf("%s: text %q does not end with %q", d.Pos(), text, want)
		}
		if got := lineOf(f.Src, d.Start); got != d.Line {
			t.Errorf("%s: Line %d, but offset %d is on line %d", d.Pos(), d.Line, d.Start, got)
		}
		for _, a := range d.Args {
			if string(f.Src[a.Start:a.End]) != a.Raw {
				t.Errorf("%s: arg range %d..%d is %q, Raw %q", d.Pos(), a.Start, a.End, f.Src[a.Start:a.End], a.Raw)
			}
		}
		if d.IsBlock && f.Src[d.BlockOpen] != '{' {
			t.Errorf("%s: BlockOpen %d is %q", d.Pos(), d.BlockOpen, f.Src[d.BlockOpen])
		}
		return true
	})
}

func rawName(src []byte, d *Directive) string {
	// The name token's raw text ends where the first argument or the
	// terminator begins; comparing the unquoted name is enough here.
	s := string(src[d.Start:])
	if strings.HasPrefix(s, `"`) || strings.HasPrefix(s, `'`) || strings.Contains(s[:min(len(s), len(d.Name)+1)], `\`) {
		return s[:1] // quoted or escaped: the value differs from the source
	}
	return d.Name
}

// names lists the directive names of the spliced tree, depth first.
func names(ds []*Directive) []string {
	var out []string
	Walk(ds, func(d *Directive) bool {
		out = append(out, d.Name)
		return true
	})
	return out
}

func mustLoad(t testing.TB, main string, opts Options) *Config {
	t.Helper()
	c, err := Load(context.Background(), main, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lineOf returns the 1-based line of offset in src.
func lineOf(src []byte, offset int) int {
	return 1 + bytes.Count(src[:offset], []byte{'\n'})
}
