package host

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Queue is a listening socket's accept queue as the kernel sees it. The
// php-fpm status page cannot show it for unix sockets (its "listen queue"
// is always 0 there on Linux), and a full queue is what turns a busy pool
// into immediate 502s (EAGAIN on unix sockets).
type Queue struct {
	Network string // "unix" or "tcp"
	Path    string // unix: the bound path
	IP      net.IP // tcp
	Port    int    // tcp
	Inode   uint64
	// Len is the number of connections waiting to be accepted now.
	Len int
	// Backlog is the effective backlog: listen()'s argument capped by
	// net.core.somaxconn when the socket was created.
	Backlog int
}

// Key is "unix:/path" or "ip:port", as Listener.String spells it.
func (q Queue) Key() string {
	if q.Network == "unix" {
		return "unix:" + q.Path
	}
	return net.JoinHostPort(q.IP.String(), strconv.Itoa(q.Port))
}

// Full reports whether the kernel turns the next connection away: it
// admits connections while the queue holds no more than the backlog
// (unix_recvq_full, sk_acceptq_is_full), so a backlog of 5 holds 6.
func (q Queue) Full() bool { return q.Len > q.Backlog }

// ErrSockDiag wraps failures of the netlink sock_diag interface (old
// kernels without it, seccomp filters, EPERM in some sandboxes), so callers
// can list the check as skipped instead of failing.
var ErrSockDiag = errors.New("netlink sock_diag unavailable")

// Kernel constants from linux/sock_diag.h, linux/unix_diag.h and
// linux/inet_diag.h that x/sys/unix does not define.
const (
	udiagShowName  = 0x01
	udiagShowRQLen = 0x10
	unixDiagName   = 0
	unixDiagRQLen  = 4
	tcpListen      = 10 // TCP_LISTEN, also the state of listening unix sockets

	sizeofUnixDiagReq = 24 // family, protocol, pad16, states, ino, show, cookie[2]
	sizeofUnixDiagMsg = 16 // family, type, state, pad, ino, cookie[2]
	sizeofInetDiagReq = 56 // family, protocol, ext, pad, states, sockid(48)
	sizeofInetDiagMsg = 72 // family, state, timer, retrans, sockid(48), expires, rqueue, wqueue, uid, inode
)

// QueueStats reads the accept queue and backlog of every listening unix
// and TCP socket in fpmdoctor's network namespace, keyed by Queue.Key. It
// needs no privileges on current kernels. An error wraps ErrSockDiag.
func QueueStats(ctx context.Context) (map[string]Queue, error) {
	out := map[string]Queue{}
	unixQ, err := dumpUnix(ctx)
	if err != nil {
		return nil, err
	}
	for _, q := range unixQ {
		out[q.Key()] = q
	}
	for _, fam := range []uint8{unix.AF_INET, unix.AF_INET6} {
		qs, err := dumpTCP(ctx, fam)
		if err != nil {
			return nil, err
		}
		for _, q := range qs {
			out[q.Key()] = q
		}
	}
	return out, nil
}

