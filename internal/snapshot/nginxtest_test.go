package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/discover"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// TestNginxTestWritesNothing: nginx -t creates the pid file, temp
// directories and log files when the whole configuration parses. Run by
// fpmdoctor as root, it runs as nobody and creates nothing in root's
// directories, while the same command as root would.
func TestNginxTestWritesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		lab.Unavailable(t, "needs root: the point is what nginx -t as root would write")
	}
	if _, err := os.Stat(lab.NginxBin); err != nil {
		lab.Unavailable(t, "nginx not installed: "+err.Error())
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "nginx.conf")
	body := strings.ReplaceAll("pid @/nginx.pid;\nerror_log @/error.log;\nevents {}\nhttp {\n    access_log @/access.log;\n    client_body_temp_path @/body;\n}\n", "@", dir)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	created := func() []string {
		var out []string
		for _, f := range []string{"nginx.pid", "error.log", "access.log", "body"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				out = append(out, f)
			}
		}
		return out
	}

	ct := nginxTest(context.Background(), &Snapshot{}, &discover.Nginx{Conf: conf, Binary: lab.NginxBin})
	if got := created(); len(got) != 0 {
		t.Fatalf("fpmdoctor's nginx -t created %v:\n%s", got, ct.Output)
	}
	if ct.OK || !strings.Contains(ct.Output, "Permission denied") {
		t.Errorf("nginx -t as nobody: ok %v\n%s", ct.OK, ct.Output)
	}

	// The same test as root writes: what nobody prevents.
	root := runConfigTest(context.Background(), lab.NginxBin, "-t", "-q", "-c", conf)
	if !root.OK || len(created()) == 0 {
		t.Fatalf("nginx -t as root: ok %v, created %v\n%s", root.OK, created(), root.Output)
	}
}
