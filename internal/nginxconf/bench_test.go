package nginxconf

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// benchConfig returns the generated 5,000-site configuration: the one named
// by NGINXCONF_BENCH_CONF (bench/nginx-parse.sh generates it once and times
// nginx -t on the same files), or a fresh one.
func benchConfig(b testing.TB) string {
	if main := os.Getenv("NGINXCONF_BENCH_CONF"); main != "" {
		return main
	}
	return writeHosting(b, b.TempDir(), 5000)
}

// BenchmarkLoad5000 measures Load + Model on 5,000 server blocks split over
// 5,000 included files, each including Debian's fastcgi snippet.
func BenchmarkLoad5000(b *testing.B) {
	main := benchConfig(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		c, err := Load(ctx, main, Options{})
		if err != nil {
			b.Fatal(err)
		}
		m := c.Model()
		if len(m.Servers) != 5000 || len(m.FastCGIPasses) != 5000 || len(c.Problems)+len(m.Problems) != 0 {
			b.Fatalf("%d servers, %d passes, problems %v %v", len(m.Servers), len(m.FastCGIPasses), c.Problems, m.Problems)
		}
	}
}

// TestBenchOnce is for bench/nginx-parse.sh: one cold Load + Model in a fresh
// process, printing wall time and peak RSS (VmHWM) like /usr/bin/time
// does for nginx -t.
func TestBenchOnce(t *testing.T) {
	main := os.Getenv("NGINXCONF_BENCH_CONF")
	if main == "" {
		t.Skip("NGINXCONF_BENCH_CONF not set")
	}
	start := time.Now()
	c, err := Load(context.Background(), main, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Model()
	elapsed := time.Since(start)
	status, _ := os.ReadFile("/proc/self/status")
	hwm := ""
	for _, line := range strings.Split(string(status), "\n") {
		if len(line) > 6 && line[:6] == "VmHWM:" {
			hwm = line[6:]
		}
	}
	fmt.Printf("fpmdoctor Load+Model: %d files, %d servers, %d fastcgi_pass: %v, peak RSS%s\n",
		len(c.Files), len(m.Servers), len(m.FastCGIPasses), elapsed.Round(time.Millisecond), hwm)
}
