package follow

import (
	"bytes"
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// Wake returns a channel that receives when the log's directory reports a
// change to the path or a sibling (a write, a create, a rename, a delete),
// so that the caller can Poll at once rather than at its next tick.
// Events are coalesced: one receive may stand for many writes. It is a
// hint, an add-on to polling and not a replacement: writes to a deleted
// file, or to a file on a network filesystem, raise no event, so keep
// polling on a ticker. A caller that must bound its CPU use at high log
// rates waits a little after each Poll. The channel is nil (never ready)
// when inotify cannot be used (no more watches, not Linux); Close stops
// the watcher. Calls after the first return the same channel.
func (f *Follower) Wake() <-chan struct{} {
	if f.wakeTried || f.closed {
		return f.wake
	}
	f.wakeTried = true
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	const mask = unix.IN_MODIFY | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
		unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF
	if _, err := unix.InotifyAddWatch(fd, f.dir, mask); err != nil {
		unix.Close(fd)
		return nil
	}
	// Non-blocking, so the runtime's poller waits for it and Close ends a
	// pending Read.
	h := os.NewFile(uintptr(fd), "inotify")
	f.wake = make(chan struct{}, 1)
	f.wakeFile = h
	f.wakeDone = make(chan struct{})
	go f.watch(h, f.wake, f.wakeDone)
	return f.wake
}

func (f *Follower) watch(h *os.File, wake chan<- struct{}, done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, 16*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := h.Read(buf)
		if err != nil {
			return // closed
		}
		if f.relevant(buf[:n]) {
			select {
			case wake <- struct{}{}:
			default: // one pending wake-up is enough
			}
		}
	}
}

// relevant tells whether a batch of events concerns the path, a rotated
// copy of it, or the directory itself (removed, moved, overflowed).
func (f *Follower) relevant(b []byte) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		mask := binary.NativeEndian.Uint32(b[4:8])
		nameLen := int(binary.NativeEndian.Uint32(b[12:16]))
		end := unix.SizeofInotifyEvent + nameLen
		if end > len(b) {
			return true
		}
		name := b[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		if len(name) == 0 || mask&unix.IN_Q_OVERFLOW != 0 || string(name) == f.base || isSibling(f.base, string(name)) {
			return true
		}
		b = b[end:]
	}
	return false
}

// stopWake ends the watcher goroutine and waits for it.
func (f *Follower) stopWake() error {
	if f.wakeFile == nil {
		return nil
	}
	err := f.wakeFile.Close()
	<-f.wakeDone
	f.wakeFile = nil
	return err
}
