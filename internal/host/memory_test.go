package host

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	KiB = 1024
	MiB = 1024 * KiB
)

func TestReadMemInfoFixture(t *testing.T) {
	proc := t.TempDir()
	writeFile(t, filepath.Join(proc, "meminfo"), "MemTotal:        2000000 kB\nMemFree:          100000 kB\nMemAvailable:     750000 kB\nBuffers:           1 kB\n")
	mi, err := ReadMemInfo(proc)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Total != 2000000*KiB || mi.Available != 750000*KiB {
		t.Fatalf("%+v", mi)
	}
	writeFile(t, filepath.Join(proc, "meminfo"), "MemTotal:        2000000 kB\nMemFree:          100000 kB\n")
	if _, err := ReadMemInfo(proc); err == nil {
		t.Fatal("want an error without MemAvailable")
	}
}

func TestReadProcMemFixture(t *testing.T) {
	proc := t.TempDir()
	writeFile(t, filepath.Join(proc, "4242/smaps_rollup"), `55d0c0a00000-7ffd5c3f9000 ---p 00000000 00:00 0                          [rollup]
Rss:               30720 kB
Pss:               12288 kB
Pss_Anon:           8000 kB
Shared_Clean:      16384 kB
Shared_Dirty:       2048 kB
Private_Clean:      1024 kB
Private_Dirty:     11264 kB
Referenced:        30720 kB
Anonymous:          9000 kB
Swap:                512 kB
SwapPss:             512 kB
`)
	m, err := ReadProcMem(proc, 4242)
	if err != nil {
		t.Fatal(err)
	}
	if m.PSS != 12*MiB || m.RSS != 30*MiB || m.Private != 12*MiB || m.Swap != 512*KiB || m.PID != 4242 {
		t.Fatalf("%+v", m)
	}
	writeFile(t, filepath.Join(proc, "4243/smaps_rollup"), "0-0 ---p 00000000 00:00 0 [rollup]\n")
	if _, err := ReadProcMem(proc, 4243); !errors.Is(err, os.ErrPermission) {
		t.Fatalf("empty rollup: %v, want ErrPermission", err)
	}
}

func TestReadCgroupMemoryV2(t *testing.T) {
	proc, cg := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(proc, "100/cgroup"), "0::/system.slice/php8.2-fpm.service\n")
	// The slice limits to 1 GiB, the unit to 2 GiB: the slice binds.
	writeFile(t, filepath.Join(cg, "system.slice/memory.max"), "1073741824\n")
	writeFile(t, filepath.Join(cg, "system.slice/memory.current"), "900000000\n")
	svc := filepath.Join(cg, "system.slice/php8.2-fpm.service")
	writeFile(t, filepath.Join(svc, "memory.max"), "2147483648\n")
	writeFile(t, filepath.Join(svc, "memory.current"), "300000000\n")
	writeFile(t, filepath.Join(svc, "memory.events"), "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n")
	m, err := ReadCgroupMemory(proc, cg, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := CgroupMemory{Version: 2, Path: "/system.slice/php8.2-fpm.service", Limit: 1 << 30,
		LimitFile: filepath.Join(cg, "system.slice/memory.max"), Current: 900000000,
		CurrentFile: filepath.Join(cg, "system.slice/memory.current"), OOMKills: 2}
	if m != want {
		t.Fatalf("got  %+v\nwant %+v", m, want)
	}

	// No limit anywhere: "max" reads as none, usage is the process's own.
	writeFile(t, filepath.Join(cg, "system.slice/memory.max"), "max\n")
	writeFile(t, filepath.Join(svc, "memory.max"), "max\n")
	m, err = ReadCgroupMemory(proc, cg, 100)
	if err != nil || m.Limit != 0 || m.Current != 300000000 {
		t.Fatalf("%+v %v", m, err)
	}

	// A container with its own cgroup namespace sees "0::/" and its
	// limit at the mount's root.
	writeFile(t, filepath.Join(proc, "7/cgroup"), "0::/\n")
	writeFile(t, filepath.Join(cg, "memory.max"), "536870912\n")
	writeFile(t, filepath.Join(cg, "memory.current"), "100\n")
	m, err = ReadCgroupMemory(proc, cg, 7)
	if err != nil || m.Limit != 512<<20 || m.Current != 100 || m.OOMKills != -1 {
		t.Fatalf("container: %+v %v", m, err)
	}
}

func TestReadCgroupMemoryV1(t *testing.T) {
	proc, cg := t.TempDir(), t.TempDir()
	writeFile(t, filepath.Join(proc, "5/cgroup"), "4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
	d := filepath.Join(cg, "memory/docker/abc")
	writeFile(t, filepath.Join(cg, "memory/memory.limit_in_bytes"), "9223372036854771712\n")
	writeFile(t, filepath.Join(d, "memory.limit_in_bytes"), "268435456\n")
	writeFile(t, filepath.Join(d, "memory.usage_in_bytes"), "200000000\n")
	writeFile(t, filepath.Join(d, "memory.oom_control"), "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n")
	m, err := ReadCgroupMemory(proc, cg, 5)
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || m.Limit != 256<<20 || m.Current != 200000000 || m.OOMKills != 4 {
		t.Fatalf("%+v", m)
	}
	// The host's path is not in a container's own mount: read its root,
	// whose near-2^63 limit means none.
	writeFile(t, filepath.Join(cg, "memory/memory.usage_in_bytes"), "300000000\n")
	writeFile(t, filepath.Join(proc, "6/cgroup"), "4:memory:/kubepods/pod1/c1\n")
	m, err = ReadCgroupMemory(proc, cg, 6)
	if err != nil || m.Limit != 0 || m.Current != 300000000 || m.CurrentFile != filepath.Join(cg, "memory/memory.usage_in_bytes") {
		t.Fatalf("unlimited root: %+v %v", m, err)
	}
}

// TestMemoryLive reads this test process's own facts.
func TestMemoryLive(t *testing.T) {
	mi, err := ReadMemInfo(ProcRoot)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Total == 0 || mi.Available == 0 || mi.Available > mi.Total {
		t.Fatalf("meminfo %+v", mi)
	}
	pm, err := ReadProcMem(ProcRoot, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if pm.PSS == 0 || pm.PSS > pm.RSS {
		t.Fatalf("own memory %+v: want 0 < PSS <= RSS", pm)
	}
	cg, err := ReadCgroupMemory(ProcRoot, CgroupRoot, os.Getpid())
	if err != nil {
		lab.Unavailable(t, "no memory cgroup readable here: "+err.Error())
	}
	t.Logf("meminfo %+v; self PSS %d RSS %d; cgroup %+v", mi, pm.PSS, pm.RSS, cg)
	if cg.Version != 1 && cg.Version != 2 {
		t.Fatalf("cgroup %+v", cg)
	}
}
