package fpmconf

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// iniCorpus holds lines whose scanning must match PHP's own INI parser.
var iniCorpus = []string{
	"a = yes", "a = YES", "a = yes please", `a = "yes"`, "a = no", "a=none", "a = null", "a = true ; c", "a = 1",
	"a = foo # bar", `a = "x y" z`, `a = "x\"y"`, `a = 'x\'y'`, `a = "a\\b\n"`, "a = E_ALL & ~E_DEPRECATED",
	"a = FOO_BAR", "a = ${HOME}", "a = x${HOME}y", "a = ${FPMDOCTOR_UNSET}", "a = $pool", "a = /run/$pool.sock",
	"a = 127.0.0.1:9000", "a = [::1]:9000", "a = 0660", "a = 1,2", "a = a=b", "a = x;y", `a = "x;y"`,
	"a   =   spaced   value  ", "a =\tx\t", "foo bar baz", "foo = ", "foo =", "[ www ]", "[www] x", "[www] a = b",
	"[w$pool]", "[${HOME}]", `["q w"]`, "a[b] = c", "a[] = c", "a[ b ] = c", `a["b"] = c`, "a [b] = c", "  a = b",
	"a.b-c = d", "a = !1", "a = (1|2)", "a = ~0", "a = 1 | 2", "a = x{y}", `a = "unterminated`, "a = `x`",
	`a = x"y"z`, "#a = b", "# comment", "a = b ;c", "a = http://x/?q=1", "a = @", "a = 12abc", "a = on off",
	"a = off", "a = On", "a = -1", "a = ${HOME", "a = \\x", "a = x\\", "a=''", `a=""`, "a = x]", "a = x[",
	"a = (", "a = x)", "a = 1 2", "a = x & y", "a = foo|bar", "a = E_ALL|x", "a = /p/w(p)", "a b = c",
	"a;b = c", "a=b=c", "a = x!", "a = x~y", "a = ^", "a = x ^ y", `a = "x"  `, `a = " x "`, `a = "x" ; c`,
	"a = yes;", "a = E_ALL", "a = True", "a = nullx", "a = yesno", "a = $HOME", "env[X] = $HOME", "[]", "[a]b]",
	"a = {", "a = }", "a = ${HOME}x${HOME}", `a = "${HOME}"`, "a = '${HOME}'", "a = x ;", "=x", " = x",
	"a = .5", "a = 0x10", "a = E_ALL ^ E_STRICT", "A = b", "a = -", "a = +1", "a = 1-2", `a = "a" "b"`,
	`a = 1|"2"`, "a = [x]", "a\x00 = b", "a = b\rc", `a = ""x`, "a = www-data", "a = /path/${X}/b", "a = NULL",
	`a = "x\\y\"z\$w\'q"`, "a = 'it''s'", "a = x'y", "a{b} = c", "a(b) = c", "a|b = c", "a!b = c", "a$b = c",
	`a"b" = c`, "a[b = c", "a[b]c = d", "a[] x = y", "[a", "a = ${a}${b", "a = )", "a = !", "a = 5 & 3",
	`a = ~"1"`, "a = (E_ALL)", "a = x ${HOME} y", `a = x "q" y`, "a = x ( y", "listen = /run/php/php8.2-fpm.sock",
	"php_admin_value[sendmail_path] = /usr/sbin/sendmail -t -i -f www@my.domain.com", "pm.status_path = /status",
	"access.format = \"%R - %u %t \\\"%m %r%Q%q\\\" %s %f %{mili}d %{kilo}M %C%%\"",
	"php_value[date.timezone] = Europe/Berlin", "a = ~", "a = 1 &", "a = & 1", "a = (1", "a = ((1)|2)",
	"a = 'abc", "a = x | 'abc", "a = ('abc", "a = !'x", "x['a'] = b", "[a'b'c]", "x[a'b'c] = 1", "x[a'b] = 1",
	"x['a]'] = 1", "['a]",
}

