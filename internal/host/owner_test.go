package host

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
)

// TestSocketOwnersFindsThisProcess: a listener opened here is found,
// through its inode in /proc/net/tcp and the fd link, as held by this
// process.
func TestSocketOwnersFindsThisProcess(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	ls, err := readListeners(context.Background(), "/proc")
	if err != nil {
		t.Fatal(err)
	}
	var inode uint64
	for _, l := range ls {
		if l.Network == "tcp" && l.Port == port {
			inode = l.Inode
		}
	}
	if inode == 0 {
		t.Fatalf("port %d not among the listeners", port)
	}
	owners := SocketOwners(context.Background(), "/proc", []uint64{inode, 1})
	got := owners[inode]
	if len(got) != 1 || got[0].PID != os.Getpid() || got[0].PPID != os.Getppid() || got[0].Comm == "" {
		t.Fatalf("owners of inode %d: %+v, want this process %d", inode, got, os.Getpid())
	}
	if !strings.Contains(got[0].String(), "(pid ") {
		t.Fatalf("String() = %q", got[0].String())
	}
	if _, ok := owners[1]; ok {
		t.Fatal("an inode nobody holds has owners")
	}
	if ns := NetNamespace("/proc", os.Getpid()); !strings.HasPrefix(ns, "net:[") {
		t.Fatalf("NetNamespace = %q", ns)
	}
}

// TestSocketOwnerStringOneLine: a command line with newlines (python3 -c
// with a script) or kilobytes long names its process on one short line.
func TestSocketOwnerStringOneLine(t *testing.T) {
	o := SocketOwner{PID: 42, Comm: "python3", Title: "python3 -c \nimport socket\n\ts=socket.socket()\n"}
	if got, want := o.String(), "python3 -c import socket s=socket.socket() (pid 42)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	o.Title = strings.Repeat("x ", 500)
	if got := o.String(); strings.Contains(got, "\n") || len([]rune(got)) > ownerTitleMax+len(" (pid 42)") || !strings.HasSuffix(got, "… (pid 42)") {
		t.Errorf("long title: %q", got)
	}
	o.Title = " \n "
	if got := o.String(); got != "python3 (pid 42)" {
		t.Errorf("blank title: %q", got)
	}
}
