package fpmconf

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// These tests hold the validator against the real php-fpm 8.2 binary:
// `php-fpm -t` must fail with the message Validate reports first, and
// accept what Validate accepts.

const fpmBinary = "/usr/sbin/php-fpm8.2"

func needFPM(t *testing.T) {
	t.Helper()
	_, err := os.Stat(fpmBinary)
	if err == nil && os.Geteuid() == 0 {
		return
	}
	why := "php-fpm8.2 not installed: " + fpmBinary
	if err == nil {
		why = "php-fpm8.2 -t needs root (user = www-data is looked up)"
	}
	lab.Unavailable(t, why)
}

// runFPM runs php-fpm -t (or -tt) and returns its exit status and output;
// an empty prefix gives no --prefix.
func runFPM(t *testing.T, flag, conf, prefix string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	args := []string{flag, "-y", conf}
	if prefix != "" {
		args = append(args, "--prefix", prefix)
	}
	cmd := exec.CommandContext(ctx, fpmBinary, args...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("run php-fpm: %v", err)
	return 0, ""
}

var (
	fpmLinePrefix = regexp.MustCompile(`^\[[^\]]+\] (ERROR|ALERT|WARNING|NOTICE): `)
	fpmLocation   = regexp.MustCompile(`^\[[^\]]*:\d+\] `)
	// With log_level = debug php-fpm names its own source position.
	fpmDebugPos = regexp.MustCompile(`^pid \d+, [a-z_0-9]+\(\), line \d+: `)
)

// firstFPMError extracts the first error php-fpm printed, without time,
// level and "[file:line] " location, skipping its generic follow-ups.
func firstFPMError(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "PHP:  "); ok {
			return rest
		}
		m := fpmLinePrefix.FindStringSubmatch(line)
		if m == nil || (m[1] != "ERROR" && m[1] != "ALERT") {
			continue
		}
		msg := fpmLocation.ReplaceAllString(fpmDebugPos.ReplaceAllString(line[len(m[0]):], ""), "")
		switch {
		case strings.HasPrefix(msg, "failed to post process"), strings.HasPrefix(msg, "FPM initialization failed"),
			strings.HasPrefix(msg, "failed to load configuration file"), strings.HasPrefix(msg, "Unable to include "):
			continue
		}
		return msg
	}
	return ""
}

const basePool = `[www]
user = www-data
listen = 127.0.0.1:9999
pm = dynamic
pm.max_children = 5
pm.min_spare_servers = 1
pm.max_spare_servers = 3
`

