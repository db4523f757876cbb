package watch

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// fakeFPM is a FastCGI server on loopback that answers every request
// with body (as a status page would), closes at once (closeEarly), or
// never answers (hang).
type fakeFPM struct {
	ln         net.Listener
	body       []byte
	closeEarly bool
	hang       bool
	mu         sync.Mutex
	conns      []net.Conn
}

func startFake(t *testing.T, f *fakeFPM) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.ln = ln
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			go f.serve(c)
		}
	}()
	return ln.Addr().String()
}

func (f *fakeFPM) serve(c net.Conn) {
	if f.closeEarly {
		c.Close()
		return
	}
	// Read records until the empty STDIN record ends the request.
	var h [8]byte
	for {
		if _, err := io.ReadFull(c, h[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(h[4:6])) + int(h[6])
		if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
			return
		}
		if h[1] == 5 && binary.BigEndian.Uint16(h[4:6]) == 0 { // FCGI_STDIN, empty
			break
		}
	}
	if f.hang {
		return // keep the connection open, answer nothing
	}
	out := append([]byte("Status: 200 OK\r\nContent-Type: text/plain\r\n\r\n"), f.body...)
	for len(out) > 0 {
		n := min(len(out), 65535)
		writeRecord(c, 6, out[:n])
		out = out[n:]
	}
	writeRecord(c, 3, make([]byte, 8)) // FCGI_END_REQUEST, app status 0, request complete
	c.Close()
}

func writeRecord(w io.Writer, typ byte, content []byte) {
	h := []byte{1, typ, 0, 1, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(h[4:6], uint16(len(content)))
	w.Write(h)
	w.Write(content)
}

// TestStatusPageFaults: a status page answering HTML, nothing, 10 MB, or
// never: each pool gets one clear log line (not one per read), the
// others keep being read, reading the pool statuses never waits, and the
// 10 MB answer is read capped.
func TestStatusPageFaults(t *testing.T) {
	good := []byte("pool:                 www\nprocess manager:      dynamic\nstart since:          10\naccepted conn:        3\nlisten queue:         0\nmax listen queue:     0\nlisten queue len:     0\nidle processes:       1\nactive processes:     1\ntotal processes:      2\nmax active processes: 1\nmax children reached: 0\nslow requests:        0\n")
	fakes := map[string]*fakeFPM{
		"good":  {body: good},
		"html":  {body: []byte("<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>")},
		"empty": {closeEarly: true},
		"huge":  {body: bytes.Repeat([]byte("garbage without a colon\n"), (10<<20)/24)},
		"hang":  {hang: true},
	}
	var logs LogBuffer
	w := New(Options{Interval: time.Hour, PoolInterval: 100 * time.Millisecond, PoolTimeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	st := &State{Report: &report.Report{}}
	for name, f := range fakes {
		addr := startFake(t, f)
		st.Pools = append(st.Pools, Pool{ID: name, Name: name, Address: addr, StatusPath: "/status", Running: true, valid: true,
			target: probe.Target{Network: "tcp", Address: addr},
			probe:  probe.Options{StatusPath: "/status", Timeout: 2 * time.Second}})
	}
	w.state.Store(st)
	w.changed <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.poolLoop(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	byName := func() map[string]PoolStatus {
		m := map[string]PoolStatus{}
		for _, ps := range w.PoolStatuses() {
			m[ps.Pool.Name] = ps
		}
		return m
	}
	// Several reads of every pool, the hanging one included.
	if err := lab.WaitFor(func() bool {
		for _, ps := range byName() {
			if ps.Probes.Count < 4 {
				return false
			}
		}
		return true
	}, time.Minute); err != nil {
		t.Fatalf("pools not read 4 times each: %+v", byName())
	}
	got := byName()
	check := func(name string, up bool, verdict probe.Verdict) {
		t.Helper()
		ps := got[name]
		if ps.Up != up || ps.Verdict != verdict {
			t.Errorf("%s: up %v verdict %s (%s: %s), want up %v verdict %s", name, ps.Up, ps.Verdict, ps.Reason, ps.Detail, up, verdict)
		}
	}
	check("good", true, probe.VerdictHealthy)
	check("html", true, probe.VerdictUnhealthy)
	check("empty", false, probe.VerdictFailed)
	check("huge", true, probe.VerdictUnhealthy)
	check("hang", false, probe.VerdictSaturated)
	if got["good"].Status == nil || got["good"].Status.AcceptedConn != 3 {
		t.Errorf("good pool's status not kept: %+v", got["good"].Status)
	}
	for name, reason := range map[string]string{"html": "unexpected-response", "empty": "early-close", "huge": "unexpected-response", "hang": "saturated"} {
		if got[name].Status != nil {
			t.Errorf("%s: a status was made up from a bad answer: %+v", name, got[name].Status)
		}
		if n := logs.Count("pool status read failed", "pool="+name+" ", "reason="+reason); n != 1 {
			t.Errorf("%s: %d log lines, want one\n%s", name, n, logs.String())
		}
	}
	if n := logs.Count("pool status read failed", "pool=good ", "reason=unexpected-response"); n != 0 {
		t.Errorf("good pool logged a failure\n%s", logs.String())
	}
	// Reading the statuses while a read hangs takes no time at all: it is
	// a copy under a short lock (measured, not asserted: timing is noise
	// on a shared machine; the hang lasts 2 s, so a wait would show).
	start := time.Now()
	for range 100 {
		w.PoolStatuses()
	}
	t.Logf("100 PoolStatuses calls during a hanging read: %s", time.Since(start))
	if !strings.Contains(got["huge"].Detail, "status page") {
		t.Errorf("huge: detail %q does not say what is wrong with the page", got["huge"].Detail)
	}
}
