package probe

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fpmdoctor/fpmdoctor/internal/fastcgi"
	"github.com/fpmdoctor/fpmdoctor/internal/host"
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
// fpmdoctor (host.Users) answers.
func LookupUser(name string) (*Credentials, error) {
	users, err := host.New("").Users()
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
func CredentialsOf(user string, c host.Cred) *Credentials {
	cr := &Credentials{User: user, UID: uint32(c.UID), GID: uint32(c.GID)}
	for _, g := range c.Groups {
		cr.Groups = append(cr.Groups, uint32(g))
	}
	return cr
}

// The connect helper is this same binary re-executed with helperEnv set to
// the socket path. It runs as the target user, does nothing but connect(),
// and hands the connected descriptor back over a socketpair (SCM_RIGHTS),
// so the FastCGI exchange, with all its deadlines, stays in the parent.
const (
	helperEnv        = "FPMDOCTOR_CONNECT_HELPER"
	helperTimeoutEnv = "FPMDOCTOR_CONNECT_HELPER_TIMEOUT_MS"
	helperFD         = 3 // the first of exec.Cmd.ExtraFiles
	helperExitTimer  = 7
)

// MaybeRunConnectHelper must be called first thing in main. When the
// process was started as the connect helper it does the helper's work and
// exits the process (it never returns in that case); otherwise it returns
// false at once and the program goes on:
//
//	func main() {
//		if probe.MaybeRunConnectHelper() {
//			return
//		}
//		…
//	}
//
// Test binaries that probe with Credentials call it from TestMain.
func MaybeRunConnectHelper() bool {
	path, ok := os.LookupEnv(helperEnv)
	if !ok {
		return false
	}
	os.Exit(runConnectHelper(path))
	return true
}

func runConnectHelper(path string) int {
	timeout := 2 * time.Second
	if ms, err := strconv.Atoi(os.Getenv(helperTimeoutEnv)); err == nil && ms > 0 {
		timeout = time.Duration(ms) * time.Millisecond
	}
	// A hard stop of its own, in case the parent is gone and nobody kills us.
	time.AfterFunc(timeout, func() { os.Exit(helperExitTimer) })

	var st unix.Stat_t
	if err := unix.Fstat(helperFD, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		fmt.Fprintln(os.Stderr, "fpmdoctor connect helper: fd 3 is not the parent's socket")
		return 2
	}
	// Non-blocking like nginx: a full backlog is EAGAIN at once, not a wait.
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fpmdoctor connect helper: socket:", err)
		return 2
	}
	var errno syscall.Errno
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		if !errors.As(err, &errno) {
			errno = syscall.EINVAL
		}
	}
	msg := binary.BigEndian.AppendUint32(nil, uint32(errno))
	var rights []byte
	if errno == 0 {
		rights = unix.UnixRights(fd)
	}
	if err := unix.Sendmsg(helperFD, msg, rights, nil, 0); err != nil {
		fmt.Fprintln(os.Stderr, "fpmdoctor connect helper: sendmsg:", err)
		return 2
	}
	return 0
}

// HelperError is a failure of the credential-dropping helper itself (it
// could not start, or died), as opposed to the connect it was asked to do.
type HelperError struct{ Err error }

func (e *HelperError) Error() string { return "connect helper: " + e.Err.Error() }
func (e *HelperError) Unwrap() error { return e.Err }

// dialAs returns a fastcgi.DialFunc that connects to a unix socket as cred,
// through the helper. A connect failure comes back as *fastcgi.ConnectError
// carrying the helper's errno; a helper failure as *HelperError.
func dialAs(cred *Credentials) fastcgi.DialFunc {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		if network != "unix" {
			return nil, fmt.Errorf("connect as %s: only unix sockets have permissions, not %s", cred.User, network)
		}
		return connectAs(ctx, cred, address)
	}
}

func connectAs(ctx context.Context, cred *Credentials, path string) (net.Conn, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(fastcgi.DefaultTimeout)
	}
	limit := time.Until(deadline)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &HelperError{fmt.Errorf("socketpair: %w", err)}
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "helper-parent"), os.NewFile(uintptr(fds[1]), "helper-child")
	defer ours.Close()

	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	// argv[0] "fpmdoctor": under testscript (cmd/fpmdoctor tests) the test
	// binary dispatches on it, and an unknown name would run the whole suite.
	cmd.Args = []string{"fpmdoctor"}
	cmd.Env = []string{
		helperEnv + "=" + path,
		helperTimeoutEnv + "=" + strconv.FormatInt(max(time.Until(deadline).Milliseconds(), 1), 10),
	}
	cmd.ExtraFiles = []*os.File{theirs}
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: cred.UID, Gid: cred.GID, Groups: cred.Groups},
		Pdeathsig:  syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		theirs.Close()
		return nil, &HelperError{fmt.Errorf("start as %s: %w", cred.User, err)}
	}
	theirs.Close()
	defer cmd.Wait() //nolint:errcheck // the message, not the exit status, is the result

	c, err := net.FileConn(ours)
	if err != nil {
		return nil, &HelperError{fmt.Errorf("socketpair conn: %w", err)}
	}
	defer c.Close()
	uc := c.(*net.UnixConn)
	_ = uc.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = uc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	msg := make([]byte, 4)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := uc.ReadMsgUnix(msg, oob)
	if err != nil || n != 4 {
		if ctx.Err() != nil || isTimeout(err) {
			return nil, &fastcgi.TimeoutError{Phase: fastcgi.PhaseConnect, Limit: limit, Err: errors.Join(err, ctx.Err())}
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, &HelperError{fmt.Errorf("no answer from the helper running as %s (%v, exit %v): %s",
			cred.User, err, cmd.ProcessState, bytes.TrimSpace(stderr.Bytes()))}
	}
	if errno := syscall.Errno(binary.BigEndian.Uint32(msg)); errno != 0 {
		opErr := &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: os.NewSyscallError("connect", errno)}
		return nil, &fastcgi.ConnectError{Network: "unix", Address: path, Errno: errno, Err: opErr}
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(cmsgs) != 1 {
		return nil, &HelperError{fmt.Errorf("helper sent no descriptor: %v", err)}
	}
	got, err := unix.ParseUnixRights(&cmsgs[0])
	if err != nil || len(got) != 1 {
		return nil, &HelperError{fmt.Errorf("helper sent no descriptor: %v", err)}
	}
	f := os.NewFile(uintptr(got[0]), "fastcgi")
	defer f.Close() // FileConn dups it
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, &HelperError{fmt.Errorf("descriptor from helper: %w", err)}
	}
	return conn, nil
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// limitedWriter keeps at most n bytes: a helper's stderr is only for the
// error message.
type limitedWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
