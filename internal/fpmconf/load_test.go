package fpmconf

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func load(t *testing.T, path string, opts Options) *Config {
	t.Helper()
	c, err := Load(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return c
}

// writeFiles creates files below dir; keys are slash paths.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func fatalMessages(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		if p.Severity == Fatal {
			out = append(out, p.Message)
		}
	}
	return out
}

func TestLoadDebianStock(t *testing.T) {
	c := load(t, "/etc/php/8.2/fpm/php-fpm.conf", Options{Root: "testdata/debian"})
	if len(c.Problems) != 0 {
		t.Fatalf("problems: %v", c.Problems)
	}
	if want := []string{"/etc/php/8.2/fpm/php-fpm.conf", "/etc/php/8.2/fpm/pool.d/www.conf"}; strings.Join(c.Files, ",") != strings.Join(want, ",") {
		t.Errorf("Files = %v, want %v", c.Files, want)
	}
	if got := c.Global.Value("pid"); got != "/run/php/php8.2-fpm.pid" {
		t.Errorf("pid = %q", got)
	}
	if got := c.Global.Path("error_log"); got != "/var/log/php8.2-fpm.log" {
		t.Errorf("error_log = %q", got)
	}
	if len(c.Pools) != 1 || c.Pools[0].Name != "www" {
		t.Fatalf("pools = %v", c.Pools)
	}
	p := c.Pools[0]
	a, err := p.Listen()
	if err != nil || a.Network != "unix" || a.Path != "/run/php/php8.2-fpm.sock" {
		t.Errorf("Listen = %+v, %v", a, err)
	}
	st := p.Get("listen")
	if st.File != "/etc/php/8.2/fpm/pool.d/www.conf" || st.Line == 0 {
		t.Errorf("listen at %s", st.Location())
	}
	data, _ := os.ReadFile("testdata/debian/etc/php/8.2/fpm/pool.d/www.conf")
	if got := string(data[st.ValueStart:st.ValueEnd]); got != "/run/php/php8.2-fpm.sock" {
		t.Errorf("value range gives %q", got)
	}
	if got := string(data[st.LineStart:st.LineEnd]); got != "listen = /run/php/php8.2-fpm.sock" {
		t.Errorf("line range gives %q", got)
	}
	for key, want := range map[string]string{
		"pm": "dynamic", "pm.max_children": "5", "pm.start_servers": "2", "listen.owner": "www-data",
		"listen.mode": "0660", "listen.backlog": "-1", "request_terminate_timeout": "0",
		"security.limit_extensions": ".php .phar", "pm.max_spawn_rate": "32",
	} {
		if got := p.Value(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if ps := Validate(c); HasFatal(ps) {
		t.Errorf("Validate: %v", ps)
	}
}

func TestLoadRHEL(t *testing.T) {
	c := load(t, "/etc/php-fpm.conf", Options{Root: "testdata/rhel"})
	if len(c.Problems) != 0 {
		t.Fatalf("problems: %v", c.Problems)
	}
	p := c.Pool("WWW")
	if p == nil {
		t.Fatal("no pool www")
	}
	a, _ := p.Listen()
	if a.Path != "/run/php-fpm/www.sock" {
		t.Errorf("listen = %+v", a)
	}
	if got := p.Value("php_value[session.save_path]"); got != "/var/lib/php/session" {
		t.Errorf("session.save_path = %q", got)
	}
	if n := len(p.All("php_value")); n != 3 {
		t.Errorf("php_value entries = %d", n)
	}
	// The include comes before [global]: settings after it still go to
	// [global] because the section header switches back.
	if got := c.Global.Value("pid"); got != "/run/php-fpm/php-fpm.pid" {
		t.Errorf("pid = %q", got)
	}
	ac := ParseAllowedClients(p.Value("listen.allowed_clients"))
	if !ac.Set || len(ac.IPs) != 1 {
		t.Errorf("allowed_clients = %+v", ac)
	}
}

func TestLoadDockerOfficialImage(t *testing.T) {
	c := load(t, "/usr/local/etc/php-fpm.conf", Options{Root: "testdata/docker", Prefix: "/usr/local"})
	if len(c.Problems) != 0 {
		t.Fatalf("problems: %v", c.Problems)
	}
	if len(c.Files) != 4 || !strings.HasSuffix(c.Files[3], "zz-docker.conf") {
		t.Errorf("files = %v (want sorted includes, zz-docker last)", c.Files)
	}
	p := c.Pool("www")
	a, err := p.Listen()
	if err != nil || a.Network != "tcp" || !a.Wildcard || a.Port != 9000 {
		t.Errorf("listen = %+v, %v", a, err)
	}
	if st := p.Get("listen"); !strings.HasSuffix(st.File, "zz-docker.conf") {
		t.Errorf("listen from %s", st.File)
	}
	if len(p.Reopened) != 2 {
		t.Errorf("reopened = %v", p.Reopened)
	}
	if p.Bool("clear_env") || !p.Bool("catch_workers_output") {
		t.Errorf("clear_env/catch_workers_output wrong")
	}
	if c.Global.Bool("daemonize") || c.Global.Int("log_limit") != 8192 {
		t.Errorf("global daemonize/log_limit wrong")
	}
}

func TestLoadFeatures(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"etc/fpm.conf": `[global]
error_log = /var/log/fpm.log
include = /etc/pools/*.conf
`,
		"etc/pools/a.conf": `[site-a]
user = www-data
listen = /run/php/$pool.sock
listen.owner = "www data"
pm = ondemand
pm.max_children = 4
env[DB_HOST] = ${DB_HOST}
env[DB_HOST] = ignored
php_value[memory_limit] = 64M
php_value[memory_limit] = 128M
env[DB_PASSWORD] = "s3cr;et"   ; quoted semicolon
php_admin_value[error_reporting] = E_ALL & ~E_DEPRECATED
php_admin_flag[log_errors] = on
php_value[error_log] = /var/log/$pool.err
access.suppress_path[] = /ping
`,
		"etc/pools/b.conf": `[SITE-A]
pm.max_children = 8
[b]
user = www-data
listen = [::1]:9001
pm = static
pm.max_children = 2
`,
	})
	env := map[string]string{"DB_HOST": "db.internal"}
	c := load(t, "/etc/fpm.conf", Options{Root: dir, Env: func(k string) string { return env[k] }})
	if len(c.Problems) != 0 {
		t.Fatalf("problems: %v", c.Problems)
	}
	if len(c.Pools) != 2 {
		t.Fatalf("pools: %d", len(c.Pools))
	}
	a := c.Pools[0]
	for key, want := range map[string]string{
		"listen":                           "/run/php/site-a.sock",
		"listen.owner":                     "www data",
		"pm.max_children":                  "8",
		"env[DB_HOST]":                     "db.internal", // the first env[X] wins
		"php_value[memory_limit]":          "128M",        // the last php_value wins
		"env[DB_PASSWORD]":                 "s3cr;et",
		"php_admin_value[error_reporting]": "24575",
		"php_admin_flag[log_errors]":       "1",
		"php_value[error_log]":             "/var/log/site-a.err",
		"access.suppress_path[]":           "/ping",
	} {
		if got := a.Value(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	st := a.Get("pm.max_children")
	if !strings.HasSuffix(st.File, "b.conf") || st.Line != 2 {
		t.Errorf("pm.max_children from %s", st.Location())
	}
	if raw := a.Get("env[DB_PASSWORD]").Raw; raw != `"s3cr;et"` {
		t.Errorf("raw = %q", raw)
	}
	la, _ := c.Pools[1].Listen()
	if la.Host != "::1" || la.Port != 9001 {
		t.Errorf("b listen = %+v", la)
	}
	if ps := Validate(c); HasFatal(ps) {
		t.Errorf("Validate: %v", ps)
	}
}

func TestIncludeCycle(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"etc/a.conf": "include = /etc/b.conf\n[www]\nuser = x\n",
		"etc/b.conf": "include = /etc/a.conf\n",
	})
	c := load(t, "/etc/a.conf", Options{Root: dir})
	var found bool
	for _, p := range c.Problems {
		if p.Message == "failed to include more than 5 files recursively" {
			found = true
			if !strings.Contains(p.Rule, "include cycle") {
				t.Errorf("rule = %q", p.Rule)
			}
		}
	}
	if !found {
		t.Errorf("no recursion problem: %v", c.Problems)
	}
}

