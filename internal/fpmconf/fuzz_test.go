package fpmconf

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// FuzzLoad feeds arbitrary bytes to the reader and the validator: no
// panic, no hang, and every setting's byte ranges must point into the file.
func FuzzLoad(f *testing.F) {
	for _, p := range []string{
		"testdata/debian/etc/php/8.2/fpm/php-fpm.conf", "testdata/debian/etc/php/8.2/fpm/pool.d/www.conf",
		"testdata/rhel/etc/php-fpm.d/www.conf", "testdata/docker/usr/local/etc/php-fpm.d/docker.conf",
	} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(basePool + "[x] y\nenv[A] = ${B}\nphp_value[e] = E_ALL & ~(E_NOTICE | !1)\n\r\x00a=\"b\ninclude = *\n"))
	f.Add([]byte("[a]\nlisten = [::1]:0\npm = ondemand\nchroot = x$prefix\ninclude=/etc/*.conf\n"))
	f.Add([]byte(strings.Repeat("(", 5000) + "\n"))
	f.Add([]byte("a = " + strings.Repeat("(", 5000) + "\n"))
	f.Add([]byte("\uFEFF[a]\r\n\uFEFFuser = 'x\r\nphp_value['k] = 1\nping.response = \"p\ro\naccess.log = /x\naccess.format = %{a}}d%{\n"))
	f.Add([]byte("[a]\nx[y]\nv = (1\nw = 1 | 'z\n"))

	root := f.TempDir() // includes resolve below an empty root
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := &Config{Path: "/fuzz.conf", opts: Options{Root: root, Env: func(string) string { return "$pool${X}" }}}
		c.Global = &Section{Name: "global", File: c.Path, global: true, cfg: c}
		l := &loader{ctx: ctx, cfg: c, fs: rootFS{rootfs.Tree{Root: root}}}
		start := time.Now()
		if err := l.parseData(c.Path, data, 0); err != nil {
			t.Fatalf("parseData: %v", err)
		}
		_ = Validate(c)
		for _, p := range c.Pools {
			_, _ = p.Listen()
			_ = p.Value("pm.start_servers")
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v for %d bytes", d, len(data))
		}
		check := func(s *Section) {
			for _, st := range s.Settings {
				if st.LineStart < 0 || st.LineEnd > len(data) || st.ValueStart < st.LineStart || st.ValueEnd > st.LineEnd || st.ValueStart > st.ValueEnd {
					t.Fatalf("bad range %+v in %d bytes", st, len(data))
				}
				if string(data[st.ValueStart:st.ValueEnd]) != st.Raw {
					t.Fatalf("Raw %q does not match the range %q", st.Raw, data[st.ValueStart:st.ValueEnd])
				}
			}
		}
		check(c.Global)
		for _, p := range c.Pools {
			check(&p.Section)
		}
	})
}

// FuzzScanFastPaths checks that the copy-free paths of the INI scanner
// (plain values, plain section names and array keys) give exactly what
// the general scanner gives.
func FuzzScanFastPaths(f *testing.F) {
	for _, l := range iniCorpus {
		f.Add(l)
	}
	env := func(k string) string { return "<" + k + ">" }
	f.Fuzz(func(t *testing.T, line string) {
		for i := 0; i <= len(line); i++ {
			if i != skipBlanks(line, i) {
				continue // both start past the blanks
			}
			if ve, next, ok := plainValue(line, i); ok {
				val, err := "", error(nil)
				if ve > i {
					val, err = evalBare(line[i:ve])
				}
				wval, wvs, wve, wnext, werr := scanTokens(line, i, env)
				if (err == nil) != (werr == nil) || err == nil && (val != wval || i != wvs || ve != wve || next != wnext) ||
					err != nil && err.Error() != werr.Error() {
					t.Fatalf("%q at %d: plain %q %d %d %v, general %q %d %d %d %v", line, i, val, ve, next, err, wval, wvs, wve, wnext, werr)
				}
			}
			got, gnext, gerr := scanBracket(line, i, false, env)
			want, wnext, werr := scanBracketCopy(line, i, env)
			if got != want || gnext != wnext || (gerr == nil) != (werr == nil) {
				t.Fatalf("%q at %d: bracket %q %d %v, general %q %d %v", line, i, got, gnext, gerr, want, wnext, werr)
			}
		}
	})
}

// FuzzAccessFormat: any access.format is judged without a panic, and a
// format php-fpm accepts stays accepted with plain text around it.
func FuzzAccessFormat(f *testing.F) {
	for _, s := range []string{"%R - %u %t \"%m %r%Q%q\" %s", "%{abc", "%{x}{y}d", "%{a}}d", "%", "%{", "%{mili}d %{kilo}M %C%%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, format string) {
		if accessFormatError(format) == "" && accessFormatError("x "+format+" y") != "" && !strings.HasSuffix(format, "%") {
			t.Fatalf("%q is accepted, but not with text around it", format)
		}
	})
}
