// Package netfilter reads the packet filter's rules (nftables, which
// iptables on current distributions is a front end to) over netlink, as
// far as a diagnosis needs them: does a rule end a TCP connection to a
// port, and where is it. It is its own package so that what links
// internal/host (a small probe binary) does not carry netlink.
package netfilter

import (
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// Rule is one nftables rule (or a base chain's policy) as far as a
// diagnosis needs it: where it is, a readable form, and what it matches
// of a TCP connection. iptables on Debian 12 and its kin is the nft
// backend, so its rules are here too.
type Rule struct {
	Family string // "inet", "ip", "ip6", …
	Table  string
	Chain  string
	Hook   string // "input", "output", "prerouting", "forward", "" for a regular chain
	Handle uint64 // 0 for a chain's policy
	// Text is the rule as nft lists it, as far as decoded: "tcp dport 9000 drop".
	Text string
	// Verdict is "drop", "reject", "accept", "jump", "goto", "return" or
	// "" (no verdict: a counter, a log).
	Verdict string
	// JumpTo is the chain a jump or goto continues in (ufw's and
	// Docker's rules live in such chains), "" otherwise.
	JumpTo string
	// Proto is the IP protocol the rule requires (6 for TCP), 0 for any.
	Proto int
	// DPorts are the destination ports it requires; nil for any.
	DPorts []PortRange
	// Other is set when the rule also matches on something this decoder
	// does not weigh (an address, an interface, connection state): it may
	// then spare some connections to the port.
	Other bool
}

// PortRange is an inclusive range of ports.
type PortRange struct{ From, To int }

// Policy reports whether r is a chain's default policy, not a rule.
func (r Rule) Policy() bool { return r.Handle == 0 }

// Where names the rule's place: "table inet filter, chain input (hook input), handle 3".
func (r Rule) Where() string {
	s := fmt.Sprintf("table %s %s, chain %s", r.Family, r.Table, r.Chain)
	if r.Hook != "" {
		s += " (hook " + r.Hook + ")"
	}
	if r.Policy() {
		return s + ", policy"
	}
	return s + ", handle " + strconv.FormatUint(r.Handle, 10)
}

// Blocks reports whether the rule ends a TCP connection to port: it
// drops or rejects, and its protocol and port conditions admit it.
func (r Rule) Blocks(port int) bool {
	if r.Verdict != "drop" && r.Verdict != "reject" {
		return false
	}
	if r.Proto != 0 && r.Proto != unix.IPPROTO_TCP {
		return false
	}
	if r.DPorts == nil {
		return true
	}
	for _, pr := range r.DPorts {
		if port >= pr.From && port <= pr.To {
			return true
		}
	}
	return false
}

// Accepts reports whether the rule lets a TCP connection to port through
// before later rules see it (a port-specific accept).
func (r Rule) Accepts(port int) bool {
	if r.Verdict != "accept" || r.Other || (r.Proto != 0 && r.Proto != unix.IPPROTO_TCP) {
		return false
	}
	if r.DPorts == nil {
		return false // "accept everything else" rules usually carry a state match we cannot weigh
	}
	for _, pr := range r.DPorts {
		if port >= pr.From && port <= pr.To {
			return true
		}
	}
	return false
}

// Read reads the network namespace's nftables ruleset over netlink,
// every table of every family. It needs CAP_NET_ADMIN: without it the
// kernel answers "operation not permitted", returned wrapped.
func Read() ([]Rule, error) { return read() }

func read(opts ...nftables.ConnOption) ([]Rule, error) {
	c, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("open netlink to nftables: %w", err)
	}
	defer c.CloseLasting()
	chains, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	var out []Rule
	sets := map[string][]PortRange{} // table/set name → ports, for anonymous port sets
	setsRead := map[string]bool{}
	for _, ch := range chains {
		fam := familyName(ch.Table.Family)
		hook := hookName(ch)
		tkey := fam + " " + ch.Table.Name
		if !setsRead[tkey] {
			setsRead[tkey] = true
			readPortSets(c, ch.Table, tkey, sets)
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return nil, fmt.Errorf("list rules of table %s chain %s: %w", tkey, ch.Name, err)
		}
		for _, r := range rules {
			fr := decodeRule(r.Exprs, func(name string) ([]PortRange, bool) {
				p, ok := sets[tkey+" "+name]
				return p, ok
			})
			fr.Family, fr.Table, fr.Chain, fr.Hook, fr.Handle = fam, ch.Table.Name, ch.Name, hook, r.Handle
			out = append(out, fr)
		}
		if ch.Policy != nil && hook != "" {
			pol := "accept"
			if *ch.Policy == nftables.ChainPolicyDrop {
				pol = "drop"
			}
			out = append(out, Rule{Family: fam, Table: ch.Table.Name, Chain: ch.Name, Hook: hook, Text: "policy " + pol, Verdict: pol})
		}
	}
	return out, nil
}