func TestIncludeRelativeToPrefixAndMissing(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"etc/fpm.conf":        "include = conf/*.conf\ninclude = /etc/none/*.conf\ninclude=/etc/nomatch*.conf\n",
		"srv/fpm/conf/p.conf": "[p]\n",
	})
	c := load(t, "/etc/fpm.conf", Options{Root: dir, Prefix: "/srv/fpm"})
	if c.Pool("p") == nil {
		t.Errorf("relative include not resolved against the prefix: files %v", c.Files)
	}
	msgs := []string{}
	for _, p := range c.Problems {
		msgs = append(msgs, p.Severity.String()+": "+p.Message)
	}
	want := []string{
		"fatal: Unable to globalize '/etc/none/*.conf' (ret=2) from /etc/fpm.conf at line 2.",
		"warning: Nothing matches the include pattern '/etc/nomatch*.conf' from /etc/fpm.conf at line 3.",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}
}

func TestRootCannotEscape(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.conf": "[leak]\n"})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"etc/fpm.conf": "include = /etc/link/secret.conf\ninclude = /../../../../" + outside + "/secret.conf\n"})
	if err := os.Symlink(outside, filepath.Join(dir, "etc/link")); err != nil {
		t.Fatal(err)
	}
	c := load(t, "/etc/fpm.conf", Options{Root: dir})
	if c.Pool("leak") != nil {
		t.Fatalf("read a file outside the root: %v", c.Files)
	}
}