func TestAgainstRealFPMBroken(t *testing.T) {
	needFPM(t)
	cases := []struct {
		name  string
		files map[string]string // fpm.conf is the main file; @ is replaced by the temp dir
		want  string            // php-fpm's message, also Validate's first fatal problem
	}{
		{"no max_children", map[string]string{"fpm.conf": "[www]\nuser = www-data\nlisten = 9999\npm = static\n"},
			"[pool www] pm.max_children must be a positive value"},
		{"min_spare 0", map[string]string{"fpm.conf": strings.Replace(basePool, "pm.min_spare_servers = 1", "pm.min_spare_servers = 0", 1)},
			"[pool www] pm.min_spare_servers(0) must be a positive value"},
		{"max_spare missing", map[string]string{"fpm.conf": strings.Replace(basePool, "pm.max_spare_servers = 3\n", "", 1)},
			"[pool www] pm.max_spare_servers(0) must be a positive value"},
		{"spare > children", map[string]string{"fpm.conf": strings.Replace(basePool, "pm.max_spare_servers = 3", "pm.max_spare_servers = 9", 1)},
			"[pool www] pm.min_spare_servers(1) and pm.max_spare_servers(9) cannot be greater than pm.max_children(5)"},
		{"max < min spare", map[string]string{"fpm.conf": strings.Replace(basePool, "pm.min_spare_servers = 1", "pm.min_spare_servers = 4", 1)},
			"[pool www] pm.max_spare_servers(3) must not be less than pm.min_spare_servers(4)"},
		{"start_servers out of range", map[string]string{"fpm.conf": basePool + "pm.start_servers = 4\n"},
			"[pool www] pm.start_servers(4) must not be less than pm.min_spare_servers(1) and not greater than pm.max_spare_servers(3)"},
		{"max_spawn_rate 0", map[string]string{"fpm.conf": basePool + "pm.max_spawn_rate = 0\n"},
			"[pool www] pm.max_spawn_rate must be a positive value"},
		{"no listen", map[string]string{"fpm.conf": strings.Replace(basePool, "listen = 127.0.0.1:9999\n", "", 1)},
			"[pool www] no listen address have been defined!"},
		{"listen from unset env", map[string]string{"fpm.conf": strings.Replace(basePool, "127.0.0.1:9999", "${FPM_NO_SUCH_VAR}", 1)},
			"[pool www] no listen address have been defined!"},
		{"no user", map[string]string{"fpm.conf": strings.Replace(basePool, "user = www-data\n", "", 1)},
			"[pool www] user has not been defined"},
		{"no pm", map[string]string{"fpm.conf": strings.Replace(basePool, "pm = dynamic\n", "", 1)},
			"[pool www] the process manager is missing (static, dynamic or ondemand)"},
		{"unknown entry", map[string]string{"fpm.conf": basePool + "pm.max_chidlren = 5\n"},
			"unknown entry 'pm.max_chidlren'"},
		{"Kelvin sign is no k", map[string]string{"fpm.conf": basePool + "listen.bac\u212Alog = 5\n"},
			"unknown entry 'listen.bac\u212Alog'"},
		{"dotted I is no i in pm", map[string]string{"fpm.conf": strings.Replace(basePool, "pm = dynamic", "pm = dynam\u0130c", 1)},
			"unable to parse value for entry 'pm': invalid process manager (static, dynamic or ondemand)"},
		{"dotted I is no i in log_level", map[string]string{"fpm.conf": "log_level = not\u0130ce\n" + basePool},
			"unable to parse value for entry 'log_level': invalid value for 'log_level'"},
		{"hash comment", map[string]string{"fpm.conf": strings.Replace(basePool, "pm.max_children = 5", "pm.max_children = 5 # five", 1)},
			"unable to parse value for entry 'pm.max_children': is not a valid number (greater or equal than zero)"},
		{"time suffix", map[string]string{"fpm.conf": basePool + "request_terminate_timeout = 30x\n"},
			"unable to parse value for entry 'request_terminate_timeout': unknown suffix used in time value"},
		{"bad pm", map[string]string{"fpm.conf": strings.Replace(basePool, "pm = dynamic", "pm = lazy", 1)},
			"unable to parse value for entry 'pm': invalid process manager (static, dynamic or ondemand)"},
		{"quoted YES", map[string]string{"fpm.conf": basePool + "catch_workers_output = \"YES\"\n"},
			"unable to parse value for entry 'catch_workers_output': invalid boolean value"},
		{"array without key", map[string]string{"fpm.conf": basePool + "php_value[] = 1\n"},
			"You must provide a key for field 'php_value'"},
		{"unknown array", map[string]string{"fpm.conf": basePool + "php_values[x] = 1\n"},
			"unknown directive 'php_values'"},
		{"env empty", map[string]string{"fpm.conf": basePool + "env[FOO] =\n"},
			"empty value"},
		{"suppress path key", map[string]string{"fpm.conf": basePool + "access.suppress_path[x] = /ping\n"},
			"Keys provided to field 'access.suppress_path' are ignored"},
		{"label only", map[string]string{"fpm.conf": "[www] x\n" + basePool},
			"value is NULL for a ZEND_INI_PARSER_ENTRY"},
		{"syntax error", map[string]string{"fpm.conf": basePool + "php_value[include_path] = .:/usr/share/php:a=b\n"},
			"syntax error, unexpected '=' in Unknown on line 1"},
		{"array in global", map[string]string{"fpm.conf": "[global]\nenv[X] = 1\n" + basePool},
			"Array are not allowed in the global section"},
		{"pool option in global", map[string]string{"fpm.conf": "listen = 9000\n" + basePool},
			"unknown entry 'listen'"},
		{"$pool in global", map[string]string{"fpm.conf": "error_log = @/$pool.log\n" + basePool},
			"unable to parse value for entry 'error_log': Can't use '$pool' when the pool is not defined"},
		{"status path", map[string]string{"fpm.conf": basePool + "pm.status_path = status\n"},
			"[pool www] the status path 'status' must start with a '/'"},
		{"status path short", map[string]string{"fpm.conf": basePool + "pm.status_path = /\n"},
			"[pool www] the status path '/' is not long enough"},
		{"ping path chars", map[string]string{"fpm.conf": basePool + "ping.path = /ping?x\n"},
			"[pool www] the ping path '/ping?x' must contain only the following characters '[alphanum]/_-.~'"},
		{"ping response empty", map[string]string{"fpm.conf": basePool + "ping.path = /ping\nping.response =\n"},
			"[pool www] the ping response page '' is not long enough"},
		{"slowlog missing", map[string]string{"fpm.conf": basePool + "request_slowlog_timeout = 5s\n"},
			"[pool www] 'slowlog' must be specified for use with 'request_slowlog_timeout'"},
		{"slowlog > terminate", map[string]string{"fpm.conf": basePool + "slowlog = @/slow.log\nrequest_slowlog_timeout = 1m\nrequest_terminate_timeout = 30\n"},
			"[pool www] 'request_slowlog_timeout' (60) can't be greater than 'request_terminate_timeout' (30)"},
		{"trace depth without slowlog", map[string]string{"fpm.conf": basePool + "request_slowlog_trace_depth = 20\n"},
			"[pool www] 'slowlog' must be specified for use with 'request_slowlog_trace_depth'"},
		{"chdir missing", map[string]string{"fpm.conf": basePool + "chdir = /nonexistent-fpmdoctor\n"},
			"[pool www] the chdir path '/nonexistent-fpmdoctor' does not exist or is not a directory"},
		{"chroot relative missing", map[string]string{"fpm.conf": basePool + "chroot = jail\n"},
			"[pool www] the chroot path '@/jail' does not exist or is not a directory"},
		{"chroot $prefix misplaced", map[string]string{"fpm.conf": basePool + "chroot = x$prefix\n"},
			"'$prefix' must be use at the beginning of the value"},
		{"prefix missing", map[string]string{"fpm.conf": basePool + "prefix = /nonexistent-fpmdoctor\n"},
			"[pool www] the prefix '/nonexistent-fpmdoctor' does not exist or is not a directory"},
		{"priority", map[string]string{"fpm.conf": basePool + "process.priority = 30\n"},
			"[pool www] process.priority must be included into [-19,20]"},
		{"ondemand idle 0", map[string]string{"fpm.conf": "[www]\nuser = www-data\nlisten = 9999\npm = ondemand\npm.max_children = 2\npm.process_idle_timeout = 0\n"},
			"[pool www] pm.process_idle_timeout(0s) must be greater than 0s"},
		{"ondemand with poll", map[string]string{"fpm.conf": "events.mechanism = poll\n[www]\nuser = www-data\nlisten = 9999\npm = ondemand\npm.max_children = 2\n"},
			"[pool www] ondemand process manager can ONLY be used when events.mechanism is either epoll (Linux) or kqueue (*BSD)."},
		{"event mechanism", map[string]string{"fpm.conf": "events.mechanism = kqueue\n" + basePool},
			"event mechanism 'kqueue' is not available on this system"},
		{"duplicate listen", map[string]string{"fpm.conf": basePool + strings.Replace(basePool, "[www]", "[two]", 1)},
			"[pool two] unable to set listen address as it's already used in another pool 'www'"},
		{"duplicate relative socket", map[string]string{"fpm.conf": strings.Replace(basePool, "127.0.0.1:9999", "php.sock", 1) +
			strings.Replace(strings.Replace(basePool, "[www]", "[two]", 1), "127.0.0.1:9999", "@/php.sock", 1)},
			"[pool two] unable to set listen address as it's already used in another pool 'www'"},
		{"status_listen clash", map[string]string{"fpm.conf": basePool + "pm.status_listen = 127.0.0.1:9999\n"},
			"[pool www_status] unable to set listen address as it's already used in another pool 'www'"},
		{"no pool", map[string]string{"fpm.conf": "[global]\n"},
			"No pool defined. at least one pool section must be specified in config file"},
		{"log_limit", map[string]string{"fpm.conf": "log_limit = 100\n" + basePool},
			"log_limit must be greater than 512"},
		{"process.max", map[string]string{"fpm.conf": "process.max = -1\n" + basePool},
			"process_max can't be negative"},
		{"error_log dir", map[string]string{"fpm.conf": "error_log = /nonexistent-fpmdoctor/fpm.log\n" + basePool},
			"failed to open error_log (/nonexistent-fpmdoctor/fpm.log): No such file or directory (2)"},
		{"unknown user", map[string]string{"fpm.conf": strings.Replace(basePool, "user = www-data", "user = fpmdoctor-nosuch", 1)},
			"[pool www] cannot get uid for user 'fpmdoctor-nosuch'"},
		{"unknown listen.group", map[string]string{"fpm.conf": basePool + "listen.group = fpmdoctor-nosuch\n"},
			"[pool www] cannot get gid for group 'fpmdoctor-nosuch': Success (0)"},
		{"include missing dir", map[string]string{"fpm.conf": "include = @/nodir/*.conf\n" + basePool},
			"Unable to globalize '@/nodir/*.conf' (ret=2) from @/fpm.conf at line 1."},
		{"include relative to prefix", map[string]string{"fpm.conf": "include = pools/*.conf\n", "pools/www.conf": basePool + "pm.max_children = 0\n"},
			"[pool www] pm.max_children must be a positive value"},
		{"include cycle", map[string]string{"fpm.conf": "include = @/fpm.conf\n" + basePool},
			"failed to include more than 5 files recursively"},
		{"reopened pool", map[string]string{"fpm.conf": basePool + "[other]\nuser = www-data\nlisten = 9998\npm = static\npm.max_children = 1\n[WWW]\npm.max_children = 2\n"},
			"[pool www] pm.min_spare_servers(1) and pm.max_spare_servers(3) cannot be greater than pm.max_children(2)"},
		// Each line goes to the INI parser with a '\n' appended: a string
		// left open runs over it and php names line 2.
		{"unclosed double quote", map[string]string{"fpm.conf": basePool + "ping.response = \"pong\n"},
			"syntax error, unexpected end of file, expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '\"' in Unknown on line 2"},
		{"unclosed double quote with CRLF", map[string]string{"fpm.conf": basePool + "ping.response = \"pong\r\n"},
			"syntax error, unexpected end of file, expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '\"' in Unknown on line 2"},
		{"unclosed double quote over a CR", map[string]string{"fpm.conf": basePool + "ping.response = \"po\rng\n"},
			"syntax error, unexpected end of file, expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '\"' in Unknown on line 3"},
		{"unclosed single quote", map[string]string{"fpm.conf": basePool + "php_value[date.timezone] = 'Europe/London\n"},
			"syntax error, unexpected end of file in Unknown on line 1"},
		{"unclosed single quote after an operator", map[string]string{"fpm.conf": basePool + "php_value[error_reporting] = E_ALL & 'x\n"},
			"syntax error, unexpected end of file in Unknown on line 1"},
		{"unclosed single quote in parentheses", map[string]string{"fpm.conf": basePool + "php_value[error_reporting] = ('x\n"},
			"syntax error, unexpected end of file in Unknown on line 1"},
		{"unclosed single quote in an array key", map[string]string{"fpm.conf": basePool + "php_value['x] = 1\n"},
			"syntax error, unexpected end of file, expecting ']' in Unknown on line 1"},
		{"array key without value", map[string]string{"fpm.conf": basePool + "php_value[x]\n"},
			"syntax error, unexpected END_OF_LINE, expecting '=' in Unknown on line 2"},
		{"array key without value, comment", map[string]string{"fpm.conf": basePool + "php_value[x] ; c\n"},
			"syntax error, unexpected END_OF_LINE, expecting '=' in Unknown on line 2"},
		{"unclosed parenthesis", map[string]string{"fpm.conf": basePool + "php_value[error_reporting] = (E_ALL\n"},
			"syntax error, unexpected END_OF_LINE, expecting '^' or '|' or '&' or ')' in Unknown on line 2"},
		{"dangling operator", map[string]string{"fpm.conf": basePool + "php_value[error_reporting] = E_ALL |\n"},
			"syntax error, unexpected END_OF_LINE in Unknown on line 2"},
		{"two BOMs", map[string]string{"fpm.conf": "\uFEFF\uFEFF[global]\n" + basePool},
			"syntax error, unexpected END_OF_LINE, expecting '=' in Unknown on line 2"},
		{"access.log directory missing", map[string]string{"fpm.conf": basePool + "access.log = @/nodir/access.log\n"},
			"failed to open access log (@/nodir/access.log): No such file or directory (2)"},
		{"access.log is a directory", map[string]string{"fpm.conf": basePool + "access.log = @/log\n"},
			"failed to open access log (@/log): Is a directory (21)"},
		{"access.log below a file", map[string]string{"fpm.conf": basePool + "access.log = @/fpm.conf/access.log\n"},
			"failed to open access log (@/fpm.conf/access.log): Not a directory (20)"},
		{"access.log empty", map[string]string{"fpm.conf": basePool + "access.log =\n"},
			"failed to open access log (): No such file or directory (2)"},
		{"access.log before access.format", map[string]string{"fpm.conf": basePool + "access.log = @/log/a.log\naccess.format = %Z\n" +
			strings.Replace(strings.Replace(basePool, "[www]", "[two]", 1), "9999", "9998", 1) + "access.log = @/nodir/b.log\n"},
			"failed to open access log (@/nodir/b.log): No such file or directory (2)"},
		{"pool checks before access.log", map[string]string{"fpm.conf": basePool + "access.log = @/nodir/a.log\n" +
			strings.Replace(strings.Replace(basePool, "[www]", "[two]", 1), "9999", "9998", 1) + "pm.max_children = 0\n"},
			"[pool two] pm.max_children must be a positive value"},
		{"access.format before accounts", map[string]string{"fpm.conf": basePool + "access.log = @/log/a.log\naccess.format = %Z\nlisten.owner = fpmdoctor-nosuch\n"},
			"[pool www] wrong format for access.format '%Z'"},
	}
	for _, f := range []string{"%{abc", "%{abc}", "%Z", "%e", "%{}e", "%o", "%{x}s", "%{x}%", "%{foo}C", "%{x}d", "%{x}M", "%{a}}d", "%{b}x", "a%{b}", "%{x}n"} {
		cases = append(cases, struct {
			name  string
			files map[string]string
			want  string
		}{"access.format " + f, map[string]string{"fpm.conf": basePool + "access.log = @/log/a.log\naccess.format = \"" + f + "\"\n"},
			"[pool www] wrong format for access.format '" + f + "'"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "log"), 0o755); err != nil {
				t.Fatal(err)
			}
			files := map[string]string{}
			for k, v := range tc.files {
				files[k] = strings.ReplaceAll(v, "@", dir)
			}
			writeFiles(t, dir, files)
			want := strings.ReplaceAll(tc.want, "@", dir)
			conf := filepath.Join(dir, "fpm.conf")

			code, out := runFPM(t, "-t", conf, dir)
			if code == 0 {
				t.Fatalf("php-fpm -t accepted the config:\n%s", out)
			}
			if got := firstFPMError(out); got != want {
				t.Errorf("php-fpm says %q, test expects %q\n%s", got, want, out)
			}

			c, err := Load(context.Background(), conf, Options{Prefix: dir, Env: func(string) string { return "" }})
			if err != nil {
				t.Fatal(err)
			}
			var first *Problem
			ps := Validate(c)
			for i := range ps {
				if ps[i].Severity == Fatal && !ps[i].StartOnly {
					first = &ps[i]
					break
				}
			}
			if first == nil {
				t.Fatalf("Validate found nothing fatal; php-fpm said %q; problems %v", want, ps)
			}
			if first.Message != want {
				t.Errorf("Validate's first fatal problem %q, php-fpm %q\nall: %v", first.Message, want, ps)
			}
			if first.File == "" || (first.Line == 0 && !strings.HasPrefix(want, "No pool") && !strings.Contains(want, "must be greater than") && !strings.HasPrefix(want, "process_max")) {
				t.Errorf("problem without location: %+v", *first)
			}
		})
	}
}

