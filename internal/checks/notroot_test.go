package checks_test

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestNotRootRealServers: the real binary, run as an unprivileged user on
// a live host, does what it can, says what it could not, and still finds a
// real cause. (A 3 a.m. sudo-less run must not crash or guess.)
func TestNotRootRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.MustStartNginx() // php-fpm down: fpm-down must still be found
	l.MustStatus("/ok.php", 502)
	bin := l.Path("fpmdoctor")
	build := exec.Command("go", "build", "-o", bin, "github.com/fpmdoctor/fpmdoctor/cmd/fpmdoctor")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
		bin, "diagnose", "--nginx-conf", l.NginxConf(), "--fpm-conf", l.FPMConf(), "--format", "json")
	out, err := cmd.Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("as nobody: %v (want exit 1)\n%s", err, out)
	}
	var r report.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	finding(t, &r, "fpm-down", report.Error)
	notRoot := false
	for _, s := range r.Skipped {
		notRoot = notRoot || (s.Check == "root" && strings.Contains(s.Reason, "not running as root"))
	}
	if !notRoot {
		t.Fatalf("no not-root note under skipped: %+v", r.Skipped)
	}
}
