package host

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/prometheus/procfs"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// TestProcReadersMatchProcfs reads this host's /proc with both the readers
// of procread.go and prometheus/procfs, which they replace to keep procfs's
// init out of every fpmdoctor start, and requires the same answers.
func TestProcReadersMatchProcfs(t *testing.T) {
	fs, err := procfs.NewFS("/proc")
	if err != nil {
		lab.Unavailable(t, "no /proc: "+err.Error())
	}
	list, err := pids("/proc")
	if err != nil {
		t.Fatal(err)
	}
	all, err := fs.AllProcs()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 || len(list) < len(all)/2 {
		t.Fatalf("pids: %d, procfs: %d", len(list), len(all))
	}
	st, err := fs.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if boot, err := bootTime("/proc"); err != nil || boot != st.BootTime {
		t.Errorf("bootTime = %d, %v; procfs %d", boot, err, st.BootTime)
	}
	compared := 0
	for _, pid := range append(list, os.Getpid()) {
		p, err := fs.Proc(pid)
		if err != nil {
			continue // gone
		}
		want, werr := p.Stat()
		got, gerr := readProcStat(procPath("/proc", pid, "stat"))
		if werr == nil && gerr == nil && (got.PPID != want.PPID || got.Starttime != want.Starttime) {
			t.Errorf("pid %d stat: %+v, procfs ppid %d starttime %d", pid, got, want.PPID, want.Starttime)
		}
		wargs, werr := p.CmdLine()
		gargs, gerr := nulList(procPath("/proc", pid, "cmdline"))
		if werr == nil && gerr == nil && !slices.Equal(wargs, gargs) {
			t.Errorf("pid %d cmdline %q, procfs %q", pid, gargs, wargs)
		}
		wexe, werr := p.Executable()
		gexe, gerr := executable("/proc", pid)
		if (werr == nil) != (gerr == nil) || wexe != gexe {
			t.Errorf("pid %d exe %q %v, procfs %q %v", pid, gexe, gerr, wexe, werr)
		}
		compared++
	}
	self, _ := fs.Self()
	wenv, err := self.Environ()
	if err != nil {
		t.Fatal(err)
	}
	if genv, err := Environ(os.Getpid()); err != nil || !slices.Equal(genv, wenv) {
		t.Errorf("Environ: %d entries, %v; procfs %d", len(genv), err, len(wenv))
	}
	roll, err := self.ProcSMapsRollup()
	if err != nil {
		t.Fatal(err)
	}
	if m, err := ReadProcMem("/proc", os.Getpid()); err != nil || m.RSS == 0 || m.PSS > m.RSS || roll.Rss == 0 {
		t.Errorf("ReadProcMem = %+v, %v; procfs rss %d", m, err, roll.Rss)
	}
	mi, err := fs.Meminfo()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ReadMemInfo("/proc"); err != nil || got.Total != *mi.MemTotalBytes {
		t.Errorf("ReadMemInfo = %+v, %v; procfs total %d", got, err, *mi.MemTotalBytes)
	}
	nu, err := fs.NetUNIX()
	if err != nil {
		t.Fatal(err)
	}
	socks, err := readNetUnix("/proc")
	if err != nil {
		t.Fatal(err)
	}
	// The table changes between the two reads on a busy host: compare the
	// listening sockets procfs saw that are still there.
	have := map[uint64]unixSocket{}
	for _, s := range socks {
		have[s.Inode] = s
	}
	listening := 0
	for _, r := range nu.Rows {
		if r.Flags&(1<<16) == 0 {
			continue
		}
		listening++
		if s, ok := have[r.Inode]; ok && (s.Path != r.Path || s.Flags != uint64(r.Flags)) {
			t.Errorf("inode %d: %+v, procfs %+v", r.Inode, s, r)
		}
	}
	t.Logf("compared %d processes (of %d), %d listening unix sockets", compared, len(list), listening)
}

// TestProcReadersFixtures: the shapes procfs accepted, from fixture trees.
func TestProcReadersFixtures(t *testing.T) {
	proc := t.TempDir()
	// A command name with spaces and parentheses.
	writeFile(t, filepath.Join(proc, "77/stat"), "77 (php-fpm: pool (x) y) S 12 77 77 0 -1 4194624 1 0 0 0 0 0 0 0 20 0 1 0 4242 1 1 1 1 1\n")
	st, err := readProcStat(filepath.Join(proc, "77/stat"))
	if err != nil || st.PPID != 12 || st.Starttime != 4242 {
		t.Fatalf("readProcStat = %+v, %v", st, err)
	}
	writeFile(t, filepath.Join(proc, "78/stat"), "78 (short) S 1 2\n")
	if _, err := readProcStat(filepath.Join(proc, "78/stat")); err == nil {
		t.Fatal("short stat: no error")
	}
	writeFile(t, filepath.Join(proc, "net/unix"), "Num       RefCount Protocol Flags    Type St Inode Path\n"+
		"0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/php/php8.2-fpm.sock\n"+
		"0000000000000000: 00000003 00000000 00000000 0001 03 23457\n")
	socks, err := readNetUnix(proc)
	want := []unixSocket{{Flags: 1 << 16, Inode: 23456, Path: "/run/php/php8.2-fpm.sock"}, {Inode: 23457}}
	if err != nil || !slices.Equal(socks, want) {
		t.Fatalf("readNetUnix = %+v, %v", socks, err)
	}
	writeFile(t, filepath.Join(proc, "net/unix"), "Num       RefCount Protocol Flags    Type St Inode Path\n0000: 2 0\n")
	if _, err := readNetUnix(proc); err == nil {
		t.Fatal("short net/unix row: no error")
	}
	// No smaps_rollup (Linux < 4.14): the mappings are summed.
	writeFile(t, filepath.Join(proc, "90/smaps"), "00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nRss:                 8 kB\nPss:                 4 kB\nPrivate_Dirty:       4 kB\nVmFlags: rd ex\n"+
		"00600000-00602000 rw-p 00000000 00:00 0\nRss:                 8 kB\nPss:                 8 kB\nPrivate_Clean:       8 kB\nSwap:                4 kB\n")
	m, err := ReadProcMem(proc, 90)
	if err != nil || m.RSS != 16*KiB || m.PSS != 12*KiB || m.Private != 12*KiB || m.Swap != 4*KiB {
		t.Fatalf("ReadProcMem from smaps = %+v, %v", m, err)
	}
	if _, err := ReadProcMem(proc, 91); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing pid: %v, want not-exist", err)
	}
}