// TestBOMInIncludeAgainstRealFPM: a pool file with a byte order mark,
// included from a main file with one, reads as without.
func TestBOMInIncludeAgainstRealFPM(t *testing.T) {
	needFPM(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"fpm.conf":       "\uFEFF[global]\nerror_log = " + dir + "/fpm.log\ninclude = " + dir + "/pool.d/*.conf\n",
		"pool.d/a.conf":  "\uFEFF[a]\r\nuser = www-data\r\nlisten = 127.0.0.1:9315\r\npm = static\r\npm.max_children = 3\r\n",
		"pool.d/b.conf":  "\uFEFF; comment first\n[b]\nuser = www-data\nlisten = 127.0.0.1:9316\npm = ondemand\npm.max_children = 2\n",
		"pool.d/c.conf":  "\uFEFF\n\uFEFFuser = www-data\n",
		"pool.d/d.txt":   "not read",
		"log/.keep":      "",
		"pool.d/.hidden": "",
	})
	conf := filepath.Join(dir, "fpm.conf")
	if code, out := runFPM(t, "-t", conf, dir); code != 0 {
		t.Fatalf("php-fpm -t refused:\n%s", out)
	}
	c := load(t, conf, Options{Prefix: dir})
	if ps := Validate(c); HasFatal(ps) {
		t.Fatalf("Validate refuses what php-fpm accepts: %v", ps)
	}
	if len(c.Pools) != 2 || c.Pools[0].Name != "a" || c.Pools[1].Name != "b" {
		t.Fatalf("pools %v", c.Pools)
	}
	if got := c.Pools[0].Int("pm.max_children"); got != 3 {
		t.Errorf("pool a pm.max_children = %d", got)
	}
	st := c.Pools[1].Get("user")
	if st == nil {
		t.Fatal("pool b: user not read")
	}
	// The BOM is not part of the line: byte ranges point at the text.
	data, _ := os.ReadFile(filepath.Join(dir, "pool.d/c.conf"))
	if st.File != filepath.Join(dir, "pool.d/c.conf") || string(data[st.LineStart:st.LineEnd]) != "user = www-data" {
		t.Errorf("user at %s:%d, line %q", st.File, st.Line, data[st.LineStart:st.LineEnd])
	}
}

