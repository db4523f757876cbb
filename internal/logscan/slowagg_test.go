package logscan

import (
	"fmt"
	"testing"
	"time"
)

func TestSlowAggregator(t *testing.T) {
	es, _ := readSlow(t, "testdata/slowlog_forms.log", Options{Location: time.UTC})
	a := NewSlowAggregator()
	for i := range es {
		a.Add(es[i].Pool, &es[i])
	}
	s, ok := a.Summary("shop", 3)
	if !ok || s.Count != 5 || s.DumpFailed != 2 {
		t.Fatalf("summary %+v", s)
	}
	if s.Scripts[0] != (SlowCount{"/var/www/shop/cron.php", 3}) || len(s.Scripts) != 2 {
		t.Fatalf("scripts %+v", s.Scripts)
	}
	if w := s.Frames[0].Where(); s.Frames[0].Count != 1 || w == "" {
		t.Fatalf("frames %+v", s.Frames)
	}
	var full SlowFrameCount
	for _, f := range s.Frames {
		if f.Func == "curl_exec" && f.Line == 88 {
			full = f
		}
	}
	if full.Where() != "curl_exec() in fetch() at /var/www/shop/lib/Http.php:88" {
		t.Fatalf("where %q", full.Where())
	}
}

// TestSlowScriptCountsBounded: however many scripts a pool has, the
// counts hold the top n and "other", and nothing is lost.
func TestSlowScriptCountsBounded(t *testing.T) {
	a := NewSlowAggregator()
	total := 0
	for i := range 5000 {
		e := SlowEntry{Time: time.Unix(int64(i), 0), Script: fmt.Sprintf("/w/s%d.php", i%3000), Frames: []Frame{{Func: "f", File: "x", Line: i}}}
		for range 1 + i%3 {
			a.Add("www", &e)
			total++
		}
	}
	m := a.ScriptCounts(5)["www"]
	if len(m) != 6 || m[OtherScript] == 0 {
		t.Fatalf("%d series: %v", len(m), m)
	}
	sum := 0
	for _, v := range m {
		sum += v
	}
	if sum != total {
		t.Fatalf("counted %d of %d", sum, total)
	}
	if s, _ := a.Summary("www", 5); len(s.Frames) != 5 || len(a.pools["www"].frames) > maxSlowKeys {
		t.Fatalf("frames %d kept %d", len(s.Frames), len(a.pools["www"].frames))
	}
}
