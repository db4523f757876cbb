package watch_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/metrics"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/watch"
)

// Short intervals: a lab answers in milliseconds.
const (
	testInterval = 300 * time.Millisecond
	// waitLong bounds every wait for something that must happen; tests
	// never assert durations, they only give up after this.
	waitLong = 60 * time.Second
)

type running struct {
	w    *watch.Watcher
	url  string
	logs *watch.LogBuffer
	stop func()
}

// startWatch runs a watcher on the lab's configs, as
// `fpmdoctor watch --nginx-conf … --fpm-conf …` would, with its HTTP
// endpoints on a test server.
func startWatch(t *testing.T, l *lab.Lab, tweak func(*watch.Options)) *running {
	t.Helper()
	logs := &watch.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := watch.Options{
		Doctor:       doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}, ProbeTimeout: 500 * time.Millisecond},
		Interval:     testInterval,
		Debounce:     50 * time.Millisecond,
		TriggerGap:   100 * time.Millisecond,
		CheckTimeout: 30 * time.Second,
		PoolInterval: 200 * time.Millisecond,
		PoolTimeout:  500 * time.Millisecond,
		PollInterval: 50 * time.Millisecond,
		Logger:       log,
	}
	if tweak != nil {
		tweak(&opts)
	}
	w := watch.New(opts)
	mo := metrics.Options{Logger: log}
	srv := httptest.NewServer(w.Handler(metrics.Handler(metrics.NewRegistry(w, mo), mo)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	r := &running{w: w, url: srv.URL, logs: logs}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(waitLong):
				t.Errorf("watcher did not stop within %s of its context ending", waitLong)
			}
			srv.Close()
		})
	}
	t.Cleanup(func() {
		r.stop()
		if t.Failed() {
			os.WriteFile("/tmp/watchlog-"+strings.ReplaceAll(t.Name(), "/", "_"), []byte(logs.String()), 0o644)
			t.Logf("watcher log:\n%s", tail(logs.String(), 6000))
		}
	})
	return r
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// scrape fetches /metrics in the classic text format with a client
// deadline: a scrape that hangs fails the test.
func (r *running) scrape(t *testing.T) string {
	t.Helper()
	body, err := r.scrapeErr()
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return body
}

func (r *running) scrapeErr() (string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(r.url + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("/metrics: status %d: %s", resp.StatusCode, b)
	}
	return string(b), err
}

// sample is one exposition line.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

func parseSamples(body string) []sample {
	var out []sample
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexByte(line, '{'); i >= 0 {
			s.name = line[:i]
			j := strings.LastIndexByte(line, '}')
			parseLabels(line[i+1:j], s.labels)
			rest = strings.TrimSpace(line[j+1:])
		} else {
			s.name, rest, _ = strings.Cut(line, " ")
		}
		v, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
		s.value, _ = strconv.ParseFloat(v, 64)
		out = append(out, s)
	}
	return out
}

func parseLabels(s string, into map[string]string) {
	for s != "" {
		k, rest, ok := strings.Cut(s, `="`)
		if !ok {
			return
		}
		var val strings.Builder
		i := 0
		for ; i < len(rest); i++ {
			c := rest[i]
			if c == '\\' && i+1 < len(rest) {
				i++
				switch rest[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(rest[i])
				}
				continue
			}
			if c == '"' {
				break
			}
			val.WriteByte(c)
		}
		into[strings.TrimPrefix(k, ",")] = val.String()
		s = strings.TrimPrefix(rest[min(i+1, len(rest)):], ",")
	}
}

// sum adds the values of the name's samples whose labels include want.
func sum(body, name string, want map[string]string) (float64, int) {
	total, n := 0.0, 0
	for _, s := range parseSamples(body) {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
			}
		}
		if match {
			total += s.value
			n++
		}
	}
	return total, n
}

// waitState waits until a published state satisfies cond.
func (r *running) waitState(t *testing.T, what string, cond func(*watch.State) bool) *watch.State {
	t.Helper()
	var got *watch.State
	if err := lab.WaitFor(func() bool {
		got = r.w.State()
		return got != nil && cond(got)
	}, waitLong); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return got
}

// afterDiagnoses waits until n diagnoses have been published after the
// state seen now and returns the last one: "within two intervals" without
// timing anything.
func (r *running) afterDiagnoses(t *testing.T, n uint64) *watch.State {
	t.Helper()
	seq := uint64(0)
	if st := r.w.State(); st != nil {
		seq = st.Seq
	}
	return r.waitState(t, fmt.Sprintf("%d more diagnoses", n), func(s *watch.State) bool { return s.Seq >= seq+n })
}

// waitMetric waits until the summed value of name{want} satisfies cond and
// returns the body it was read from.
func (r *running) waitMetric(t *testing.T, name string, want map[string]string, what string, cond func(v float64, n int) bool) string {
	t.Helper()
	var body string
	if err := lab.WaitFor(func() bool {
		b, err := r.scrapeErr()
		if err != nil {
			return false
		}
		body = b
		return cond(sum(b, name, want))
	}, waitLong); err != nil {
		v, n := sum(body, name, want)
		t.Fatalf("%s: %s%v is %v over %d series\n%s", what, name, want, v, n, body)
	}
	return body
}

func hasFinding(st *watch.State, cause string, sev report.Severity) bool {
	for _, f := range st.Report.Findings {
		if f.Cause == cause && f.Severity == sev {
			return true
		}
	}
	return false
}

// statusPool turns on the status page of the lab's www pool.
func statusPool(l *lab.Lab) {
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes", "catch_workers_output = yes\npm.status_path = /status")
}
