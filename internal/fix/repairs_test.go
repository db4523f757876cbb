package fix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// TestReadRepairs: a recorded proof counts only while every file the
// repair wrote holds what it wrote; a file changed or gone voids it; a
// damaged record is an error that names the file, not a panic; the
// record keeps the newest keepRepairs.
func TestReadRepairs(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "site.conf")
	if err := os.WriteFile(conf, []byte("fastcgi_buffer_size 12k;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rs, err := ReadRepairs(dir); err != nil || rs != nil {
		t.Fatalf("no record: %v %v", rs, err)
	}
	rec := snapshot.Repair{Cause: "header-too-big", Pool: "www", At: time.Now(), Proof: "replayed", Files: []snapshot.RepairFile{{Path: conf, SHA256: sum([]byte("fastcgi_buffer_size 12k;\n"))}}}
	gone := rec
	gone.Files = []snapshot.RepairFile{{Path: filepath.Join(dir, "gone.conf"), SHA256: rec.Files[0].SHA256}}
	if err := recordRepairs(dir, []snapshot.Repair{rec, gone}); err != nil {
		t.Fatal(err)
	}
	rs, err := ReadRepairs(dir)
	if err != nil || len(rs) != 1 || rs[0].Pool != "www" {
		t.Fatalf("read: %+v %v", rs, err)
	}
	if err := os.WriteFile(conf, []byte("fastcgi_buffer_size 12288;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rs, err := ReadRepairs(dir); err != nil || len(rs) != 0 {
		t.Fatalf("a changed file still proves: %+v %v", rs, err)
	}

	for range keepRepairs + 5 {
		if err := recordRepairs(dir, []snapshot.Repair{rec}); err != nil {
			t.Fatal(err)
		}
	}
	if all, err := readRepairFile(dir); err != nil || len(all) != keepRepairs {
		t.Fatalf("kept %d: %v", len(all), err)
	}

	if err := os.WriteFile(repairsPath(dir), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRepairs(dir); err == nil || !strings.Contains(err.Error(), "repairs.json is damaged") {
		t.Fatalf("damaged record: %v", err)
	}
}
