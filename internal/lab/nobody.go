package lab

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RunTestAsNobody runs the test binary again as nobody:nogroup with no
// supplementary groups, for what root cannot show (root opens any mode):
// only the test named test runs, with env added to the environment; it
// returns what the child printed. The binary is copied into dir first,
// which must be searchable by nobody, because the build cache is root's
// alone. Without setpriv (util-linux) the test is unavailable.
func RunTestAsNobody(t testing.TB, dir, test string, env ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("setpriv"); err != nil {
		Unavailable(t, "root, and setpriv (util-linux) is not installed to drop privileges")
	}
	bin := filepath.Join(dir, filepath.Base(os.Args[0])+".nobody")
	if _, err := os.Stat(bin); err != nil {
		copyExecutable(t, bin)
	}
	cmd := exec.Command("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
		bin, "-test.run=^"+test+"$")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as nobody: %v\n%s", test, err, out)
	}
	return out
}

func copyExecutable(t testing.TB, to string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// NobodyDir returns a temporary directory that nobody can search (its
// parent too, which testing makes 0700): for RunTestAsNobody's copy of the
// binary and the files the child reads.
func NobodyDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// WriteQuietLog creates path as an empty log with mode, last written at
// mtime: a log nobody wrote to since logrotate made it.
func WriteQuietLog(t testing.TB, path string, mode os.FileMode, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}