// TestScannerMatchesPHP compares our scanner with parse_ini_string of the
// PHP CLI (same Zend INI scanner as php-fpm) line by line.
func TestScannerMatchesPHP(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		lab.Unavailable(t, "php CLI not installed (apt-get install php8.2-cli): "+err.Error())
	}
	in, _ := json.Marshal(iniCorpus)
	const script = `<?php
foreach (json_decode(stream_get_contents(STDIN)) as $l) {
  $r = @parse_ini_string($l."\n", true, INI_SCANNER_NORMAL);
  echo json_encode($r === false ? null : $r, JSON_FORCE_OBJECT), "\n";
}`
	cmd := exec.Command(php, "-n", "-r", strings.TrimPrefix(script, "<?php\n"))
	cmd.Stdin = bytes.NewReader(in)
	cmd.Env = []string{"HOME=" + os.Getenv("HOME")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("php: %v", err)
	}
	results := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(results) != len(iniCorpus) {
		t.Fatalf("php answered %d lines for %d", len(results), len(iniCorpus))
	}
	env := func(k string) string {
		if k == "HOME" {
			return os.Getenv("HOME")
		}
		return ""
	}
	for i, line := range iniCorpus {
		var want any
		if err := json.Unmarshal([]byte(results[i]), &want); err != nil {
			t.Fatalf("%q: %v", results[i], err)
		}
		stmts, err := scanLine(line, env)
		if want == nil {
			if err == nil {
				t.Errorf("%q: PHP fails, we accept %+v", line, stmts)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: PHP accepts %v, we fail: %v", line, want, err)
			continue
		}
		got := map[string]any{}
		cur := got
		for _, st := range stmts {
			switch st.kind {
			case stmtSection:
				cur = map[string]any{}
				got[st.name] = cur
			case stmtEntry:
				cur[st.name] = st.value
			case stmtArray:
				m, _ := cur[st.name].(map[string]any)
				if m == nil {
					m = map[string]any{}
					cur[st.name] = m
				}
				k := st.offset
				if k == "" {
					k = "0"
				}
				m[k] = st.value
			}
		}
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if string(gj) != string(wj) {
			t.Errorf("%q: PHP %s, we %s", line, wj, gj)
		}
	}
}

// TestSyntaxErrorLines: the line php names in its syntax errors counts
// the '\n' php-fpm appends to each line and every '\r' (values checked
// against php-fpm 8.2 in TestAgainstRealFPMBroken).
func TestSyntaxErrorLines(t *testing.T) {
	for _, tc := range []struct {
		line, want string
	}{
		{`a = "abc`, `syntax error, unexpected end of file, expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '"' in Unknown on line 2`},
		{"a = \"abc\r", `syntax error, unexpected end of file, expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '"' in Unknown on line 2`},
		{"a = \"abc\rdef", `syntax error, unexpected end of file, expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '"' in Unknown on line 3`},
		{"a = 'abc", "syntax error, unexpected end of file in Unknown on line 1"},
		{"a = x | 'abc", "syntax error, unexpected end of file in Unknown on line 1"},
		{"a = x 'abc", ""},
		{"x[a]", "syntax error, unexpected END_OF_LINE, expecting '=' in Unknown on line 2"},
		{"x[a] ; c", "syntax error, unexpected END_OF_LINE, expecting '=' in Unknown on line 2"},
		{"x[a] y", "syntax error, unexpected TC_LABEL, expecting '=' in Unknown on line 1"},
		{"a = (1", "syntax error, unexpected END_OF_LINE, expecting '^' or '|' or '&' or ')' in Unknown on line 2"},
		{"a = 1 |", "syntax error, unexpected END_OF_LINE in Unknown on line 2"},
		{"[abc", "syntax error, unexpected end of file, expecting ']' in Unknown on line 1"},
		{"a = ${x", "syntax error, unexpected end of file, expecting '}' in Unknown on line 1"},
		{"x['a] = 1", "syntax error, unexpected end of file, expecting ']' in Unknown on line 1"},
	} {
		c := &Config{Path: "/t.conf"}
		c.Global = &Section{Name: "global", File: c.Path, global: true, cfg: c}
		l := &loader{ctx: context.Background(), cfg: c}
		if err := l.parseData(c.Path, []byte("\uFEFF"+tc.line+"\n"), 0); err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, p := range c.Problems {
			if strings.HasPrefix(p.Message, "syntax error") {
				got = p.Message
				break
			}
		}
		if got != tc.want {
			t.Errorf("%q: %q, want %q", tc.line, got, tc.want)
		}
	}
}
