package checks

import (
	"testing"
	"time"
)

// phpErrorText on the forms php-fpm 8.2 and nginx 1.22 wrote in the lab.
func TestPHPErrorText(t *testing.T) {
	for _, tc := range []struct {
		raw, msg, file string
		line           int
	}{
		{`[04-Dec-2026 11:10:01] WARNING: [pool www] child 21916 said into stderr: "NOTICE: PHP message: PHP Fatal error:  Allowed memory size of 16777216 bytes exhausted (tried to allocate 2097152 bytes) in /tmp/sl-exp/www/alloc.php on line 1"`,
			"Allowed memory size of 16777216 bytes exhausted (tried to allocate 2097152 bytes) in /tmp/sl-exp/www/alloc.php on line 1", "/tmp/sl-exp/www/alloc.php", 1},
		{`2026/12/04 11:10:04 [error] 21922#21922: *17 FastCGI sent in stderr: "PHP message: PHP Fatal error:  Maximum execution time of 1 second exceeded in /tmp/sl-exp/www/maxexec.php on line 3" while reading response header from upstream, client: 127.0.0.1, server: , request: "GET /maxexec.php HTTP/1.1"`,
			"Maximum execution time of 1 second exceeded in /tmp/sl-exp/www/maxexec.php on line 3", "/tmp/sl-exp/www/maxexec.php", 3},
		{"2026/12/04 11:10:04 [error] 21922#21922: *19 FastCGI sent in stderr: \"PHP message: PHP Fatal error:  Uncaught RuntimeException: backend down in /tmp/sl-exp/www/exc.php:2\nStack trace:\n#0 /tmp/sl-exp/www/exc.php(3): boom()",
			"Uncaught RuntimeException: backend down in /tmp/sl-exp/www/exc.php:2", "/tmp/sl-exp/www/exc.php", 2},
		{`[04-Dec-2026 11:30:00 UTC] PHP Fatal error:  Allowed memory size of 8 bytes exhausted in /w/x.php on line 12`,
			"Allowed memory size of 8 bytes exhausted in /w/x.php on line 12", "/w/x.php", 12},
		{`PHP Fatal error:  something odd`, "something odd", "", 0},
		{`no fatal here`, "", "", 0},
	} {
		msg, file, line := phpErrorText(tc.raw)
		if msg != tc.msg || file != tc.file || line != tc.line {
			t.Errorf("%q:\n got %q %q %d\nwant %q %q %d", tc.raw, msg, file, line, tc.msg, tc.file, tc.line)
		}
	}
	if k := phpErrorKind("Uncaught RuntimeException: backend down"); k != "uncaught-exception" {
		t.Errorf("kind %q", k)
	}
}

func TestProbeTime(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "<1ms", 300 * time.Microsecond: "<1ms", 1500 * time.Microsecond: "2ms", 2001 * time.Millisecond: "2.001s"} {
		if got := probeTime(d); got != want {
			t.Errorf("probeTime(%v) = %q, want %q", d, got, want)
		}
	}
}
