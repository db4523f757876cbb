package fpmconf

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"
)

// TestSharedSocketsAllPairs compares sharedSockets with comparing every
// pair of a port's listeners, on spellings that do and do not name the
// same socket.
func TestSharedSocketsAllPairs(t *testing.T) {
	values := []string{
		"9000", "[::]:9000", "0.0.0.0:9000", "127.0.0.1:9000", "[127.0.0.1]:9000", "::ffff:127.0.0.1:9000",
		"localhost:9000", "LOCALHOST:9000", "locaLhost:9000", "\u212Aey:9000", "key:9000", "KEY:9000",
		"[::1]:9000", "0:0::1:9000", "::1:9001", "/run/a.sock", "/run/a.sock", "/run/b.sock", "10.0.0.1:9000",
	}
	var ls []listener
	for i, v := range values {
		s := &Section{Name: fmt.Sprintf("p%d", i), File: "f", Line: i}
		ls = append(ls, listener{pool: s.Name, key: v, sec: s, setting: "listen"})
	}
	v := &validator{c: &Config{}}
	v.sharedSockets(ls)
	var got []string
	for _, p := range v.out {
		got = append(got, p.Pool+": "+p.Message)
	}

	// Reference: every pair of a bucket, in order.
	byKey := map[string][]int{}
	var keys []string
	for i, l := range ls {
		a, _ := ParseListen(l.key)
		k := "unix:" + a.Path
		if a.Network == "tcp" {
			k = "tcp:" + fmt.Sprint(a.Port)
		}
		if byKey[k] == nil {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], i)
	}
	sort.Strings(keys)
	var want []string
	for _, k := range keys {
		b := byKey[k]
		for x := range b {
			for y := x + 1; y < len(b); y++ {
				li, lj := ls[b[x]], ls[b[y]]
				ai, _ := ParseListen(li.key)
				aj, _ := ParseListen(lj.key)
				if li.key != lj.key && ai.SameSocket(aj) {
					want = append(want, fmt.Sprintf("%s: pools '%s' and '%s' listen on the same socket (%s and %s)", lj.pool, li.pool, lj.pool, li.key, lj.key))
				}
			}
		}
	}
	if len(want) < 10 || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// TestSharedSocketsManyAddressesOnePort: thousands of pools on one port
// and distinct addresses must not cost a comparison per pair.
func TestSharedSocketsManyAddressesOnePort(t *testing.T) {
	var ls []listener
	for i := 0; i < 20000; i++ {
		s := &Section{Name: fmt.Sprintf("p%d", i)}
		ls = append(ls, listener{pool: s.Name, key: fmt.Sprintf("10.%d.%d.%d:9000", i>>16, i>>8&255, i&255), sec: s, setting: "listen"})
	}
	start := time.Now()
	v := &validator{c: &Config{}}
	v.sharedSockets(ls)
	if len(v.out) != 0 {
		t.Fatalf("%v", v.out[:1])
	}
	if d := time.Since(start); d > 2*time.Second { // comparing all pairs took ~5 s
		t.Fatalf("took %v", d)
	}
}