// ttDump parses `php-fpm -tt` output into pool -> key -> value.
func ttDump(out string) map[string]map[string]string {
	pools := map[string]map[string]string{}
	var cur map[string]string
	for _, line := range strings.Split(out, "\n") {
		m := fpmLinePrefix.FindStringSubmatch(line)
		if m == nil || m[1] != "NOTICE" {
			continue
		}
		rest := line[len(m[0]):]
		if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
			cur = map[string]string{}
			if rest != "[global]" {
				pools[rest[1:len(rest)-1]] = cur
			}
			continue
		}
		if k, v, ok := strings.Cut(strings.TrimPrefix(rest, "\t"), " = "); ok && cur != nil && strings.HasPrefix(rest, "\t") {
			cur[k] = v
		}
	}
	return pools
}

func TestAgainstRealFPMValid(t *testing.T) {
	needFPM(t)
	configs := map[string]string{
		"dynamic defaults": basePool,
		"static and times": `[global]
log_limit = 4096
[app]
user = www-data
group = www-data
listen = /tmp/$pool.sock
listen.owner = www-data
listen.mode = 0666
listen.backlog = 1024
pm = static
pm.max_children = 12
pm.max_requests = 500
request_terminate_timeout = 2m
request_slowlog_timeout = 30s
request_terminate_timeout_track_finished = yes
slowlog = log/$pool.slow
catch_workers_output = on
clear_env = no
security.limit_extensions = .php
ping.path = /ping
access.log = log/$pool.access
php_admin_value[error_reporting] = E_ALL & ~E_DEPRECATED & ~E_STRICT
php_flag[display_errors] = off
env[PATH] = /usr/bin:/bin
`,
		// Saved on Windows: a byte order mark (php-fpm skips one at the
		// start of every line) and CRLF line ends.
		"BOM, CRLF and every access.format token": "\uFEFF[global]\r\n\uFEFFlog_level = notice\r\n[fmt]\r\nuser = www-data\r\n" +
			"listen = 127.0.0.1:9314\r\npm = static\r\npm.max_children = 1\r\naccess.log = log/$pool.access\r\n" +
			`access.format = "%% %C %{total}C %{USER}C %{system}C %d %{seconds}d %{mili}d %{milli}d %{miliseconds}d %{milliseconds}d %{micro}d %{MICROSECONDS}d ` +
			`%{REMOTE_ADDR}e %f %l %m %M %{bytes}M %{kilo}M %{kilobytes}M %{mega}M %{megabytes}M %n %{Content-Type}o %p %P %q %Q %r %R %s %t %{%H:%M}t %T %{x}{%Y}T %u {x} %"` + "\r\n",
		"upper-case names and keywords": `[GLOBAL]
events.mechanism = EPOLL
log_level = NOTICE
syslog.facility = LOCAL0
[up]
USER = www-data
listen = 127.0.0.1:9313
pm = OnDemand
PM.Max_Children = 2
`,
		"ondemand and relative socket": `[od]
user = www-data
listen = run/od.sock
pm = ondemand
pm.max_children = 3
pm.process_idle_timeout = 30s
pm.start_servers = 7
[dyn]
user = www-data
listen = [::1]:9311
listen.allowed_clients = 127.0.0.1,::1
pm = dynamic
pm.max_children = 10
pm.min_spare_servers = 2
pm.max_spare_servers = 7
pm.max_spawn_rate = 4
pm.status_path = /status
pm.status_listen = 127.0.0.1:9312
[Dyn]
pm.start_servers = 3
`,
	}
	keys := []string{"user", "group", "pm", "pm.max_children", "pm.start_servers", "pm.min_spare_servers", "pm.max_spare_servers",
		"pm.max_spawn_rate", "pm.process_idle_timeout", "pm.max_requests", "listen", "listen.backlog", "listen.owner",
		"listen.group", "listen.allowed_clients", "request_terminate_timeout", "request_slowlog_timeout",
		"request_terminate_timeout_track_finished", "request_slowlog_trace_depth", "catch_workers_output",
		"decorate_workers_output", "clear_env", "security.limit_extensions", "ping.path", "ping.response", "access.log",
		"access.format", "slowlog", "pm.status_path"}
	for name, body := range configs {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"fpm.conf": body, "log/.keep": "", "run/.keep": ""})
			conf := filepath.Join(dir, "fpm.conf")
			code, out := runFPM(t, "-tt", conf, dir)
			if code != 0 {
				t.Fatalf("php-fpm -tt failed:\n%s", out)
			}
			c, err := Load(context.Background(), conf, Options{Prefix: dir})
			if err != nil {
				t.Fatal(err)
			}
			if ps := Validate(c); HasFatal(ps) {
				t.Fatalf("Validate rejects what php-fpm accepts: %v", ps)
			}
			dump := ttDump(out)
			if len(dump) != len(c.Pools) {
				t.Errorf("php-fpm has %d pools, we have %d", len(dump), len(c.Pools))
			}
			for _, p := range c.Pools {
				fpm := dump[p.Name]
				if fpm == nil {
					t.Errorf("pool %s not in php-fpm's dump", p.Name)
					continue
				}
				for _, k := range keys {
					if got, want := ours(p, k), fpm[k]; got != want {
						t.Errorf("[%s] %s = %q, php-fpm %q", p.Name, k, got, want)
					}
				}
			}
		})
	}
}

// ours renders a pool value the way `php-fpm -tt` prints it.
func ours(p *Pool, k string) string {
	opt := poolOptions()[k]
	switch {
	case k == "listen":
		a, err := p.Listen()
		if err == nil && a.Network == "unix" {
			return a.Path
		}
		return p.Value(k)
	case k == "pm":
		return p.PM()
	case (k == "pm.start_servers" || k == "pm.min_spare_servers" || k == "pm.max_spare_servers") && p.PM() == "ondemand":
		return "0"
	case k == "access.log" || k == "slowlog":
		if !p.IsSet(k) {
			return "undefined"
		}
		return p.Path(k)
	case opt.kind == kindTime:
		if k == "pm.process_idle_timeout" {
			return strconv.Itoa(p.Int(k))
		}
		return strconv.Itoa(p.Int(k)) + "s"
	case opt.kind == kindBool:
		if p.Bool(k) {
			return "yes"
		}
		return "no"
	case opt.kind == kindInt:
		return strconv.Itoa(p.Int(k))
	}
	if v := p.Value(k); v != "" {
		return v
	}
	return "undefined"
}
