package snapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// unreadableEnv makes the test binary, run again as nobody, gather the
// snapshot of the nginx config it names and print what was skipped.
const unreadableEnv = "SNAPSHOT_UNREADABLE_CHILD"

// TestUnreadableEmptyLogSkipped: nginx's error log empty and unreadable
// to the user fpmdoctor runs as (www-data:adm 0640 on Debian, read without
// CAP_DAC_READ_SEARCH; here mode 0000 read by nobody), last written hours
// ago as an empty log is: the diagnosis lists it under skipped with the
// reason, not among the logs read as if it were quiet. The same empty log
// readable is no skip. Root reads any mode, so as root the gathering runs
// in a child process as nobody.
func TestUnreadableEmptyLogSkipped(t *testing.T) {
	if conf := os.Getenv(unreadableEnv); conf != "" {
		s, err := Gather(context.Background(), Options{NginxConf: conf, NoProbe: true})
		if err != nil {
			fmt.Printf("gather: %v\n", err)
			return
		}
		b, _ := json.Marshal(s.Skipped)
		fmt.Printf("skipped %s\n", b)
		return
	}
	dir := lab.NobodyDir(t)
	old := time.Now().Add(-3 * time.Hour)
	for _, c := range []struct {
		mode       os.FileMode
		unreadable bool
	}{{0, true}, {0o644, false}} {
		logPath := filepath.Join(dir, fmt.Sprintf("error-%o.log", c.mode))
		conf := filepath.Join(dir, fmt.Sprintf("nginx-%o.conf", c.mode))
		if err := os.WriteFile(conf, []byte("error_log "+logPath+";\nevents {}\nhttp {\n    server { location ~ \\.php$ { fastcgi_pass 127.0.0.1:9; } }\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		lab.WriteQuietLog(t, logPath, c.mode, old)
		out := gatherAsNobody(t, dir, conf)
		skipped := strings.Contains(out, "cannot read "+logPath+": permission denied")
		t.Logf("mode %o, 0 bytes, written 3h ago: listed as unreadable: %v", c.mode, skipped)
		if skipped != c.unreadable {
			t.Errorf("mode %o: listed as unreadable under skipped: %v, want %v\n%s", c.mode, skipped, c.unreadable, out)
		}
	}
}

// gatherAsNobody returns the child's skipped line for conf: in this
// process when not root, else from a copy of the test binary run as
// nobody (the build cache is root's alone).
func gatherAsNobody(t *testing.T, dir, conf string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		s, err := Gather(context.Background(), Options{NginxConf: conf, NoProbe: true})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(s.Skipped)
		return "skipped " + string(b)
	}
	out := lab.RunTestAsNobody(t, dir, "TestUnreadableEmptyLogSkipped", unreadableEnv+"="+conf)
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "skipped ") {
			return l
		}
	}
	t.Fatalf("as nobody, no skipped line:\n%s", out)
	return ""
}
