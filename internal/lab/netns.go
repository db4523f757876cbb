package lab

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// NetPair is two network namespaces of the test's own joined by a veth
// pair: two "hosts" or containers, each with its own loopback, ports and
// packet filter, as nginx and php-fpm have in docker-compose or on two
// machines. Addresses come from a private range and exist only inside the
// pair; nothing is routed to or from the host's own network.
//
// Each namespace has its own hosts file (/etc/netns/NAME/hosts, which
// `ip netns exec` mounts over /etc/hosts for what it runs), so service
// names resolve without DNS.
type NetPair struct {
	A, B           string // namespace names
	AddrA, AddrB   net.IP
	Addr6A, Addr6B net.IP // unique local IPv6 addresses
	t              testing.TB
}

// Addresses of the pair, inside its namespaces only.
var (
	PairAddrA  = net.ParseIP("10.231.0.1")
	PairAddrB  = net.ParseIP("10.231.0.2")
	PairAddr6A = net.ParseIP("fd31:231::1")
	PairAddr6B = net.ParseIP("fd31:231::2")
)

var pairSeq atomic.Int64

// NewNetPair creates the two namespaces and the link between them. They
// are removed when the test ends, also when it fails half-way: cleanup is
// registered before anything is created. Register it before the labs
// that run inside (cleanups run last-in first-out, so the servers stop
// first).
func NewNetPair(t testing.TB) *NetPair {
	t.Helper()
	Require(t)
	if _, err := exec.LookPath("ip"); err != nil {
		Unavailable(t, "the ip command is not installed (apt-get install iproute2)")
	}
	n := pairSeq.Add(1)
	p := &NetPair{
		A:      fmt.Sprintf("fpmd%d-%d-a", os.Getpid(), n),
		B:      fmt.Sprintf("fpmd%d-%d-b", os.Getpid(), n),
		AddrA:  PairAddrA,
		AddrB:  PairAddrB,
		Addr6A: PairAddr6A,
		Addr6B: PairAddr6B,
		t:      t,
	}
	t.Cleanup(func() {
		for _, ns := range []string{p.A, p.B} {
			_ = exec.Command("ip", "netns", "delete", ns).Run()
			_ = os.RemoveAll(filepath.Join("/etc/netns", ns))
		}
	})
	for _, ns := range []string{p.A, p.B} {
		if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
			Unavailable(t, fmt.Sprintf("cannot create a network namespace: %v: %s", err, out))
		}
	}
	// The veth ends are made inside the namespaces, so their names never
	// meet another test's in the host's namespace.
	p.ip("-n", p.A, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", p.B)
	for _, side := range []struct {
		ns          string
		addr, addr6 net.IP
	}{{p.A, p.AddrA, p.Addr6A}, {p.B, p.AddrB, p.Addr6B}} {
		p.ip("-n", side.ns, "addr", "add", side.addr.String()+"/24", "dev", "eth0")
		// nodad: usable at once, not after duplicate address detection.
		p.ip("-n", side.ns, "addr", "add", side.addr6.String()+"/64", "dev", "eth0", "nodad")
		p.ip("-n", side.ns, "link", "set", "eth0", "up")
		p.ip("-n", side.ns, "link", "set", "lo", "up")
	}
	p.Hosts(p.A, "")
	p.Hosts(p.B, "")
	return p
}

func (p *NetPair) ip(args ...string) {
	p.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		p.t.Fatalf("lab: ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// Hosts writes the hosts file of namespace ns: localhost plus extra
// lines ("10.231.0.2 php").
func (p *NetPair) Hosts(ns, extra string) {
	p.t.Helper()
	dir := filepath.Join("/etc/netns", ns)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatalf("lab: %v", err)
	}
	body := "127.0.0.1 localhost\n::1 localhost ip6-localhost\n" + extra
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(body), 0o644); err != nil {
		p.t.Fatalf("lab: %v", err)
	}
}

// Exec runs a command inside namespace ns (with its hosts file) and
// returns its combined output.
func (p *NetPair) Exec(ns string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...).CombinedOutput()
	return string(out), err
}

// Nft loads an nftables ruleset into namespace ns (nft -f -).
func (p *NetPair) Nft(ns, ruleset string) {
	p.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		p.t.Fatalf("lab: nft in %s: %v: %s", ns, err, out)
	}
}

// InNetNS makes the lab run its servers inside network namespace ns, and
// reach nginx there for its requests. Call it before starting anything.
func (l *Lab) InNetNS(ns string) { l.netns = ns }

// NetNS is the namespace the lab's servers run in, "" for the host's.
func (l *Lab) NetNS() string { return l.netns }

// command builds the command that runs a server: inside the lab's
// namespace when it has one.
func (l *Lab) command(ctx context.Context, bin string, args ...string) *exec.Cmd {
	if l.netns == "" {
		return exec.CommandContext(ctx, bin, args...)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.netns, bin}, args...)...)
}

// dial connects from the lab's namespace, so the test reaches nginx on
// that namespace's own loopback.
func (l *Lab) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if l.netns == "" {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	return DialInNetNS(ctx, l.netns, network, addr)
}

// DialInNetNS connects to addr from inside network namespace ns (see
// RunInNetNS). The connection keeps its namespace for life.
func DialInNetNS(ctx context.Context, ns, network, addr string) (net.Conn, error) {
	var c net.Conn
	err := RunInNetNS(ns, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, network, addr)
		return err
	})
	return c, err
}

// RunInNetNS runs fn on an OS thread that joined network namespace ns:
// the sockets fn makes belong to ns for life (a listener there, a
// connection from there). The thread is never handed back to the Go
// runtime (the goroutine ends locked, so the runtime ends the thread),
// so no other goroutine ever runs in ns.
//
// The thread must not be the process's main thread: /proc/self/net (the
// listening sockets every diagnosis in this process reads) shows the
// namespace of the main thread, and the runtime never ends that thread.
// So a goroutine that finds itself on the main thread keeps it locked and
// hands the work to another goroutine, which then cannot land there.
func RunInNetNS(ns string, fn func() error) error {
	done := make(chan error, 1)
	var run func()
	run = func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			inner := make(chan struct{})
			go func() { run(); close(inner) }()
			<-inner
			runtime.UnlockOSThread()
			return
		}
		f, err := os.Open(filepath.Join("/run/netns", ns))
		if err != nil {
			done <- fmt.Errorf("open network namespace %s: %w", ns, err)
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			done <- fmt.Errorf("enter network namespace %s: %w", ns, err)
			return
		}
		done <- fn()
	}
	go run()
	return <-done
}

// Resolv writes the resolver config of namespace ns
// (/etc/netns/NAME/resolv.conf, mounted over /etc/resolv.conf by ip netns
// exec), so names go to a DNS server of the test's own inside the pair.
func (p *NetPair) Resolv(ns, content string) {
	p.t.Helper()
	if err := os.WriteFile(filepath.Join("/etc/netns", ns, "resolv.conf"), []byte(content), 0o644); err != nil {
		p.t.Fatalf("lab: %v", err)
	}
}