// Somaxconn reads net.core.somaxconn, the cap on every listen() backlog in
// this network namespace, from procRoot ("/proc" on the live host).
func Somaxconn(procRoot string) (int, error) {
	b, err := os.ReadFile(procRoot + "/sys/net/core/somaxconn")
	if err != nil {
		return 0, fmt.Errorf("read somaxconn: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("read somaxconn: %w", err)
	}
	return n, nil
}

func dumpUnix(ctx context.Context) ([]Queue, error) {
	req := make([]byte, sizeofUnixDiagReq)
	req[0] = unix.AF_UNIX
	ne := binary.NativeEndian
	ne.PutUint32(req[4:], 1<<tcpListen)
	ne.PutUint32(req[12:], udiagShowName|udiagShowRQLen)
	var out []Queue
	err := sockDiagDump(ctx, req, func(msg []byte) {
		if len(msg) < sizeofUnixDiagMsg || msg[2] != tcpListen {
			return
		}
		q := Queue{Network: "unix", Inode: uint64(ne.Uint32(msg[4:]))}
		haveLen := false
		for typ, val := range attrs(msg[sizeofUnixDiagMsg:]) {
			switch typ {
			case unixDiagName:
				// Abstract names start with NUL; they are not files.
				q.Path = strings.TrimRight(string(val), "\x00")
				if len(val) > 0 && val[0] == 0 {
					q.Path = "@" + strings.TrimLeft(q.Path, "\x00")
				}
			case unixDiagRQLen:
				if len(val) >= 8 {
					// For a listening socket the kernel reports the
					// accept queue as rqueue and the backlog as wqueue.
					q.Len, q.Backlog = int(ne.Uint32(val)), int(ne.Uint32(val[4:]))
					haveLen = true
				}
			}
		}
		if q.Path != "" && haveLen {
			out = append(out, q)
		}
	})
	return out, err
}

func dumpTCP(ctx context.Context, family uint8) ([]Queue, error) {
	req := make([]byte, sizeofInetDiagReq)
	req[0] = family
	req[1] = unix.IPPROTO_TCP
	binary.NativeEndian.PutUint32(req[4:], 1<<tcpListen)
	var out []Queue
	err := sockDiagDump(ctx, req, func(msg []byte) {
		if len(msg) < sizeofInetDiagMsg || msg[1] != tcpListen {
			return
		}
		// inet_diag_sockid: ports and addresses in network byte order.
		id := msg[4:52]
		port := int(binary.BigEndian.Uint16(id[0:2]))
		var ip net.IP
		if msg[0] == unix.AF_INET {
			ip = net.IP(append([]byte(nil), id[4:8]...))
		} else {
			ip = net.IP(append([]byte(nil), id[4:20]...))
		}
		ne := binary.NativeEndian
		out = append(out, Queue{
			Network: "tcp", IP: ip, Port: port,
			// For LISTEN sockets idiag_rqueue is the accept queue and
			// idiag_wqueue the backlog.
			Len:     int(ne.Uint32(msg[56:])),
			Backlog: int(ne.Uint32(msg[60:])),
			Inode:   uint64(ne.Uint32(msg[68:])),
		})
	})
	return out, err
}

// sockDiagDump sends one SOCK_DIAG_BY_FAMILY dump request and calls fn
// with the payload of every answer until the kernel says it is done.
func sockDiagDump(ctx context.Context, req []byte, fn func(msg []byte)) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return fmt.Errorf("%w: socket: %w", ErrSockDiag, err)
	}
	defer unix.Close(fd)
	// A dump is quick, but never let a wedged kernel interface hang a
	// diagnosis: bound every receive.
	deadline := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = min(deadline, max(time.Until(d), time.Millisecond))
	}
	tv := unix.NsecToTimeval(deadline.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("%w: %w", ErrSockDiag, err)
	}

	const seq = 1
	msg := make([]byte, unix.NLMSG_HDRLEN+len(req))
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(msg[8:], seq)
	copy(msg[unix.NLMSG_HDRLEN:], req)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("%w: send: %w", ErrSockDiag, err)
	}

	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("%w: receive: %w", ErrSockDiag, err)
		}
		b := buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(ne.Uint32(b[0:]))
			typ := ne.Uint16(b[4:])
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return fmt.Errorf("%w: truncated netlink message", ErrSockDiag)
			}
			data := b[unix.NLMSG_HDRLEN:l]
			if ne.Uint32(b[8:]) == seq {
				switch typ {
				case unix.NLMSG_DONE:
					return nil
				case unix.NLMSG_ERROR:
					if len(data) >= 4 {
						if code := int32(ne.Uint32(data)); code != 0 {
							return fmt.Errorf("%w: %w", ErrSockDiag, unix.Errno(-code))
						}
					}
					return nil
				default:
					fn(data)
				}
			}
			adv := (l + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1)
			if adv >= len(b) {
				break
			}
			b = b[adv:]
		}
	}
}

// attrs iterates netlink attributes (struct nlattr: u16 length including
// the 4-byte header, u16 type, value padded to 4 bytes).
func attrs(b []byte) func(yield func(uint16, []byte) bool) {
	return func(yield func(uint16, []byte) bool) {
		for len(b) >= 4 {
			l := int(binary.NativeEndian.Uint16(b))
			typ := binary.NativeEndian.Uint16(b[2:])
			if l < 4 || l > len(b) {
				return
			}
			if !yield(typ&0x3fff, b[4:l]) { // drop NLA_F_NESTED and NLA_F_NET_BYTEORDER
				return
			}
			adv := (l + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
			if adv > len(b) {
				return
			}
			b = b[adv:]
		}
	}
}
