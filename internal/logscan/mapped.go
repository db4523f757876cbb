package logscan

import (
	"context"
	"errors"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// mapMinSize: below this, reading costs too little for a mapping to pay.
const mapMinSize = 4 * chunkSize

// errFileChanged is what a fault on the mapping means in practice: the file
// was truncated (logrotate's copytruncate) or its storage failed while it
// was being scanned.
var errFileChanged = errors.New("the file shrank or could not be read while it was being scanned (rotated with copytruncate?)")

// canMap reports whether a plain-file scan may read through a memory
// mapping: only the parallel nginx scan uses one, and only for regular
// files big enough.
func canMap(fi os.FileInfo, start int64, opt Options) bool {
	return parallelNginx(opt) && fi.Mode().IsRegular() && fi.Size()-start >= mapMinSize
}

// scanMapped is the parallel nginx scan of f[start:size] through a
// read-only shared mapping instead of read(2): the kernel no longer copies
// every byte into a buffer (about a tenth less time and CPU for a full
// scan: bench/logscan.sh runs both). Only the
// producer and the workers touch the mapping, with faults turned into
// panics they recover from (debug.SetPanicOnFault), so a file truncated
// under the scan gives an error instead of a crash. Entries are copied
// out of the mapping before they reach the consumer. Pages behind the
// scan are dropped from the mapping (MADV_DONTNEED; they stay in the page
// cache), so the resident size stays a few chunks.
//
// ok is false when the file could not be mapped; the caller then reads it.
func scanMapped(ctx context.Context, f *os.File, size, start int64, name string, opt Options, fn Func, st *Stats) (ok bool, err error) {
	page := int64(os.Getpagesize())
	base := start &^ (page - 1)
	if size-base > int64(^uint(0)>>1) {
		return false, nil
	}
	m, err := unix.Mmap(int(f.Fd()), base, int(size-base), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return false, nil
	}
	defer unix.Munmap(m)
	_ = unix.Madvise(m, unix.MADV_SEQUENTIAL)
	view := m[start-base:]

	texts := make(chan []byte, 16)
	produce := func(ctx context.Context, emit func(*chunk) bool) (err error) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer recoverFault(&err)
		mid := false
		for pos := 0; pos < len(view); {
			end := min(pos+chunkSize, len(view))
			data := view[pos:end]
			populate(m, start-base+int64(pos), start-base+int64(end), page)
			cut, nextMid := len(data), false
			if end < len(view) {
				cut, nextMid = cutAtHead(data)
			}
			var text []byte
			select {
			case text = <-texts:
			default:
			}
			if cap(text) < cut {
				text = make([]byte, 0, max(cut, chunkSize))
			}
			st.BytesRead += int64(cut)
			c := &chunk{data: data[:cut], off: start + int64(pos), midLine: mid, mapped: true, text: text[:0]}
			if !emit(c) {
				return nil
			}
			pos += cut
			mid = nextMid
		}
		return nil
	}
	var dropped int64 // m[:dropped] is unmapped from this process
	release := func(c *chunk) {
		select {
		case texts <- c.text[:0]:
		default:
		}
		dropped = dropBehind(m, dropped, c.off-base+int64(len(c.data)))
	}
	return true, runChunks(ctx, name, start == 0, opt, fn, st, produce, release)
}

// populate maps the pages of m[from:to] in one call (MADV_POPULATE_READ,
// Linux 5.14+) rather than one fault at a time as the scan touches them;
// on older kernels the call fails and the faults happen as before.
func populate(m []byte, from, to, page int64) {
	from &^= page - 1
	if to > from {
		_ = unix.Madvise(m[from:to], unix.MADV_POPULATE_READ)
	}
}

// faultAround covers the kernel's fault-around window (fault_around_bytes,
// 64 KiB by default): a fault maps the cached pages of the aligned window
// around it, not just its own page. A host that raised it keeps a few
// more pages mapped per chunk boundary; the scan stays correct.
const faultAround = 64 << 10

// dropBehind unmaps m[dropped:next] from this process once every chunk
// before next is delivered, so the resident size stays a few chunks
// whatever the file's size; the pages stay in the page cache. It stops at
// the fault-around window of next: the chunk starting there may still be
// scanned, and a fault on its first page maps that whole window again.
// It returns the new low-water mark.
func dropBehind(m []byte, dropped, next int64) int64 {
	to := min(next&^(faultAround-1), int64(len(m)))
	if to <= dropped {
		return dropped
	}
	_ = unix.Madvise(m[dropped:to], unix.MADV_DONTNEED)
	return to
}

// recoverFault turns a memory fault raised under debug.SetPanicOnFault
// into an error; any other panic goes on.
func recoverFault(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if _, ok := r.(interface{ Addr() uintptr }); ok { // a runtime.Error from a fault
		*err = errFileChanged
		return
	}
	panic(r)
}
