package logscan

import (
	"encoding/binary"
	"math/bits"
	"unsafe"
)

// indexByteShort is strings.IndexByte for the short values of nginx's
// context fields (a client address, a server name, a request line): it
// tests 8 bytes at a time inline, where the vector search's call and setup
// cost more than the search itself on a few dozen bytes.
func indexByteShort(s string, c byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	pattern := ones * uint64(c)
	p := unsafe.Pointer(unsafe.StringData(s))
	i := 0
	for ; i+8 <= len(s); i += 8 {
		v := binary.LittleEndian.Uint64((*[8]byte)(unsafe.Add(p, i))[:]) ^ pattern
		// A zero byte in v is a match; the lowest one is exact (borrows
		// only disturb the bytes above it).
		if t := (v - ones) &^ v & highs; t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
	}
	for ; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// indexCommaSpace is strings.Index(s, ", ") for short values.
func indexCommaSpace(s string) int {
	for from := 0; ; {
		j := indexByteShort(s[from:], ',')
		if j < 0 {
			return -1
		}
		j += from
		if j+1 < len(s) && s[j+1] == ' ' {
			return j
		}
		from = j + 1
	}
}
