package logscan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// unreadableEnv makes the test binary, run again as nobody, scan the log
// it names and print what the scan returned.
const unreadableEnv = "LOGSCAN_UNREADABLE_CHILD"

// TestUnreadableEmptyLog: a log last written before the window is skipped
// unread, as an empty one always is (it keeps the time it was created).
// One this user may not open must still fail the scan with the reason,
// whatever its size and time, so the diagnosis lists it under skipped
// instead of passing it for read and quiet. Readable, the same empty log
// is no error. Root reads any mode, so as root the scans run in a child
// process as nobody.
func TestUnreadableEmptyLog(t *testing.T) {
	if p := os.Getenv(unreadableEnv); p != "" {
		unreadableChild(p)
		return
	}
	old := time.Now().Add(-3 * time.Hour)
	dir := lab.NobodyDir(t)
	for _, c := range []struct {
		name string
		mode fs.FileMode
		want string // in the scans' error, "" for none
	}{
		{"error.log", 0, "permission denied"},
		{"quiet.log", 0o644, ""},
	} {
		p := filepath.Join(dir, c.name)
		lab.WriteQuietLog(t, p, c.mode, old)
		got := scanAsUnprivileged(t, dir, p)
		for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
			if c.want == "" && !strings.HasSuffix(line, ": <nil>") ||
				c.want != "" && (!strings.Contains(line, c.want) || !strings.Contains(line, p)) {
				t.Errorf("%s mode %o, 0 bytes, written %s ago: %s (want %q)", c.name, c.mode, time.Since(old).Round(time.Hour), line, c.want)
			}
		}
	}
}

// scanAsUnprivileged returns unreadableChild's output for path: in this
// process when not root, else from a copy of the test binary run as
// nobody (the build cache is root's alone).
func scanAsUnprivileged(t *testing.T, dir, path string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		return unreadableScans(path)
	}
	out := lab.RunTestAsNobody(t, dir, "TestUnreadableEmptyLog", unreadableEnv+"="+path)
	// The child's own test output follows the scans' lines.
	var keep []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "scan ") {
			keep = append(keep, l)
		}
	}
	if len(keep) != 2 {
		t.Fatalf("as nobody, want two scan lines:\n%s", out)
	}
	return strings.Join(keep, "\n")
}

func unreadableChild(path string) { fmt.Print(unreadableScans(path)) }

// unreadableScans runs both rotated-family scans with a window starting
// an hour ago and says what each returned, one line each.
func unreadableScans(path string) string {
	opt := Options{Window: Window{Since: time.Now().Add(-time.Hour)}}
	_, err := ScanRotated(context.Background(), path, opt, func(*Entry) error { return nil })
	out := fmt.Sprintf("scan %s: %v\n", path, err)
	_, err = ScanSlowlogRotated(context.Background(), path, opt, func(*SlowEntry) error { return nil })
	out += fmt.Sprintf("scan slowlog %s: %v\n", path, err)
	if err != nil && !errors.Is(err, fs.ErrPermission) {
		out += "scan error is not a permission error\n"
	}
	return out
}
