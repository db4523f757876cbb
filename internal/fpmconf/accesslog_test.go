package fpmconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAccessFormatError(t *testing.T) {
	for _, tc := range []struct{ format, want string }{
		{`%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%%`, ""},
		{"", ""},
		{"%", ""}, // a lone '%' at the end is ignored
		{"100%% %{%Y-%m-%d}t %{REMOTE_ADDR}e %{Location}o %{x}{%s}T", ""},
		{"%{USER}C %{MicroSeconds}d %{MEGA}M", ""},
		{"%{abc", "missing closing embrace in the access.format"},
		{"%{abc}", "missing closing embrace in the access.format"},
		{"%{", "missing closing embrace in the access.format"},
		{"%Z", "Invalid token in the access.format (%Z)"},
		{"%{a}}d", "Invalid token in the access.format (%})"},
		{"%e", "the name of the environment variable must be set between embraces for %e"},
		{"%{}e", "the name of the environment variable must be set between embraces for %e"},
		{"%o", "the name of the header must be set between embraces for %o"},
		{"%{x}s", "embrace is not allowed for modifier %s"},
		{"%{x}%", "embrace is not allowed for modifier %%"},
		{"%{}s", ""},
		{"%{foo}C", "only 'total', 'user' or 'system' are allowed as a modifier for %C ('foo')"},
		{"%{x}{y}d", "only 'seconds', 'milli', 'milliseconds', 'micro' or 'microseconds' are allowed as a modifier for %d ('y')"},
		{"%{kb}M", "only 'bytes', 'kilo', 'kilobytes', 'mega' or 'megabytes' are allowed as a modifier for %M ('kb')"},
	} {
		if got := accessFormatError(tc.format); got != tc.want {
			t.Errorf("accessFormatError(%q) = %q, want %q", tc.format, got, tc.want)
		}
	}
}

// TestAccessLogProblems: the access log is judged only where php-fpm
// judges it, with its message, file and line.
func TestAccessLogProblems(t *testing.T) {
	dir := t.TempDir()
	pool := "[www]\nuser = www-data\nlisten = 127.0.0.1:9999\npm = static\npm.max_children = 1\n"
	for _, tc := range []struct{ name, body, want string }{
		{"format without log is not used", pool + "access.format = %Z\n", ""},
		{"default format", pool + "access.log = " + dir + "/a.log\n", ""},
		{"bad format", pool + "access.log = " + dir + "/a.log\naccess.format = \"%{x}s\"\n", "fpm.conf:7: fatal: [pool www] wrong format for access.format '%{x}s'"},
		{"missing directory", pool + "access.log = " + dir + "/no/a.log\n", "fpm.conf:6: fatal: failed to open access log (" + dir + "/no/a.log): No such file or directory (2)"},
		{"relative to the pool prefix", pool + "prefix = " + dir + "\naccess.log = no/$pool.log\n", "fpm.conf:7: fatal: failed to open access log (" + dir + "/no/www.log): No such file or directory (2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := filepath.Join(dir, "fpm.conf")
			if err := os.WriteFile(conf, []byte(tc.body), 0o644); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range Validate(load(t, conf, Options{Root: "", NonRoot: true})) {
				if p.Severity == Fatal && (p.Directive == "access.log" || p.Directive == "access.format") {
					got = append(got, strings.TrimPrefix(p.String(), dir+"/"))
				}
			}
			if want := tc.want; strings.Join(got, "\n") != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}
