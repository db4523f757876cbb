package ident

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// fakeProc writes a /proc with the given processes: pid -> comm, cmdline
// (NUL-separated as the kernel shows it) and status.
func fakeProc(t *testing.T, procs map[string][3]string) string {
	t.Helper()
	root := t.TempDir()
	for pid, p := range procs {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, name := range []string{"comm", "cmdline", "status"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(p[i]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Not processes: skipped without reading.
	if err := os.WriteFile(filepath.Join(root, "meminfo"), []byte("MemTotal: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func status(uid, gid, groups string) string {
	return "Name:\tnginx\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid + "\nGid:\t" + gid + "\t" + gid + "\t" + gid + "\t" + gid + "\nGroups:\t" + groups + "\n"
}

func TestFindNginxWorker(t *testing.T) {
	root := fakeProc(t, map[string][3]string{
		"1":   {"systemd\n", "/sbin/init\x00", status("0", "0", "")},
		"10":  {"nginx\n", "nginx: master process /usr/sbin/nginx -g daemon on;\x00", status("0", "0", "")},
		"11":  {"nginx\n", "nginx: worker process\x00\x00\x00", status("33", "33", "33 1001")},
		"12":  {"php-fpm8.2\n", "php-fpm: pool www\x00", status("33", "33", "")},
		"13":  {"nginx\n", "nginx: cache manager process\x00", status("33", "33", "")},
		"900": {"bash\n", "nginx: worker process\x00", status("1000", "1000", "")}, // a title is not enough
	})
	pid, c, ok, err := FindNginxWorker(context.Background(), root)
	if err != nil || !ok || pid != 11 || c.UID != 33 || c.GID != 33 || len(c.Groups) != 2 || c.Groups[1] != 1001 {
		t.Fatalf("got pid %d %+v ok=%v err=%v, want worker 11 as 33/33 with groups 33,1001", pid, c, ok, err)
	}

	// Only a master and a worker still running as root (nginx started
	// without `user`, as root): nobody to connect as.
	root = fakeProc(t, map[string][3]string{
		"10": {"nginx\n", "nginx: master process nginx\x00", status("0", "0", "")},
		"11": {"nginx\n", "nginx: worker process\x00", status("0", "0", "")},
	})
	if pid, _, ok, err := FindNginxWorker(context.Background(), root); ok || err != nil {
		t.Fatalf("root-only nginx: got pid %d ok=%v err=%v, want none", pid, ok, err)
	}

	if _, _, _, err := FindNginxWorker(context.Background(), filepath.Join(root, "missing")); err == nil {
		t.Fatal("a missing /proc: want an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := FindNginxWorker(ctx, root); err == nil {
		t.Fatal("a cancelled context: want its error")
	}
}

func TestComm(t *testing.T) {
	root := fakeProc(t, map[string][3]string{"7": {"php-fpm8.2\n", "", ""}})
	if got := Comm(root, "7"); got != "php-fpm8.2" {
		t.Fatalf("Comm = %q", got)
	}
	if got := Comm(root, "8"); got != "" {
		t.Fatalf("Comm of a gone process = %q, want empty", got)
	}
}

// BenchmarkFindNginxWorker scans this host's /proc as `probe --as-user
// auto` does (the cost depends on how many processes precede the first
// nginx worker, or on all of them when none runs).
func BenchmarkFindNginxWorker(b *testing.B) {
	for b.Loop() {
		if _, _, _, err := FindNginxWorker(context.Background(), "/proc"); err != nil {
			b.Fatal(err)
		}
	}
}
