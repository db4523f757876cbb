package nginxconf

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTokens(t *testing.T) {
	tests := []struct {
		name, src string
		want      [][]string // each directive: name then arg values (depth first)
	}{
		{"simple", "a b c;", [][]string{{"a", "b", "c"}}},
		{"no space before semicolon or brace", "a b;c{d e;}", [][]string{{"a", "b"}, {"c"}, {"d", "e"}}},
		{"double quotes", `a "b c" "d;e" "";`, [][]string{{"a", "b c", "d;e", ""}}},
		{"single quotes", `a 'b "c"' 'x\'y';`, [][]string{{"a", `b "c"`, `x'y`}}},
		{"escapes", `a "q\"q" "t\tn\nr\r" "b\\s" "\x" u\;v;`, [][]string{{"a", `q"q`, "t\tn\nr\r", `b\s`, `\x`, `u\;v`}}},
		{"unquoted escapes keep unknown ones", `a b\ c \"d;`, [][]string{{"a", `b\ c`, `"d`}}},
		{"comments", "# c1\na b; # c2 ;{\nc; #end", [][]string{{"a", "b"}, {"c"}}},
		{"hash inside word", "a b#c;", [][]string{{"a", "b#c"}}},
		{"variables with braces", `set $a "${b}x"; return 200 ${host}z;`, [][]string{{"set", "$a", "${b}x"}, {"return", "200", "${host}z"}}},
		{"brace right after $ only", "a $b{c;}", [][]string{{"a", "$b"}, {"c"}}},
		{"regex location", `location ~ ^/(a|b)\.php$ { x; }`, [][]string{{"location", "~", `^/(a|b)\.php$`}, {"x"}}},
		{"regex with brace ends word", `location ~ ^/a{2} {}`, nil}, // "{" after "a" opens the block: then "2}" is a word and "}" is unexpected
		{"if with parens", `if ($a = "b") { return 404; }`, [][]string{{"if", "($a", "=", "b", ")"}, {"return", "404"}}},
		{"if quoted paren", `if ($request_uri ~* "\.php$") { }`, [][]string{{"if", "($request_uri", "~*", `\.php$`, ")"}}},
		{"map contents", "map $a $b { default 0; ~^x 1; }", [][]string{{"map", "$a", "$b"}, {"default", "0"}, {"~^x", "1"}}},
		{"crlf", "a b;\r\nc d;\r\n", [][]string{{"a", "b"}, {"c", "d"}}},
		{"quoted name", `"a" b;`, [][]string{{"a", "b"}}},
		{"empty file", "", nil},
		{"only comment", "# nothing", nil},
		{"close brace in word", "a b}c;", [][]string{{"a", "b}c"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := loadString(t, tt.src)
			var got [][]string
			Walk(c.Directives, func(d *Directive) bool {
				got = append(got, append([]string{d.Name}, d.ArgValues()...))
				return true
			})
			if tt.want == nil {
				if len(got) != 0 && len(c.Problems) == 0 {
					t.Fatalf("got %q and no problem", got)
				}
				return
			}
			if len(c.Problems) > 0 {
				t.Fatalf("problems: %v", c.Problems)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
			checkOffsets(t, c)
		})
	}
}

func TestQuotedFlagAndRaw(t *testing.T) {
	c := loadString(t, "x 'a b' \"c\" d;\n")
	d := c.Directives[0]
	want := []Arg{
		{Value: "a b", Raw: "'a b'", Start: 2, End: 7, Quoted: true},
		{Value: "c", Raw: `"c"`, Start: 8, End: 11, Quoted: true},
		{Value: "d", Raw: "d", Start: 12, End: 13},
	}
	if !reflect.DeepEqual(d.Args, want) {
		t.Fatalf("args %+v\nwant %+v", d.Args, want)
	}
	if d.Start != 0 || d.End != 14 || d.Line != 1 {
		t.Fatalf("directive range %d..%d line %d", d.Start, d.End, d.Line)
	}
}

// syntaxErrors use only real directives before the error, so that nginx
// reports the same first error: TestAgainstNginxErrors runs them through
// nginx -t when it is installed.
var syntaxErrors = []struct {
	src, msg string
	line     int
}{
	{"worker_processes 1;\n}\n", `unexpected "}"`, 2},
	{"events {\n worker_connections 10;\n", `unexpected end of file, expecting "}"`, 3},
	{"worker_processes 1", `unexpected end of file, expecting ";" or "}"`, 1},
	{"worker_processes 1\n\n", `unexpected end of file, expecting ";" or "}"`, 3},
	{"worker_processes \"1\"2;", `unexpected "2"`, 1},
	{"worker_processes '1'#;", `unexpected "#"`, 1},
	{";", `unexpected ";"`, 1},
	{"\n{", `unexpected "{"`, 2},
	{"worker_processes 1 }", `unexpected "}"`, 1},
	{"worker_processes \"1;\n", `unexpected end of file, expecting ";" or "}"`, 2},
	{"worker_processes '1;\n\n", `unexpected end of file, expecting ";" or "}"`, 3},
	{"worker_processes " + strings.Repeat("x", 5000) + ";", `too long parameter "xxxxxxxxxx..." started`, 1},
	{"worker_processes 1;\nenv \"" + strings.Repeat("x", 5000) + "\";", `too long parameter, probably missing terminating """ character`, 2},
	{"env '" + strings.Repeat("x", 5000) + "';", `too long parameter, probably missing terminating "'" character`, 1},
	{"events {}\nhttp { server; }", `directive "server" has no opening "{"`, 2},
	{"events {}\nhttp { server { location / ; } }", `directive "location" has no opening "{"`, 2},
	{"events {}\nhttp { map $a $b { x { } } }", `unexpected "{"`, 2},
	{"events {}\nhttp { types { include x { } } }", `unexpected "{"`, 2},
	{"include {}", `directive "include" is not terminated by ";"`, 1},
	{"events {}\nhttp { server { location / { fastcgi_pass x {} } } }", `directive "fastcgi_pass" is not terminated by ";"`, 2},
}

func TestSyntaxErrors(t *testing.T) {
	for _, tt := range syntaxErrors {
		c := loadString(t, tt.src)
		if len(c.Problems) == 0 {
			t.Errorf("%.40q: no problem, want %q", tt.src, tt.msg)
			continue
		}
		p := c.Problems[0]
		if p.Message != tt.msg || p.Line != tt.line || !strings.HasSuffix(p.File, "nginx.conf") {
			t.Errorf("%.40q: got %q line %d, want %q line %d", tt.src, p.Message, p.Line, tt.msg, tt.line)
		}
	}
}

func TestTooLongBoundary(t *testing.T) {
	// nginx's buffer is 4096 bytes: a 4095-byte comment passes, 4096 fails
	// (as long as more of the file follows).
	ok := loadString(t, "#"+strings.Repeat("a", 4094)+"\nx;\n")
	if len(ok.Problems) != 0 {
		t.Fatalf("4095-byte comment: %v", ok.Problems)
	}
	bad := loadString(t, "#"+strings.Repeat("a", 4095)+"\nx;\n")
	if len(bad.Problems) != 1 || !strings.HasPrefix(bad.Problems[0].Message, `too long parameter "#aaaaaaaaa..."`) {
		t.Fatalf("4096-byte comment: %v", bad.Problems)
	}
}

func TestNestedAndParents(t *testing.T) {
	src := `http {
    server {
        root /srv;
        location / {
            location ~ \.php$ {
                if ($x) { fastcgi_pass unix:/a.sock; }
            }
        }
    }
}
`
	c := loadString(t, src)
	if len(c.Problems) != 0 {
		t.Fatal(c.Problems)
	}
	checkOffsets(t, c)
	var pass *Directive
	c.Walk(func(d *Directive) bool {
		if d.Name == "fastcgi_pass" {
			pass = d
		}
		return true
	})
	var chain []string
	for p := pass.Parent; p != nil; p = p.Parent {
		chain = append(chain, p.Name)
	}
	if got := strings.Join(chain, "<"); got != "if<location<location<server<http" {
		t.Fatalf("parents %s", got)
	}
	if r := pass.Inherited("root"); r == nil || r.Arg(0) != "/srv" {
		t.Fatalf("Inherited root = %v", r)
	}
	f := c.File(pass.File)
	if got := string(f.Src[pass.Start:pass.End]); got != "fastcgi_pass unix:/a.sock;" {
		t.Fatalf("text %q", got)
	}
	srv := c.Directives[0].Block[0]
	if got := string(f.Src[srv.Start:srv.End]); !strings.HasPrefix(got, "server {") || !strings.HasSuffix(got, "}") {
		t.Fatalf("server text %q", got)
	}
}

func TestDebianStock(t *testing.T) {
	c := mustLoad(t, "/etc/nginx/nginx.conf", Options{Root: "testdata/debian"})
	if len(c.Problems) != 0 {
		t.Fatal(c.Problems)
	}
	var files []string
	for _, f := range c.Files {
		files = append(files, f.Path)
	}
	want := []string{"/etc/nginx/nginx.conf", "/etc/nginx/mime.types", "/etc/nginx/sites-enabled/default"}
	if !reflect.DeepEqual(files, want) {
		t.Fatalf("files %q, want %q", files, want)
	}
	checkOffsets(t, c)
	m := c.Model()
	if m.User != "www-data" || m.Group != "www-data" || m.UserDirective == nil {
		t.Fatalf("user %q group %q", m.User, m.Group)
	}
	if m.PID != "/run/nginx.pid" {
		t.Fatalf("pid %q", m.PID)
	}
	if len(m.ErrorLogs) != 1 || m.ErrorLogs[0].Path != "/var/log/nginx/error.log" || m.ErrorLogs[0].Context != nil || m.ErrorLogs[0].Level != "error" {
		t.Fatalf("error logs %+v", m.ErrorLogs)
	}
	if len(m.Servers) != 1 {
		t.Fatalf("%d servers", len(m.Servers))
	}
	s := m.Servers[0]
	if !reflect.DeepEqual(s.Names, []string{"_"}) || len(s.Listens) != 2 || !s.Listens[1].DefaultServer || s.Listens[1].Address != "[::]:80" {
		t.Fatalf("server %+v", s)
	}
	if s.Directive.File != "/etc/nginx/sites-enabled/default" || s.Directive.Via == nil || s.Directive.Via.Pattern != "/etc/nginx/sites-enabled/*" {
		t.Fatalf("server comes from %s via %+v", s.Directive.Pos(), s.Directive.Via)
	}
	if len(s.Locations) != 1 || s.Locations[0].Path != "/" || len(s.FastCGIPasses) != 0 {
		t.Fatalf("locations %+v passes %d", s.Locations, len(s.FastCGIPasses))
	}
	// The types block of mime.types is spliced into http.
	types := m.HTTP.Find("types")
	if len(types) != 1 || len(types[0].Block) < 50 || types[0].File != "/etc/nginx/mime.types" {
		t.Fatalf("types %v", types)
	}
	if len(c.Includes) != 4 {
		t.Fatalf("%d includes", len(c.Includes))
	}
	for _, inc := range c.Includes {
		if inc.Directive.Name != "include" || inc.Directive.File != "/etc/nginx/nginx.conf" {
			t.Fatalf("include %+v", inc.Directive)
		}
	}
}

func TestDebianPHP(t *testing.T) {
	// The stock site with its PHP block enabled, as the usual 502 checklist does.
	c := mustLoad(t, "/etc/nginx/nginx.conf", Options{Root: "testdata/debian-php"})
	if len(c.Problems) != 0 {
		t.Fatal(c.Problems)
	}
	checkOffsets(t, c)
	m := c.Model()
	if len(m.FastCGIPasses) != 1 {
		t.Fatalf("%d passes", len(m.FastCGIPasses))
	}
	p := m.FastCGIPasses[0]
	if p.Target.Kind != TargetUnix || p.Target.Path != "/run/php/php8.2-fpm.sock" || p.Location == nil || p.Location.Modifier != "~" || p.Location.Path != `\.php$` {
		t.Fatalf("pass %+v target %+v", p, p.Target)
	}
	s := p.Settings()
	if s.ReadTimeout.Seconds() != 60 || s.From["fastcgi_read_timeout"] != nil {
		t.Fatalf("read timeout %v from %v", s.ReadTimeout, s.From["fastcgi_read_timeout"])
	}
	sf, ok := s.Param("SCRIPT_FILENAME")
	if !ok || sf.Value != "$document_root$fastcgi_script_name" || sf.Directive.File != "/etc/nginx/fastcgi.conf" {
		t.Fatalf("SCRIPT_FILENAME %+v", sf)
	}
	if s.Root != "/var/www/html" || s.From["root"] == nil {
		t.Fatalf("root %q", s.Root)
	}
	// fastcgi.conf came in through the snippet: two includes deep.
	if via := sf.Directive.Via; via == nil || via.Directive.File != "/etc/nginx/snippets/fastcgi-php.conf" || via.Directive.Via == nil {
		t.Fatalf("via %+v", via)
	}
	var files []string
	for _, f := range c.Files {
		files = append(files, filepath.Base(f.Path))
	}
	if got := strings.Join(files, " "); got != "nginx.conf mime.types default fastcgi-php.conf fastcgi.conf" {
		t.Fatalf("files %s", got)
	}
}
