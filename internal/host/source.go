package host

import "net"

// SourceAddress is the address the kernel picks to reach dst, and how that
// is known: the same address for loopback, else (live only) the route's
// source, learnt from a UDP "connect", which sends nothing.
func SourceAddress(h Host, dst net.IP) (net.IP, string) {
	if dst.IsLoopback() {
		return dst, "a loopback connection comes from the address it goes to"
	}
	if !h.Live() {
		return nil, ""
	}
	c, err := net.Dial("udp", net.JoinHostPort(dst.String(), "9"))
	if err != nil {
		return nil, ""
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).IP, "the kernel's route to it"
}
