package fpmconf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestReadAheadSameAsSequential loads a pool.d of many files (sections
// carried over and reopened across files, nested includes, a directory,
// a dangling symlink, problems) with and without reading ahead: pools,
// files, settings and problems must come out the same, in the same order.
func TestReadAheadSameAsSequential(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"fpm.conf":                "[global]\nerror_log = " + dir + "/fpm.log\ninclude = " + dir + "/pool.d/*.conf\n",
		"pool.d/dir.conf/x":       "",
		"extra/a.conf":            "[nested]\nuser = www-data\nlisten = /run/$pool.sock\n",
		"extra/b.conf":            "bogus = 1\n",
		"pool.d/p0100.conf":       "include = " + dir + "/extra/*.conf\n",
		"pool.d/p0200.conf":       "[P0001]\nlisten.mode = 0600\n",
		"pool.d/p0201.conf":       "pm.max_children = 7\n", // still in [P0001]
		"pool.d/p0300.conf":       "a = \"unterminated\n",
		"pool.d/p0301.conf":       "include = /nonexistent/*.conf\n",
		"pool.d/zzzz.conf":        "[global]\nlog_level = notice\n",
		"pool.d/p0302.conf.extra": "[ignored]\n",
	}
	for i := 0; i < 300; i++ {
		files[fmt.Sprintf("pool.d/p%04d.conf", i+1000)] = fmt.Sprintf("[p%04d]\nuser = www-data\nlisten = /run/$pool.sock\npm = ondemand\npm.max_children = %d\nphp_admin_value[memory_limit] = 128M\n", i, i%17)
	}
	writeFiles(t, dir, files)
	if err := os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, "pool.d", "p0400.conf")); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []Options{{}, {Root: "/"}} {
		seq, err := loadConfig(context.Background(), filepath.Join(dir, "fpm.conf"), opts, false)
		if err != nil {
			t.Fatal(err)
		}
		par, err := loadConfig(context.Background(), filepath.Join(dir, "fpm.conf"), opts, true)
		if err != nil {
			t.Fatal(err)
		}
		if len(par.Pools) < 300 || len(par.Problems) == 0 {
			t.Fatalf("%d pools, problems %v", len(par.Pools), par.Problems)
		}
		if !reflect.DeepEqual(seq.Files, par.Files) || !reflect.DeepEqual(seq.Problems, par.Problems) ||
			!reflect.DeepEqual(seq.Global.Settings, par.Global.Settings) || len(seq.Pools) != len(par.Pools) {
			t.Fatalf("read ahead differs:\n%v\n%v\n%v\n%v", seq.Files, par.Files, seq.Problems, par.Problems)
		}
		for i := range seq.Pools {
			s, p := seq.Pools[i], par.Pools[i]
			if s.Name != p.Name || s.File != p.File || s.Line != p.Line || !reflect.DeepEqual(s.Reopened, p.Reopened) || !reflect.DeepEqual(s.Settings, p.Settings) {
				t.Fatalf("pool %d differs: %+v\n%+v", i, s, p)
			}
		}
	}
}
