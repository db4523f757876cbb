package host

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SocketOwner is a process that holds a socket open: who answers on a port.
type SocketOwner struct {
	PID   int
	PPID  int
	Comm  string // the executable's name, as the kernel keeps it
	Title string // the command line as the process shows it
}

// String describes the owner as a person reads it: "nginx: master process
// /usr/sbin/nginx -c … (pid 1234)".
func (o SocketOwner) String() string {
	// A command line may hold newlines (python3 -c 'import …') and run
	// to kilobytes: one line of at most ownerTitleMax characters, so
	// the report keeps its shape.
	t := strings.Join(strings.Fields(o.Title), " ")
	if t == "" {
		t = o.Comm
	}
	if r := []rune(t); len(r) > ownerTitleMax {
		t = string(r[:ownerTitleMax-1]) + "…"
	}
	return t + " (pid " + strconv.Itoa(o.PID) + ")"
}

// ownerTitleMax is how much of a command line names a process.
const ownerTitleMax = 120

// SocketOwners finds the processes holding each socket inode open, by
// reading every /proc/PID/fd link ("socket:[INODE]"). It is called only
// for the few sockets a diagnosis needs to name (a port that answers but
// not in FastCGI), since a hosting host has many thousands of fds.
// Processes that vanish or hide their fds (not root) are passed over; an
// inode nobody could be seen holding is missing from the result.
func SocketOwners(ctx context.Context, procRoot string, inodes []uint64) map[uint64][]SocketOwner {
	want := make(map[string]uint64, len(inodes))
	for _, ino := range inodes {
		want["socket:["+strconv.FormatUint(ino, 10)+"]"] = ino
	}
	out := map[uint64][]SocketOwner{}
	if len(want) == 0 {
		return out
	}
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return out
	}
	for _, e := range ents {
		if ctx.Err() != nil {
			return out
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		fdDir := filepath.Join(procRoot, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			continue
		}
		var held []uint64
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if ino, ok := want[link]; ok {
				held = append(held, ino)
			}
		}
		if len(held) == 0 {
			continue
		}
		o := describeProcess(procRoot, pid)
		for _, ino := range held {
			if !containsPID(out[ino], pid) {
				out[ino] = append(out[ino], o)
			}
		}
	}
	return out
}

func containsPID(os []SocketOwner, pid int) bool {
	for _, o := range os {
		if o.PID == pid {
			return true
		}
	}
	return false
}

// describeProcess reads a process's name, title and parent.
func describeProcess(procRoot string, pid int) SocketOwner {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	o := SocketOwner{PID: pid}
	if b, err := os.ReadFile(filepath.Join(dir, "comm")); err == nil {
		o.Comm = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		o.Title = strings.TrimSpace(strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " "))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "stat")); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 {
				o.PPID, _ = strconv.Atoi(f[1])
			}
		}
	}
	return o
}

// NetNamespace is the network namespace of a process ("net:[4026531840]"),
// "" when it cannot be read (not root, process gone). Two processes with
// different namespaces do not share 127.0.0.1: a pool listening on
// loopback in a container is out of reach of an nginx outside it.
func NetNamespace(procRoot string, pid int) string {
	link, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(pid), "ns", "net"))
	if err != nil {
		return ""
	}
	return link
}
