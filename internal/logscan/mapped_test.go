package logscan

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dropBehind unmaps everything behind the scan up to the fault-around
// window of the next chunk, and nothing after it: what it leaves mapped
// is all a long scan keeps resident.
func TestDropBehind(t *testing.T) {
	page := int64(os.Getpagesize())
	size := int64(1 << 20)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	if err := unix.Madvise(m, unix.MADV_POPULATE_READ); err != nil {
		t.Skipf("MADV_POPULATE_READ: %v", err)
	}
	next := 200*page + 123 // a chunk boundary inside a page
	dropped := dropBehind(m, 0, next)
	if want := next &^ (faultAround - 1); dropped != want {
		t.Fatalf("low-water mark %d, want %d", dropped, want)
	}
	for off := int64(0); off < size; off += page {
		if got, want := mapped(t, m, off), off >= dropped; got != want {
			t.Fatalf("page at %d: mapped %v, want %v (dropped up to %d)", off, got, want, dropped)
		}
	}
	if again := dropBehind(m, dropped, next+10); again != dropped {
		t.Fatalf("a boundary in the same window moved the mark to %d", again)
	}
}

// mapped reports whether the page of m at off is in this process's page
// table (/proc/self/pagemap bit 63).
func mapped(t *testing.T, m []byte, off int64) bool {
	t.Helper()
	pm, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Skipf("no pagemap: %v", err)
	}
	defer pm.Close()
	addr := uintptr(unsafe.Pointer(&m[off]))
	var b [8]byte
	if _, err := pm.ReadAt(b[:], int64(addr/uintptr(os.Getpagesize()))*8); err != nil {
		t.Skipf("pagemap: %v", err)
	}
	return binary.LittleEndian.Uint64(b[:])>>63 == 1
}
