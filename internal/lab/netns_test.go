package lab

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestDialInNetNSLeavesTheProcessAlone: however the runtime schedules the
// dialing goroutines, the process's main thread stays in its namespace,
// so /proc/self/net (what every diagnosis in the test process reads)
// still shows the host's sockets. An earlier version let the main thread
// join the namespace now and then; diagnoses then saw php-fpm's socket
// as stale.
func TestDialInNetNSLeavesTheProcessAlone(t *testing.T) {
	p := NewNetPair(t)
	before, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := DialInNetNS(ctx, p.A, "tcp", "127.0.0.1:1")
		cancel()
		if err == nil {
			c.Close()
			t.Fatal("connected to port 1 of an empty namespace")
		}
		if now, _ := os.Readlink("/proc/self/ns/net"); now != before {
			t.Fatalf("after %d dials the process is in %s, was in %s", i+1, now, before)
		}
	}
}
