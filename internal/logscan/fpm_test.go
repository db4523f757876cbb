package logscan

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestFPMObservedLines(t *testing.T) {
	got, _ := scanAll(t, "testdata/php-fpm_observed.log", Options{Location: time.UTC, All: true})
	if len(got) != 54 {
		t.Fatalf("got %d entries, want 54", len(got))
	}
	want := map[int]Kind{ // line number -> kind; every other line is KindOther
		1: KindMaxChildren, 2: KindMaxChildren, 3: KindSeemsBusy, 4: KindSeemsBusy, 5: KindMaxChildren,
		6: KindChildExitedSignal, 7: KindChildStarted, 8: KindChildExitedSignal, 9: KindChildExitedSignal,
		10: KindChildExitedCode, 11: KindChildExitedSignal, 12: KindChildExitedCode, 13: KindSlow,
		17: KindExecutionTimedOut, 18: KindChildExitedSignal, 19: KindChildStarted,
		20: KindAddressInUse, 21: KindConfigError, 22: KindAddressInUse, 24: KindAddressInUse, 25: KindBindFailed,
		26: KindConfigError, 27: KindConfigError, 28: KindMultipleAddresses, 29: KindConfigError, 30: KindConfigError,
		31: KindConfigError, 32: KindConfigError, 33: KindStarted, 34: KindReady, 36: KindReloading,
		38: KindInheritedSocket, 39: KindInheritedSocket, 40: KindStopping, 41: KindStopping, 42: KindExiting,
		44: KindMemoryExhausted, 46: KindConnectionDisallowed, 47: KindConfigError,
		49: KindConfigError, 50: KindConfigError, 51: KindConfigError, 52: KindConfigError, 53: KindConfigError, 54: KindConfigError,
	}
	for _, e := range got {
		if e.Kind != want[int(e.Line)] {
			t.Errorf("line %d: kind %q, want %q: %s", e.Line, e.Kind, want[int(e.Line)], e.Raw)
		}
		if e.Time.IsZero() || e.Source != SourceFPM {
			t.Errorf("line %d: time %v source %q", e.Line, e.Time, e.Source)
		}
	}
	byLine := func(n int) Entry { return got[n-1] }
	if e := byLine(1); e.Pool != "www" || e.Limit != 2 || e.Level != "WARNING" || !e.Time.Equal(time.Date(2026, 11, 26, 19, 14, 21, 0, time.UTC)) {
		t.Errorf("max children: %+v", e)
	}
	if e := byLine(2); e.Pool != "lh" || e.Limit != 1 {
		t.Errorf("ondemand max children: %+v", e)
	}
	if e := byLine(3); e.Pool != "busy" || e.Idle != 0 || e.Total != 27 {
		t.Errorf("seems busy: %+v", e)
	}
	if e := byLine(6); e.Child != 26184 || e.Signal != 11 || e.SignalName != "SIGSEGV" || e.Seconds != 3.902029 || e.CoreDumped {
		t.Errorf("signal: %+v", e)
	}
	if e := byLine(11); e.Signal != 11 || e.SignalName != "SIGSEGV" || !e.CoreDumped || e.Seconds != 152.304112 {
		t.Errorf("core dumped: %+v", e)
	}
	if e := byLine(12); e.ExitCode != 70 || e.Child != 4243 {
		t.Errorf("exit code: %+v", e)
	}
	if e := byLine(17); e.Child != 25942 || e.Script != "/srv/lab/www/busy.php" || e.Request != "GET /busy.php?s=8" ||
		e.Seconds != 4.650766 || e.URI() != "/busy.php?s=8" || e.Method() != "GET" {
		t.Errorf("timed out: %+v", e)
	}
	if e := byLine(13); e.Seconds != 2.650556 || e.Script != "/srv/lab/www/busy.php" {
		t.Errorf("slow: %+v", e)
	}
	if e := byLine(20); e.Target != "/srv/lab/run/www.sock" || e.TargetKind != "unix" {
		t.Errorf("another instance: %+v", e)
	}
	if e := byLine(22); e.Errno != 98 || e.Address != "127.0.0.1:9001" || e.Target != "127.0.0.1:9001" || e.ErrText != "Address already in use" {
		t.Errorf("bind: %+v", e)
	}
	if e := byLine(24); e.Target != ":9001" {
		t.Errorf("port-only bind target %q", e.Target)
	}
	if e := byLine(25); e.Errno != 2 || e.Address != "/nonexistent-dir/php.sock" {
		t.Errorf("bind enoent: %+v", e)
	}
	if e := byLine(28); e.Address != "dualstack" {
		t.Errorf("multiple addresses: %+v", e)
	}
	if e := byLine(33); e.PID != 24591 {
		t.Errorf("started pid %d", e.PID)
	}
	if e := byLine(38); e.Target != "/srv/lab/run/www.sock" {
		t.Errorf("inherited: %+v", e)
	}
	if e := byLine(44); e.Pool != "www" || e.Child != 25454 || e.Limit != 16777216 {
		t.Errorf("memory: %+v", e)
	}
	if e := byLine(46); e.Pool != "ac" || e.Address != "127.0.0.1" {
		t.Errorf("disallowed: %+v", e)
	}
}

