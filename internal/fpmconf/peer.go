package fpmconf

import "net"

// Peer is the client address php-fpm sees for a connection from ip to a
// pool listening on a: a dual-stack listen ([::] or port only) sees IPv4
// clients as IPv4-mapped IPv6 addresses, which is what
// listen.allowed_clients is compared with.
func (a Address) Peer(ip net.IP) net.IP {
	if ip4 := ip.To4(); ip4 != nil && (a.Wildcard || (a.IP != nil && a.IP.To4() == nil)) {
		return ip4.To16()
	}
	return ip
}