// readPortSets reads the sets of a table whose keys are 2 bytes (ports),
// for rules such as "tcp dport { 9000, 9001 } drop".
func readPortSets(c *nftables.Conn, t *nftables.Table, tkey string, into map[string][]PortRange) {
	sets, err := c.GetSets(t)
	if err != nil {
		return
	}
	for _, s := range sets {
		if s.KeyType.Bytes != 2 && s.KeyType != nftables.TypeInetService {
			continue
		}
		els, err := c.GetSetElements(s)
		if err != nil {
			continue
		}
		var ports []PortRange
		// Interval sets list a range as its start and the element after
		// its end (IntervalEnd); elements come in any order.
		var starts, ends []int
		for _, e := range els {
			if len(e.Key) != 2 {
				continue
			}
			p := int(binary.BigEndian.Uint16(e.Key))
			if e.IntervalEnd {
				ends = append(ends, p)
			} else {
				starts = append(starts, p)
			}
		}
		slices.Sort(starts)
		slices.Sort(ends)
		for _, st := range starts {
			to := st
			if s.Interval {
				to = 65535
				for _, en := range ends {
					if en > st {
						to = en - 1
						break
					}
				}
			}
			ports = append(ports, PortRange{st, to})
		}
		into[tkey+" "+s.Name] = ports
	}
}

