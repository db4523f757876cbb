package snapshot

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// recent keeps exactly the newest keepEntries entries, oldest first, each
// with its own text intact although the scan lends every entry from a
// buffer it reuses.
func TestRecentKeepsNewestWithTheirText(t *testing.T) {
	var log strings.Builder
	total := 2*keepEntries + 7 // the ring wraps
	for i := 0; i < total; i++ {
		fmt.Fprintf(&log, "2026/11/26 10:00:00 [error] 1#1: *%d upstream timed out (110: Connection timed out) while reading response header from upstream, client: 192.0.2.1, server: s, request: \"GET /p%d HTTP/1.1\", upstream: \"fastcgi://unix:/run/php.sock\", host: \"h\"\n", i, i)
	}
	// Lines of no interest after them: the scan reads on, recycling the
	// buffers the kept entries were lent from.
	for i := 0; log.Len() < 24<<20; i++ {
		fmt.Fprintf(&log, "2026/11/26 10:00:01 [error] 1#1: *%d open() \"/var/www/x%d.png\" failed (2: No such file or directory), client: 192.0.2.1, server: s, request: \"GET /x%d.png HTTP/1.1\", host: \"h\"\n", i, i, i)
	}
	var r recent
	opt := logscan.Options{Format: logscan.FormatNginx, Location: time.UTC}
	if _, err := logscan.ScanReader(context.Background(), strings.NewReader(log.String()), "error.log", opt, func(e *logscan.Entry) error {
		r.add(e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := r.list()
	if len(got) != keepEntries {
		t.Fatalf("kept %d, want %d", len(got), keepEntries)
	}
	first := total - keepEntries
	for k, e := range got {
		i := first + k
		if want := fmt.Sprintf("/p%d", i); e.Path() != want || e.Conn != int64(i) || !strings.Contains(e.Raw, fmt.Sprintf("*%d upstream", i)) {
			t.Fatalf("entry %d: path %q conn %d raw %.60q, want %q (oldest first, text intact)", k, e.Path(), e.Conn, e.Raw, want)
		}
	}
}
