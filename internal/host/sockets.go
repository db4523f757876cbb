package host

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Listener is a listening socket.
type Listener struct {
	Network string // "unix" or "tcp"
	Path    string // unix
	IP      net.IP // tcp; unspecified (0.0.0.0 or ::) for all addresses
	Port    int    // tcp
	Inode   uint64
}

func (l Listener) String() string {
	if l.Network == "unix" {
		return "unix:" + l.Path
	}
	return net.JoinHostPort(l.IP.String(), strconv.Itoa(l.Port))
}

func readListeners(ctx context.Context, procRoot string) ([]Listener, error) {
	if _, err := os.Stat(procRoot); err != nil {
		return nil, fmt.Errorf("read %s: %w", procRoot, err)
	}
	unix, err := readNetUnix(procRoot)
	if err != nil {
		return nil, fmt.Errorf("read %s/net/unix: %w", procRoot, err)
	}
	var out []Listener
	const acceptConn = 1 << 16 // __SO_ACCEPTCON: the socket listens
	for _, l := range unix {
		if l.Flags&acceptConn != 0 && l.Path != "" && !strings.HasPrefix(l.Path, "@") {
			out = append(out, Listener{Network: "unix", Path: l.Path, Inode: l.Inode})
		}
	}
	for _, name := range []string{"tcp", "tcp6"} {
		ls, err := readTCPListeners(filepath.Join(procRoot, "net", name))
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		out = append(out, ls...)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// readTCPListeners parses /proc/net/tcp{,6}, keeping LISTEN (0A) rows.
func readTCPListeners(path string) ([]Listener, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Listener
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		ip, port, err := parseHexAddr(fields[1])
		if err != nil {
			continue
		}
		inode, _ := strconv.ParseUint(fields[9], 10, 64)
		out = append(out, Listener{Network: "tcp", IP: ip, Port: port, Inode: inode})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return out, nil
}

// parseHexAddr decodes "0100007F:1F90": the address is stored as 32-bit
// words in host (little-endian) byte order.
func parseHexAddr(s string) (net.IP, int, error) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return nil, 0, fmt.Errorf("bad address %q", s)
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return nil, 0, fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return nil, 0, fmt.Errorf("bad port in %q", s)
	}
	return net.IP(raw), int(port), nil
}
