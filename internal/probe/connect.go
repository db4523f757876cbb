package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/fpmdoctor/fpmdoctor/internal/fastcgi"
	"github.com/fpmdoctor/fpmdoctor/internal/ident"
)

// Credentials are the identity to connect with: nginx's worker user, so a
// socket permission problem shows exactly as nginx sees it.
type Credentials struct {
	User   string   `json:"user"`
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups"` // supplementary groups, as initgroups(3) would set them
}

// LookupUser resolves a user name (or numeric uid) to the credentials a
// process switching to it gets: its uid, primary gid and, as initgroups(3)
// sets them, every group listing it. The same user database as the rest of
// fpmdoctor (ident.Users) answers.
func LookupUser(name string) (*Credentials, error) {
	users, err := ident.LoadUsers("/etc/passwd", "/etc/group")
	if err != nil {
		return nil, fmt.Errorf("look up user %q: %w", name, err)
	}
	u, ok := users.Lookup(name)
	if !ok {
		uid, numErr := strconv.Atoi(name)
		if u, ok = users.LookupID(uid); numErr != nil || !ok {
			return nil, fmt.Errorf("look up user %q: no such user in /etc/passwd", name)
		}
	}
	return CredentialsOf(u.Name, users.CredFor(u, u.GID)), nil
}

// CredentialsOf turns a process's credentials into the identity a probe
// connects with.
func CredentialsOf(user string, c ident.Cred) *Credentials {
	cr := &Credentials{User: user, UID: uint32(c.UID), GID: uint32(c.GID)}
	for _, g := range c.Groups {
		cr.Groups = append(cr.Groups, uint32(g))
	}
	return cr
}

// IdentityError is a failure to take or give back the worker user's
// identity for a connect, as opposed to the connect itself failing.
type IdentityError struct{ Err error }

func (e *IdentityError) Error() string { return "connect as another user: " + e.Err.Error() }
func (e *IdentityError) Unwrap() error { return e.Err }

// dialAs returns a fastcgi.DialFunc that connects to a unix socket as cred.
// A connect failure comes back as *fastcgi.ConnectError carrying the
// errno; a failure to switch identity as *IdentityError.
func dialAs(cred *Credentials) fastcgi.DialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if network != "unix" {
			return nil, fmt.Errorf("connect as %s: only unix sockets have permissions, not %s", cred.User, network)
		}
		return connectAs(ctx, cred, address)
	}
}

// connectAs connects to the unix socket at path with cred's filesystem
// identity, as nginx's worker would, and hands back the connection.
//
// The connect runs on an OS thread of its own whose fsuid, fsgid and
// supplementary groups are cred's: Linux keeps those per thread, the raw
// system calls change only the calling thread (glibc's and Go's wrappers
// would change every thread), and the path walk and the socket's
// permission check (mode bits and ACLs along the whole path) use exactly
// them. Leaving root's fsuid also drops CAP_DAC_OVERRIDE for that thread.
// The goroutine keeps the thread locked while it differs; if root's
// identity cannot be put back, it exits still locked, and the Go runtime
// then ends the thread instead of reusing it.
func connectAs(ctx context.Context, cred *Credentials, path string) (net.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err // the client makes it a connect timeout or a cancel
	}
	type result struct {
		fd    int
		errno syscall.Errno
		err   error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		fd, errno, restored, err := connectWithIdentity(cred, path)
		if restored {
			runtime.UnlockOSThread()
		}
		done <- result{fd, errno, err}
	}()
	// The socket is non-blocking like nginx's: the connect answers at once
	// (EAGAIN when the backlog is full), so no deadline is needed here.
	r := <-done
	if r.err != nil {
		return nil, r.err
	}
	if r.errno != 0 {
		opErr := &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: os.NewSyscallError("connect", r.errno)}
		return nil, &fastcgi.ConnectError{Network: "unix", Address: path, Errno: r.errno, Err: opErr}
	}
	f := os.NewFile(uintptr(r.fd), "fastcgi")
	defer f.Close() // FileConn dups it
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", cred.User, err)
	}
	return conn, nil
}

// connectWithIdentity must run on a locked thread. It opens a socket,
// switches the thread's filesystem identity to cred, connects, and puts
// the identity back. restored is false only when the thread could not be
// put back: the caller must then leave it locked.
func connectWithIdentity(cred *Credentials, path string) (fd int, errno syscall.Errno, restored bool, err error) {
	fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, 0, true, fmt.Errorf("socket: %w", err)
	}
	closeFD := func() { unix.Close(fd); fd = -1 }
	uid, gid := fsuid(), fsgid()
	groups, err := unix.Getgroups()
	if err != nil {
		closeFD()
		return -1, 0, true, &IdentityError{fmt.Errorf("read the thread's groups: %w", err)}
	}
	restore := func() bool {
		setfsuid(uid)
		setfsgid(gid)
		return setgroupsThread(groups) == nil && fsuid() == uid && fsgid() == gid
	}
	if err := setgroupsThread(cred.Groups); err != nil {
		closeFD()
		return -1, 0, restore(), &IdentityError{fmt.Errorf("take the groups of %s (fpmdoctor must run as root): %w", cred.User, err)}
	}
	setfsgid(int(cred.GID))
	setfsuid(int(cred.UID))
	if fsuid() != int(cred.UID) || fsgid() != int(cred.GID) {
		closeFD()
		return -1, 0, restore(), &IdentityError{fmt.Errorf("take the identity of %s (uid %d, gid %d): not permitted (fpmdoctor must run as root)", cred.User, cred.UID, cred.GID)}
	}
	if cerr := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); cerr != nil {
		if !errors.As(cerr, &errno) {
			errno = syscall.EINVAL
		}
	}
	if !restore() {
		closeFD()
		return -1, 0, false, &IdentityError{errors.New("could not give back root's identity after the connect")}
	}
	if errno != 0 {
		closeFD()
		return -1, errno, true, nil
	}
	return fd, 0, true, nil
}

// The per-thread identity calls. setfsuid and setfsgid return the previous
// value and never fail visibly; called with -1 they change nothing and
// return the current one.
func setfsuid(id int) int {
	r, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, uintptr(uint32(id)), 0, 0)
	return int(int32(r))
}

func setfsgid(id int) int {
	r, _, _ := unix.RawSyscall(unix.SYS_SETFSGID, uintptr(uint32(id)), 0, 0)
	return int(int32(r))
}

func fsuid() int { return setfsuid(-1) }
func fsgid() int { return setfsgid(-1) }

// setgroupsThread sets the calling thread's supplementary groups only.
func setgroupsThread[T ~int | ~uint32](groups []T) error {
	list := make([]uint32, len(groups))
	for i, g := range groups {
		list[i] = uint32(g)
	}
	var p unsafe.Pointer
	if len(list) > 0 {
		p = unsafe.Pointer(&list[0])
	}
	_, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(list)), uintptr(p), 0)
	runtime.KeepAlive(list)
	if e != 0 {
		return e
	}
	return nil
}
