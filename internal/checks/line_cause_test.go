package checks

import (
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// TestLineCause: real nginx lines (Debian's nginx 1.22 wording), parsed by
// logscan, get the cause the checks give the same kind of entry.
func TestLineCause(t *testing.T) {
	const head = "2026/12/04 11:50:37 [error] 25433#25433: *2 "
	const tail = ", client: 127.0.0.1, server: lab.test, request: \"GET /ok.php HTTP/1.1\", "
	for _, tc := range []struct{ line, want string }{
		{head + "connect() to unix:/run/php/php8.2-fpm.sock failed (2: No such file or directory) while connecting to upstream" + tail + "upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"lab.test\"", "fpm-down"},
		{head + "connect() to unix:/run/php/php8.2-fpm.sock failed (111: Connection refused) while connecting to upstream" + tail + "upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"lab.test\"", "stale-socket"},
		{head + "connect() failed (111: Connection refused) while connecting to upstream" + tail + "upstream: \"fastcgi://127.0.0.1:9000\", host: \"lab.test\"", "fpm-down"},
		{head + "connect() to unix:/run/php/php8.2-fpm.sock failed (13: Permission denied) while connecting to upstream" + tail + "upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"lab.test\"", "socket-permission"},
		{head + "connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream" + tail + "upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"lab.test\"", "backlog-overflow"},
		{head + "upstream timed out (110: Connection timed out) while reading response header from upstream" + tail + "upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"lab.test\"", "upstream-timeout"},
		// No answer to the connect at all: a drop on the way, not a slow pool.
		{head + "upstream timed out (110: Connection timed out) while connecting to upstream" + tail + "upstream: \"fastcgi://10.231.0.2:9000\", host: \"lab.test\"", "firewall"},
		{head + "upstream sent too big header while reading response header from upstream" + tail + "upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"lab.test\"", "header-too-big"},
		// Decided only by correlation with php-fpm's events.
		{head + "recv() failed (104: Connection reset by peer) while reading response header from upstream" + tail + "upstream: \"fastcgi://unix:/run/php/php8.2-fpm.sock:\", host: \"lab.test\"", ""},
	} {
		e, ok := logscan.ParseNginx(tc.line, time.UTC)
		if !ok {
			t.Fatalf("not parsed: %s", tc.line)
		}
		if !e.IsFailure() {
			t.Errorf("%s: not a 502/504 (kind %s, status %d)", tc.want, e.Kind, e.Status)
		}
		if got := LineCause(&e); got != tc.want {
			t.Errorf("LineCause(%s, %s) = %q, want %q", e.Kind, e.TargetKind, got, tc.want)
		}
	}
}