func TestParseProblems(t *testing.T) {
	cases := []struct{ line, want string }{
		{"pm.max_chidlren = 5", "unknown entry 'pm.max_chidlren'"},
		{"pm.max_children = 5 # five", "unable to parse value for entry 'pm.max_children': is not a valid number (greater or equal than zero)"},
		{"request_terminate_timeout = 30x", "unable to parse value for entry 'request_terminate_timeout': unknown suffix used in time value"},
		{"pm = lazy", "unable to parse value for entry 'pm': invalid process manager (static, dynamic or ondemand)"},
		{"php_value[] = 1", "You must provide a key for field 'php_value'"},
		{"foo bar baz", "value is NULL for a ZEND_INI_PARSER_ENTRY"},
		{"catch_workers_output = \"YES\"", "unable to parse value for entry 'catch_workers_output': invalid boolean value"},
		{"env[X] =", "empty value"},
		{"php_values[x] = 1", "unknown directive 'php_values'"},
		{"access.suppress_path[x] = /a", "Keys provided to field 'access.suppress_path' are ignored"},
		{"listen = a=b", "syntax error, unexpected '=' in Unknown on line 1"},
		{"log_level = info", "unknown entry 'log_level'"},
		// php-fpm folds ASCII letters only (strcasecmp): the Kelvin sign is no "k", "İ" no "i".
		{"listen.bac\u212Alog = 5", "unknown entry 'listen.bac\u212Alog'"},
		{"pm = dynam\u0130c", "unable to parse value for entry 'pm': invalid process manager (static, dynamic or ondemand)"},
	}
	for _, tc := range cases {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"f.conf": "[www]\n" + tc.line + "\n"})
		c := load(t, filepath.Join(dir, "f.conf"), Options{})
		got := fatalMessages(c.Problems)
		if len(got) == 0 || got[0] != tc.want {
			t.Errorf("%q: got %q, want %q", tc.line, got, tc.want)
		}
		if len(got) > 0 && c.Problems[0].Line != 2 {
			t.Errorf("%q: line %d", tc.line, c.Problems[0].Line)
		}
	}
}

// TestCaseFoldingIsASCII: php-fpm compares names and keywords with
// strcasecmp, so upper-case ASCII is accepted everywhere and other letters
// that Unicode folds to ASCII are not.
func TestCaseFoldingIsASCII(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f.conf": "[GLOBAL]\nevents.mechanism = EPOLL\nlog_level = NOTICE\nrlimit_core = UNLIMITED\nsyslog.facility = LOCAL0\n" +
		"[www]\nuser = www-data\nlisten = 127.0.0.1:9999\nPM = OnDemand\npm.max_children = 2\nlisten.bac\u212Alog = 5\n"})
	c := load(t, filepath.Join(dir, "f.conf"), Options{})
	if got := fatalMessages(Validate(c)); len(got) != 1 || got[0] != "unknown entry 'listen.bac\u212Alog'" {
		t.Fatalf("fatal problems %q", got)
	}
	p := c.Pool("WWW")
	if p.PM() != "ondemand" || p.Value("listen.backlog") != "-1" || c.Global.Int("rlimit_core") != -1 {
		t.Fatalf("pm %q, listen.backlog %q, rlimit_core %d", p.PM(), p.Value("listen.backlog"), c.Global.Int("rlimit_core"))
	}
}

func TestGlobalArrayAndPool(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"f.conf": "env[X] = 1\nerror_log = /var/log/$pool.log\nlisten = 9000\n"})
	c := load(t, filepath.Join(dir, "f.conf"), Options{})
	want := []string{
		"Array are not allowed in the global section",
		"unable to parse value for entry 'error_log': Can't use '$pool' when the pool is not defined",
		"unknown entry 'listen'",
	}
	if got := fatalMessages(c.Problems); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q", got)
	}
}

func TestMainFileMissing(t *testing.T) {
	if _, err := Load(context.Background(), "/nonexistent/fpm.conf", Options{}); err == nil {
		t.Fatal("no error for a missing main file")
	}
}