// decodeRule turns a rule's expressions into the nft text and the match
// it makes. Expressions load a field into a register and compare it; the
// decoder follows the registers for the fields it knows.
func decodeRule(exprs []expr.Any, set func(string) ([]PortRange, bool)) Rule {
	var (
		fr    Rule
		words []string
		regs  = map[uint32]string{} // register → field loaded into it
		// nft prints "tcp dport 9000" for the protocol match and the port
		// match together: the protocol's own words are dropped when a
		// port match follows.
		protoAt = -1
		dport   bool
	)
	for _, e := range exprs {
		switch x := e.(type) {
		case *expr.Meta:
			if !x.SourceRegister {
				regs[x.Register] = metaField(x.Key)
			}
		case *expr.Payload:
			regs[x.DestRegister] = payloadField(x, fr.Proto)
		case *expr.Cmp:
			field := regs[x.Register]
			val := cmpValue(field, x.Data)
			op := cmpOp(x.Op)
			switch {
			case field == "meta l4proto" || field == "ip protocol" || field == "ip6 nexthdr":
				if x.Op == expr.CmpOpEq && len(x.Data) == 1 {
					fr.Proto = int(x.Data[0])
				} else {
					fr.Other = true
				}
				if x.Op == expr.CmpOpEq {
					protoAt = len(words)
				}
			case field == "meta nfproto" && x.Op == expr.CmpOpEq:
				// Implied by the address match that follows in an inet
				// table (nft does not print it either).
				continue
			case strings.HasSuffix(field, " dport") && len(x.Data) == 2:
				dport = true
				p := int(binary.BigEndian.Uint16(x.Data))
				lo, hi := 0, 65535
				switch x.Op {
				case expr.CmpOpEq:
					lo, hi = p, p
				case expr.CmpOpNeq:
					fr.Other = true
				case expr.CmpOpLt:
					hi = p - 1
				case expr.CmpOpLte:
					hi = p
				case expr.CmpOpGt:
					lo = p + 1
				case expr.CmpOpGte:
					lo = p
				}
				if x.Op == expr.CmpOpNeq {
					break
				}
				// nft writes "dport 9005-9010" as two comparisons, >= then <=.
				if len(fr.DPorts) == 1 && len(words) > 0 && strings.HasPrefix(words[len(words)-1], field+" ") && (x.Op == expr.CmpOpLte || x.Op == expr.CmpOpLt) {
					r := PortRange{max(fr.DPorts[0].From, lo), min(fr.DPorts[0].To, hi)}
					fr.DPorts = []PortRange{r}
					words[len(words)-1] = fmt.Sprintf("%s %d-%d", field, r.From, r.To)
					continue
				}
				fr.DPorts = []PortRange{{lo, hi}}
			default:
				fr.Other = true
			}
			if field == "" {
				field = "…"
			}
			words = append(words, strings.TrimSpace(field+" "+op+val))
		case *expr.Range:
			field := regs[x.Register]
			if strings.HasSuffix(field, " dport") && len(x.FromData) == 2 && len(x.ToData) == 2 && x.Op == expr.CmpOpEq {
				from, to := int(binary.BigEndian.Uint16(x.FromData)), int(binary.BigEndian.Uint16(x.ToData))
				fr.DPorts, dport = []PortRange{{from, to}}, true
				words = append(words, fmt.Sprintf("%s %d-%d", field, from, to))
			} else {
				fr.Other = true
				words = append(words, field+" range")
			}
		case *expr.Lookup:
			field := regs[x.SourceRegister]
			ports, ok := set(x.SetName)
			neg := ""
			if x.Invert {
				neg = "!= "
			}
			switch {
			case ok && strings.HasSuffix(field, " dport") && !x.Invert:
				fr.DPorts, dport = ports, true
				words = append(words, field+" "+portSetText(ports))
			case ok && strings.HasSuffix(field, " dport"):
				fr.Other = true
				words = append(words, field+" "+neg+portSetText(ports))
			default:
				fr.Other = true
				words = append(words, strings.TrimSpace(field+" "+neg+"@"+x.SetName))
			}
		case *expr.Counter:
			words = append(words, "counter")
		case *expr.Log:
			words = append(words, "log")
		case *expr.Ct:
			fr.Other = true
			regs[x.Register] = "ct"
		case *expr.Bitwise:
			fr.Other = true
			regs[x.DestRegister] = regs[x.SourceRegister]
		case *expr.Reject:
			fr.Verdict = "reject"
			words = append(words, "reject")
		case *expr.Match:
			// iptables-nft writes what nft has no native form for as
			// xtables matches: -m multiport, -m conntrack, -m comment.
			words = append(words, decodeMatch(x, &fr, &dport)...)
		case *expr.Target:
			// iptables-nft's -j REJECT (and LOG) are xtables targets;
			// -j DROP and -j ACCEPT are native verdicts.
			switch x.Name {
			case "REJECT":
				fr.Verdict = "reject"
				words = append(words, "reject")
			case "LOG":
				words = append(words, "log")
			default:
				fr.Other = true
				words = append(words, x.Name)
			}
		case *expr.Verdict:
			switch x.Kind {
			case expr.VerdictDrop:
				fr.Verdict = "drop"
			case expr.VerdictAccept:
				fr.Verdict = "accept"
			case expr.VerdictJump:
				fr.Verdict = "jump"
			case expr.VerdictGoto:
				fr.Verdict = "goto"
			case expr.VerdictReturn:
				fr.Verdict = "return"
			}
			w := fr.Verdict
			if x.Chain != "" {
				w += " " + x.Chain
				fr.JumpTo = x.Chain
			}
			words = append(words, w)
		default:
			fr.Other = true
		}
	}
	if dport && protoAt >= 0 {
		words = slices.Delete(words, protoAt, protoAt+1)
	}
	fr.Text = strings.Join(words, " ")
	return fr
}

// decodeMatch reads the xtables matches that decide which TCP ports a
// rule of iptables-nft concerns: tcp (--dport, when not written natively)
// and multiport (--dports, as ufw writes port ranges); comment says
// nothing of the packet. Any other match may spare some connections.
func decodeMatch(m *expr.Match, fr *Rule, dport *bool) []string {
	switch info := m.Info.(type) {
	case *xt.Comment:
		return nil
	case *xt.Tcp:
		fr.Proto = unix.IPPROTO_TCP
		if info.SrcPorts != [2]uint16{0, 65535} || info.FlagsMask != 0 || info.Option != 0 {
			fr.Other = true
		}
		if info.DstPorts == [2]uint16{0, 65535} {
			return []string{"-m tcp"}
		}
		*dport = true
		r := PortRange{int(info.DstPorts[0]), int(info.DstPorts[1])}
		text := "tcp dport " + portSetText([]PortRange{r})[2:]
		text = strings.TrimSuffix(text, " }")
		if info.InvFlags&xt.TcpInvDestPorts != 0 {
			fr.Other = true
			return []string{"tcp dport != " + strings.TrimPrefix(text, "tcp dport ")}
		}
		fr.DPorts = []PortRange{r}
		return []string{text}
	case *xt.Unknown:
		if m.Name == "multiport" && m.Rev == 1 {
			if ports, ok := multiportDests(*info); ok {
				fr.DPorts, *dport = ports, true
				return []string{"multiport dports " + portSetText(ports)}
			}
		}
	}
	fr.Other = true
	return []string{"-m " + m.Name}
}

