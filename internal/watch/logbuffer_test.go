package watch

import (
	"bytes"
	"strings"
	"sync"
)

// LogBuffer collects a watcher's log lines for the tests of this package
// and of watch_test (a _test.go file of package watch is compiled with
// both).
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Count returns how many log lines contain every one of parts.
func (b *LogBuffer) Count(parts ...string) int {
	n := 0
	for line := range strings.SplitSeq(b.String(), "\n") {
		all := line != ""
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}
