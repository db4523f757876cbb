package netfilter

import (
	"testing"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// FuzzDecodeRule: whatever expressions a rule holds (registers, offsets,
// data of any length, in any order), decoding never panics, and a rule
// that blocks a port names a verdict that ends the connection.
func FuzzDecodeRule(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5}, []byte{6}, []byte{0x23, 0x28}, uint32(2), uint32(2), uint8(1))
	f.Add([]byte{5, 4, 3, 2, 1, 0}, []byte{}, []byte{0x23}, uint32(16), uint32(4), uint8(0))
	f.Add([]byte{1, 1, 7, 3, 2}, []byte{17, 0}, []byte{0, 0, 0, 0}, uint32(12), uint32(4), uint8(5))
	// xt_multiport_v1 for --dports 9002,9005:9007 (ports little-endian, as on amd64), then -j REJECT.
	f.Add([]byte{8, 22, 30}, append([]byte{1, 3, 0x2a, 0x23, 0x2d, 0x23, 0x2f, 0x23}, make([]byte, 24+15+1)...), []byte("REJECT"), uint32(9000), uint32(9000), uint8(0))
	f.Fuzz(func(t *testing.T, program, d1, d2 []byte, off, length uint32, op uint8) {
		var exprs []expr.Any
		for i, b := range program {
			reg := uint32(i%3) + 1
			switch b % 8 {
			case 0:
				exprs = append(exprs, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg})
			case 1:
				exprs = append(exprs, &expr.Payload{Base: expr.PayloadBase(b % 3), Offset: off, Len: length, DestRegister: reg})
			case 2:
				exprs = append(exprs, &expr.Cmp{Op: expr.CmpOp(op % 6), Register: reg, Data: d1})
			case 3:
				exprs = append(exprs, &expr.Cmp{Op: expr.CmpOp(op % 6), Register: reg, Data: d2})
			case 4:
				exprs = append(exprs, &expr.Range{Op: expr.CmpOp(op % 2), Register: reg, FromData: d1, ToData: d2})
			case 5:
				exprs = append(exprs, &expr.Lookup{SourceRegister: reg, SetName: string(d1), Invert: op%2 == 1})
			case 6:
				exprs = append(exprs, &expr.Verdict{Kind: expr.VerdictKind(int32(op) - 6)})
			case 7:
				exprs = append(exprs, &expr.Reject{}, &expr.Counter{}, &expr.Bitwise{SourceRegister: reg, DestRegister: reg + 1})
			}
			// iptables-nft's xtables matches and targets: a multiport
			// blob of any length and content, a tcp match, REJECT.
			switch b / 8 % 4 {
			case 1:
				u := xt.Unknown(d1)
				exprs = append(exprs, &expr.Match{Name: "multiport", Rev: 1, Info: &u})
			case 2:
				exprs = append(exprs, &expr.Match{Name: "tcp", Info: &xt.Tcp{DstPorts: [2]uint16{uint16(off), uint16(length)}, InvFlags: xt.TcpInvFlagset(op)}})
			case 3:
				exprs = append(exprs, &expr.Target{Name: string(d2)})
			}
		}
		r := decodeRule(exprs, func(name string) ([]PortRange, bool) {
			if len(name) == 0 {
				return nil, false
			}
			return []PortRange{{int(name[0]), int(name[0]) + 10}}, true
		})
		for _, p := range []int{1, 80, 9000, 65535} {
			if r.Blocks(p) && r.Verdict != "drop" && r.Verdict != "reject" {
				t.Fatalf("%q blocks %d with verdict %q", r.Text, p, r.Verdict)
			}
		}
	})
}