func TestFPMForms(t *testing.T) {
	got, _ := scanAll(t, "testdata/php-fpm_forms.log", Options{Location: time.UTC})
	want := []struct {
		kind Kind
		pool string
	}{
		{KindMaxChildren, "www"}, {KindChildExitedSignal, "www"}, {KindChildExitedSignal, " www "},
		{KindMemoryExhausted, ""}, {KindConnectionDisallowed, ""}, {KindMemoryExhausted, ""}, {KindPHPFatal, "www"},
		{KindConfigError, "www"}, {KindEmergencyRestart, ""}, {KindProcessMax, "www"}, {KindAddressInUse, ""},
	}
	if len(got) != len(want) {
		for _, e := range got {
			t.Logf("%q %s", e.Kind, e.Raw)
		}
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Kind != w.kind || got[i].Pool != w.pool {
			t.Errorf("entry %d: %q pool %q, want %q %q: %s", i, got[i].Kind, got[i].Pool, w.kind, w.pool, got[i].Raw)
		}
	}
	if e := got[0]; e.Time.Nanosecond() != 123456000 || e.PID != 24591 || e.Limit != 2 {
		t.Errorf("debug form: %v pid %d limit %d", e.Time, e.PID, e.Limit)
	}
	if e := got[1]; e.Level != "DEBUG" || e.Child != 26184 || e.Signal != 11 {
		t.Errorf("debug child exit: %+v", e)
	}
	if e := got[2]; e.SignalName != "SIGABRT" || !e.CoreDumped {
		t.Errorf("abort: %+v", e)
	}
	// Undecorated worker lines have no time: they inherit the previous one.
	if e := got[3]; !e.TimeInherited || !e.Time.Equal(got[2].Time) || e.Limit != 16777216 {
		t.Errorf("inherited time: %+v", e)
	}
	if e := got[4]; e.Address != "10.0.0.7" {
		t.Errorf("raw disallowed: %+v", e)
	}
	if e := got[5]; e.Time.Location() != time.UTC || e.Time.Hour() != 19 || e.TimeInherited {
		t.Errorf("php error_log line: %+v", e)
	}
	if e := got[10]; e.Errno != 98 || e.ErrText != "Address in use" || e.Target != ":9000" {
		t.Errorf("musl bind: %+v", e)
	}
}

func TestKernel(t *testing.T) {
	ref := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	got, _ := scanAll(t, "testdata/kern.log", Options{Location: time.UTC, Now: ref})
	if len(got) != 4 {
		t.Fatalf("got %d entries", len(got))
	}
	kinds := []Kind{KindOOMInfo, KindOOMInfo, KindOOMKilled, KindOOMInfo}
	for i, k := range kinds {
		if got[i].Kind != k || got[i].Source != SourceKernel {
			t.Errorf("entry %d: %q", i, got[i].Kind)
		}
	}
	if e := got[2]; e.PID != 26186 || e.Process != "php-fpm8.2" || e.RSSKiB != 812345 ||
		!e.Time.Equal(time.Date(2026, 11, 26, 19, 14, 50, 0, time.UTC)) {
		t.Errorf("killed: %+v", e)
	}
	if e := got[1]; e.Unit != "php8.2-fpm.service" || e.PID != 26186 || e.Process != "php-fpm8.2" {
		t.Errorf("oom-kill: %+v", e)
	}
	if e := got[0]; e.Process != "php-fpm8.2" {
		t.Errorf("invoked: %+v", e)
	}
	// A December reference puts a "Dec 31" line in the year before... and a January one
	// puts "Nov 26" in the previous year.
	e, ok := ParseKernel("Nov 26 19:14:50 web1 kernel: Out of memory: Killed process 1 (x)", time.UTC, time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC))
	if !ok || e.Time.Year() != 2026 {
		t.Errorf("year rollover: %v", e.Time)
	}

	got, _ = scanAll(t, "testdata/dmesg.txt", Options{Location: time.UTC, Format: FormatKernel})
	if len(got) != 4 || got[0].Kind != KindOOMKilled || !got[0].Time.IsZero() || got[0].PID != 26186 {
		t.Fatalf("dmesg: %+v", got)
	}
	if e := got[1]; e.Kind != KindOOMKilled || e.PID != 4242 || e.Process != "php-fpm" || e.Time.Hour() != 19 {
		t.Errorf("dmesg -T cgroup: %+v", e)
	}
	if got[2].Kind != KindOOMInfo || got[3].Kind != KindOOMKilled || got[3].Process != "php-fpm7.0" || got[3].Time.Nanosecond() == 0 {
		t.Errorf("old kernel pair: %+v %+v", got[2], got[3])
	}
}

