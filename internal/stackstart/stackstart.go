// Package stackstart gives the main goroutine, once and before any other
// package initialises, a stack big enough for everything fpmdoctor's
// start-up does on it. Import it for its side effect from a main package
// that starts often (fpmdoctor, fpmdoctor-probe).
//
// Why: a goroutine starts with a 2 KB stack, and the main goroutine of
// fpmdoctor-probe outgrows it twice: in the standard library's own
// initialisation (internal/godebug, deep inside sync's HashTrieMap) and in
// the probe (main, the flag parser, the probe, net's dialer). Each growth
// costs a fresh process page faults, about 30 µs each on a VM: the first
// 4 KB and the first 8 KB stack each take a new 32 KB span that the runtime
// writes a free list into (one word per stack, 8 and 4 pages touched), and
// each copy walks every frame's stack map in the binary's tables. One growth
// to 32 KB at the very start, with two or three frames on the stack, is
// allocated whole (no free list to write) and copies almost nothing:
// fpmdoctor-probe 209-210 -> 196-197 faults, fpmdoctor probe 358-361 ->
// 339-341 (docs/probe.md, "Start-up"). The Go runtime has no setting for a
// goroutine's first stack size (adaptivestackstart learns it from garbage
// collections, and a probe exits before its first).
//
// It must import nothing: the Go specification initialises packages in
// import path order as soon as their imports are, so this one, with none,
// runs right after the runtime and before internal/godebug
// (TestStackGrowsFirst in both commands checks it).
package stackstart

func init() { reserve(false) }

// reserve's frame holds a 24 KB array, so calling it makes the runtime
// grow the stack to the next power of two that fits: 32 KB. The array is
// declared in a branch that never runs, so its pages are not zeroed and
// only the few pages actually used later are ever touched; noinline keeps
// the compiler from seeing that the branch is dead.
//
//go:noinline
func reserve(touch bool) {
	if touch {
		var b [24 << 10]byte
		use(b[:])
	}
}

//go:noinline
func use(b []byte) { b[0] = 1 }
