package logscan

import (
	"fmt"
	"testing"
	"time"
)

func TestAggregator(t *testing.T) {
	a := NewAggregator(2)
	ng, _ := scanAll(t, "testdata/nginx_observed.log", Options{Location: time.UTC})
	fpm, _ := scanAll(t, "testdata/php-fpm_observed.log", Options{Location: time.UTC})
	for i := range ng {
		a.Add(&ng[i])
	}
	for i := range fpm {
		a.Add(&fpm[i])
	}
	g, ok := a.Group(GroupKey{Source: SourceNginx, Kind: KindConnectEAGAIN, Target: "/run/php/php8.2-fpm.sock"})
	if !ok || g.Count != 2 || !g.First.Equal(time.Date(2026, 11, 26, 10, 7, 0, 0, time.UTC)) || !g.Last.Equal(g.First) {
		t.Errorf("eagain group: %+v", g)
	}
	if len(g.TopURLs) != 2 || g.TopURLs[0] != (URLCount{"/v1/items", 1}) || g.TopURLs[1] != (URLCount{"/v1/orders", 1}) {
		t.Errorf("top urls: %+v", g.TopURLs)
	}
	g, _ = a.Group(GroupKey{Source: SourceNginx, Kind: KindRecvReset, Target: "/srv/lab/run/www.sock"})
	if g.Count != 2 || !g.First.Before(g.Last) {
		t.Errorf("reset group: %+v", g)
	}
	g, _ = a.Group(GroupKey{Source: SourceFPM, Kind: KindChildExitedSignal, Target: "www"})
	if g.Count != 5 {
		t.Errorf("signal group count %d", g.Count)
	}
	groups := a.Groups()
	if len(groups) == 0 || groups[0].Count < groups[len(groups)-1].Count {
		t.Errorf("groups not sorted: %+v", groups)
	}
	// Timeline: 19:13 holds the lab's 502s (ENOENT, EACCES, refused, EAGAIN, no live...)
	// and the 504 of 19:13:58: ENOENT, EACCES, two refused, EAGAIN, no live, [::1], too big.
	var m1913 *Bucket
	tl := a.Timeline()
	for i := range tl {
		if i > 0 && !tl[i-1].Minute.Before(tl[i].Minute) {
			t.Errorf("timeline not ordered")
		}
		if tl[i].Minute.Equal(time.Date(2026, 11, 26, 19, 13, 0, 0, time.UTC)) {
			m1913 = &tl[i]
		}
	}
	if m1913 == nil || m1913.Nginx502 != 8 || m1913.Nginx504 != 1 || m1913.FPM != 1 {
		t.Errorf("19:13 bucket: %+v", m1913)
	}
}

func TestTopURLsBounded(t *testing.T) {
	a := NewAggregator(3)
	e := Entry{Source: SourceNginx, Kind: KindRecvReset, Target: "x", Status: 502, Time: time.Unix(0, 0)}
	for i := 0; i < 100000; i++ {
		e.Request = fmt.Sprintf("GET /u%d HTTP/1.1", i)
		if i%10 == 0 {
			e.Request = "GET /hot HTTP/1.1"
		}
		a.Add(&e)
	}
	g, _ := a.Group(GroupKey{Source: SourceNginx, Kind: KindRecvReset, Target: "x"})
	if len(a.groups[g.GroupKey].urls.counts) > 24 {
		t.Errorf("url table grew to %d", len(a.groups[g.GroupKey].urls.counts))
	}
	if g.TopURLs[0].URL != "/hot" || g.TopURLs[0].Count < 10000 {
		t.Errorf("hot url lost: %+v", g.TopURLs)
	}
}

func TestCorrelate(t *testing.T) {
	ng, _ := scanAll(t, "testdata/nginx_observed.log", Options{Location: time.UTC})
	fpm, _ := scanAll(t, "testdata/php-fpm_observed.log", Options{Location: time.UTC})
	poolOf := map[string]string{"/srv/lab/run/www.sock": "www", "127.0.0.1:9001": "tcp"}
	var failures, events []Entry
	for _, e := range ng {
		if e.IsFailure() {
			e.Pool = poolOf[e.Target]
			failures = append(failures, e)
		}
	}
	for _, e := range fpm {
		if e.Kind == KindChildExitedSignal {
			events = append(events, e)
		}
	}
	got := Correlate(events, failures, 2*time.Second, nil)
	// 19:14:51 SIGSEGV and SIGKILL in pool www, each near the 19:14:51 reset on www.sock;
	// 19:14:42 SIGTERM twice (two lines) near the 19:14:42 reset.
	if len(got) != 4 {
		for _, c := range got {
			t.Logf("%s %v -> %d", c.Event.Kind, c.Event.Time, c.Count)
		}
		t.Fatalf("got %d correlations, want 4", len(got))
	}
	for _, c := range got {
		if c.Count != 1 || c.Examples[0].Kind != KindRecvReset || c.Examples[0].Pool != "www" {
			t.Errorf("correlation %+v", c)
		}
	}
	if got[0].Event.Signal != 15 || got[2].Event.Signal != 11 {
		t.Errorf("order: %d %d", got[0].Event.Signal, got[2].Event.Signal)
	}
	// A window of zero and another pool find nothing.
	if c := Correlate(events, failures, 0, func(ev, f *Entry) bool { return f.Pool == "tcp" }); len(c) != 0 {
		t.Errorf("unexpected %+v", c)
	}
}

// TestAggregatorConnectTimeoutGroup: nginx's connect timeouts and read
// timeouts on one upstream are two groups: a connect nothing answered is
// another incident than a slow answer, and one group's example would tell
// only the first of them.
func TestAggregatorConnectTimeoutGroup(t *testing.T) {
	a := NewAggregator(2)
	for _, action := range []string{"connecting to upstream", "reading response header from upstream", "connecting to upstream"} {
		e, ok := ParseNginx("2026/12/04 11:31:13 [error] 4689#4689: *4 upstream timed out (110: Connection timed out) while "+action+", client: 127.0.0.1, server: lab.test, request: \"GET /ok.php HTTP/1.1\", upstream: \"fastcgi://10.231.0.2:9000\", host: \"lab.test\"", time.UTC)
		if !ok {
			t.Fatal("not parsed")
		}
		a.Add(&e)
	}
	key := GroupKey{Source: SourceNginx, Kind: KindUpstreamTimeout, Target: "10.231.0.2:9000"}
	read, _ := a.Group(key)
	key.Connect = true
	conn, _ := a.Group(key)
	if read.Count != 1 || read.Example.ConnectTimeout() || conn.Count != 2 || !conn.Example.ConnectTimeout() {
		t.Fatalf("read %+v\nconnect %+v", read, conn)
	}
}