// multiportDests decodes struct xt_multiport_v1 (flags, count, ports[15]
// in host order, pflags[15]: port i starts a range to port i+1, invert)
// when it matches destination ports, not inverted.
func multiportDests(b []byte) ([]PortRange, bool) {
	const maxPorts = 15
	if len(b) < 2+2*maxPorts+maxPorts+1 {
		return nil, false
	}
	flags, count := b[0], int(b[1])
	pflags, invert := b[2+2*maxPorts:2+3*maxPorts], b[2+3*maxPorts]
	if flags != 1 /* XT_MULTIPORT_DESTINATION */ || invert != 0 || count == 0 || count > maxPorts {
		return nil, false
	}
	port := func(i int) int { return int(binary.NativeEndian.Uint16(b[2+2*i:])) }
	var out []PortRange
	for i := 0; i < count; i++ {
		if pflags[i] != 0 && i+1 < count {
			out = append(out, PortRange{port(i), port(i + 1)})
			i++
			continue
		}
		out = append(out, PortRange{port(i), port(i)})
	}
	return out, true
}

func portSetText(ports []PortRange) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = strconv.Itoa(p.From)
		if p.To != p.From {
			parts[i] += "-" + strconv.Itoa(p.To)
		}
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func metaField(k expr.MetaKey) string {
	switch k {
	case expr.MetaKeyL4PROTO:
		return "meta l4proto"
	case expr.MetaKeyIIFNAME:
		return "iifname"
	case expr.MetaKeyOIFNAME:
		return "oifname"
	case expr.MetaKeyNFPROTO:
		return "meta nfproto"
	}
	return "meta"
}

// payloadField names the header field a payload expression loads.
func payloadField(p *expr.Payload, proto int) string {
	switch p.Base {
	case expr.PayloadBaseNetworkHeader:
		switch {
		case p.Offset == 9 && p.Len == 1:
			return "ip protocol"
		case p.Offset == 12 && p.Len == 4:
			return "ip saddr"
		case p.Offset == 16 && p.Len == 4:
			return "ip daddr"
		case p.Offset == 6 && p.Len == 1:
			return "ip6 nexthdr"
		case p.Offset == 8 && p.Len == 16:
			return "ip6 saddr"
		case p.Offset == 24 && p.Len == 16:
			return "ip6 daddr"
		}
		return "network header"
	case expr.PayloadBaseTransportHeader:
		l4 := "th"
		switch proto {
		case unix.IPPROTO_TCP:
			l4 = "tcp"
		case unix.IPPROTO_UDP:
			l4 = "udp"
		}
		switch {
		case p.Offset == 0 && p.Len == 2:
			return l4 + " sport"
		case p.Offset == 2 && p.Len == 2:
			return l4 + " dport"
		}
		return l4 + " header"
	}
	return "payload"
}

func cmpOp(op expr.CmpOp) string {
	switch op {
	case expr.CmpOpNeq:
		return "!= "
	case expr.CmpOpLt:
		return "< "
	case expr.CmpOpLte:
		return "<= "
	case expr.CmpOpGt:
		return "> "
	case expr.CmpOpGte:
		return ">= "
	}
	return ""
}

func cmpValue(field string, b []byte) string {
	switch {
	case strings.HasSuffix(field, "port") && len(b) == 2:
		return strconv.Itoa(int(binary.BigEndian.Uint16(b)))
	case strings.HasSuffix(field, "addr") && (len(b) == 4 || len(b) == 16):
		return net.IP(b).String()
	case field == "iifname" || field == "oifname":
		return strconv.Quote(strings.TrimRight(string(b), "\x00"))
	case (field == "meta l4proto" || field == "ip protocol" || field == "ip6 nexthdr") && len(b) == 1:
		switch b[0] {
		case unix.IPPROTO_TCP:
			return "tcp"
		case unix.IPPROTO_UDP:
			return "udp"
		}
		return strconv.Itoa(int(b[0]))
	}
	return fmt.Sprintf("0x%x", b)
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyARP:
		return "arp"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyNetdev:
		return "netdev"
	}
	return strconv.Itoa(int(f))
}

func hookName(c *nftables.Chain) string {
	if c.Hooknum == nil {
		return ""
	}
	switch *c.Hooknum {
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookInput:
		return "input"
	case *nftables.ChainHookForward:
		return "forward"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	}
	return "hook " + strconv.Itoa(int(*c.Hooknum))
}
