package watch

import (
	"strconv"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// The slow-request counter counts each slowlog entry once although every
// diagnosis reads the window again, starts after the entries that predate
// the watcher, tells entries of the same second apart, and keeps at most
// MaxSlowScripts script labels per pool.
func TestSlowCounter(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	entry := func(sec, pid int, off int64, script string) logscan.SlowEntry {
		return logscan.SlowEntry{Time: t0.Add(time.Duration(sec) * time.Second), Pool: "www (/etc/php/8.2/fpm/php-fpm.conf)", PID: pid, File: "/var/log/slow.log", Offset: off, Script: script}
	}
	c := newSlowCounter()
	old := []logscan.SlowEntry{entry(0, 1, 0, "/var/www/a.php"), entry(1, 2, 100, "/var/www/a.php")}
	c.add(old)
	if len(c.counts) != 0 {
		t.Fatalf("entries before the watcher started were counted: %v", c.counts)
	}
	// The next diagnosis reads the window again plus two new entries, one
	// in the same second as the last seen.
	c.add(append(old, entry(1, 3, 200, "/var/www/b.php"), entry(5, 4, 300, "/var/www/a.php")))
	c.add(append(old, entry(1, 3, 200, "/var/www/b.php"), entry(5, 4, 300, "/var/www/a.php")))
	pool := "www (/etc/php/8.2/fpm/php-fpm.conf)"
	if a, b := c.counts[SlowKey{pool, "/var/www/a.php"}], c.counts[SlowKey{pool, "/var/www/b.php"}]; a != 1 || b != 1 {
		t.Fatalf("a.php %d, b.php %d; want 1 each: %v", a, b, c.counts)
	}
	var many []logscan.SlowEntry
	for i := range 3 * MaxSlowScripts {
		many = append(many, entry(10+i, 100+i, int64(1000+i), "/var/www/s"+strconv.Itoa(i)+".php"))
	}
	c.add(many)
	scripts := 0
	for k := range c.counts {
		if k.Script != OtherScript {
			scripts++
		}
	}
	if scripts > MaxSlowScripts || c.counts[SlowKey{pool, OtherScript}] == 0 {
		t.Fatalf("%d script labels (max %d), other %d", scripts, MaxSlowScripts, c.counts[SlowKey{pool, OtherScript}])
	}
}
