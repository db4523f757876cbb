package fpmconf

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// genDir, when set, makes TestGenerateHosting write the benchmark
// configuration there: bench/fpm-parse.sh times php-fpm -t on it.
var (
	genDir   = flag.String("gen.dir", "", "write the benchmark configuration into this directory")
	genPools = flag.Int("gen.pools", 5000, "number of pools for -gen.dir")
)

// benchPool is one hosting customer's pool.
const benchPool = `[pool%05d]
user = www-data
group = www-data
listen = /run/fpmbench/$pool.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = ondemand
pm.max_children = 5
pm.process_idle_timeout = 10s
pm.max_requests = 500
request_terminate_timeout = 300
; per-customer PHP settings
php_admin_value[open_basedir] = /var/www/pool%05d:/tmp
php_admin_value[upload_tmp_dir] = /var/www/pool%05d/tmp
php_admin_flag[log_errors] = on
env[HOSTNAME] = $HOSTNAME
`

// writeHosting writes fpm.conf including n pool files below dir.
func writeHosting(tb testing.TB, dir string, n int) string {
	tb.Helper()
	pd := filepath.Join(dir, "pool.d")
	if err := os.MkdirAll(pd, 0o755); err != nil {
		tb.Fatal(err)
	}
	main := filepath.Join(dir, "fpm.conf")
	conf := fmt.Sprintf("[global]\nerror_log = %s/fpm.log\ninclude = %s/*.conf\n", dir, pd)
	if err := os.WriteFile(main, []byte(conf), 0o644); err != nil {
		tb.Fatal(err)
	}
	for i := 0; i < n; i++ {
		body := fmt.Sprintf(benchPool, i, i, i)
		if err := os.WriteFile(filepath.Join(pd, fmt.Sprintf("pool%05d.conf", i)), []byte(body), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return main
}

// TestGenerateHosting writes the benchmark configuration into -gen.dir
// when given (printing its main file); otherwise it checks that a small
// one loads and validates cleanly.
func TestGenerateHosting(t *testing.T) {
	if *genDir != "" {
		dir, err := filepath.Abs(*genDir)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(writeHosting(t, dir, *genPools))
		return
	}
	c, err := Load(context.Background(), writeHosting(t, t.TempDir(), 20), Options{})
	if err != nil || len(c.Pools) != 20 || len(c.Problems) != 0 {
		t.Fatalf("Load: %v, %d pools, %v", err, len(c.Pools), c.Problems)
	}
}

func BenchmarkLoad5000Pools(b *testing.B) {
	main := writeHosting(b, b.TempDir(), 5000)
	b.ReportAllocs()
	for b.Loop() {
		c, err := Load(context.Background(), main, Options{})
		if err != nil || len(c.Pools) != 5000 || len(c.Problems) != 0 {
			b.Fatalf("Load: %v, %d pools, %v", err, len(c.Pools), c.Problems)
		}
	}
}

func BenchmarkValidate5000Pools(b *testing.B) {
	main := writeHosting(b, b.TempDir(), 5000)
	c, err := Load(context.Background(), main, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ps := Validate(c); HasFatal(ps) {
			b.Fatalf("Validate: %v", ps[:1])
		}
	}
}