func TestJournal(t *testing.T) {
	got, _ := scanAll(t, "testdata/journal.json", Options{Location: time.UTC, Format: FormatJournal})
	want := []struct {
		kind Kind
		src  Source
		unit string
	}{
		{KindMaxChildren, SourceFPM, "php8.2-fpm.service"},
		{KindChildExitedSignal, SourceFPM, "php8.2-fpm.service"},
		{KindReady, SourceFPM, "php8.2-fpm.service"},
		{KindOOMKilled, SourceKernel, ""},
		{KindServiceFailed, SourceSystemd, "php8.2-fpm.service"},
		{KindConfigError, SourceFPM, "php8.2-fpm.service"},
		{KindHostNotFound, SourceNginx, "nginx.service"},
	}
	if len(got) != len(want) {
		for _, e := range got {
			t.Logf("%q %q", e.Kind, e.Raw)
		}
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	base := time.Date(2026, 11, 26, 19, 13, 50, 0, time.UTC)
	for i, w := range want {
		e := got[i]
		if e.Kind != w.kind || e.Source != w.src || e.Unit != w.unit {
			t.Errorf("entry %d: %q %q %q, want %+v", i, e.Kind, e.Source, e.Unit, w)
		}
		if !e.Time.Equal(base.Add(time.Duration(i) * time.Second)) {
			t.Errorf("entry %d: time %v", i, e.Time)
		}
	}
	if got[1].Pool != "www" || got[1].Signal != 11 || got[4].ExitCode != 78 {
		t.Errorf("fields: %+v %+v", got[1], got[4])
	}
	// The writer's pid tells masters sharing a syslog ident apart.
	if got[2].PID != 4242 || got[1].PID != 0 {
		t.Errorf("journal _PID: ready line %d (want 4242), line without _PID %d", got[2].PID, got[1].PID)
	}
	// The window applies to journal time too.
	got, _ = scanAll(t, "testdata/journal.json", Options{Location: time.UTC, Format: FormatJournal,
		Window: Window{Since: base.Add(2 * time.Second), Until: base.Add(4 * time.Second)}})
	if len(got) != 3 {
		t.Errorf("windowed journal: %d entries", len(got))
	}
}

func TestAutoDetect(t *testing.T) {
	for path, want := range map[string]Format{
		"testdata/nginx_observed.log": FormatNginx, "testdata/php-fpm_observed.log": FormatFPM,
		"testdata/journal.json": FormatJournal, "testdata/kern.log": FormatKernel,
	} {
		got, _ := scanAll(t, path, Options{Location: time.UTC})
		if len(got) == 0 {
			t.Errorf("%s: nothing found with auto-detection (want %s)", path, want)
		}
	}
	if f := detectFormatBytes([]byte("\n\nNOTICE: ready to handle connections\n")); f != FormatFPM {
		t.Errorf("detect %v", f)
	}
}

func TestScanReaderStop(t *testing.T) {
	data := bytes.Repeat([]byte("[26-Nov-2026 19:14:21] WARNING: [pool www] server reached pm.max_children setting (2), consider raising it\n"), 10)
	n := 0
	st, err := ScanReader(context.Background(), bytes.NewReader(data), "mem", Options{Location: time.UTC}, func(e *Entry) error {
		n++
		if n == 3 {
			return ErrStop
		}
		return nil
	})
	if err != nil || n != 3 || st.Entries != 3 {
		t.Errorf("stop: err=%v n=%d %+v", err, n, st)
	}
}
