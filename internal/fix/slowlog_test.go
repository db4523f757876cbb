package fix_test

import (
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// TestFixSlowlogDisabledRealServers: a pool without a slowlog keeps nginx
// waiting past its timeout (504); diagnose says how to see which scripts
// hold workers, fix --yes turns the slowlog on with a reload, and the
// next slow request appears in the slowlog and in the next diagnose,
// named down to its function and line.
func TestFixSlowlogDisabledRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Write("www/slowfn.php", "<?php\nfunction wait_for_backend() {\n    usleep(9000000);\n}\nwait_for_backend();\necho \"ok\\n\";\n")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 1s;\n        fastcgi_pass")
	l.Start()
	l.MustStatus("/slowfn.php", 504)
	r, _ := plan(t, l)
	up := finding(t, r, "upstream-timeout")
	if !strings.Contains(up.Fix.Summary, "enable request_slowlog_timeout to see which scripts hold workers") {
		t.Fatalf("upstream-timeout fix: %+v", up.Fix)
	}
	automatic(t, r, "slowlog-disabled")

	mustFix(t, l, "slowlog-disabled")
	slow := l.Path("log/php-fpm-www.slow.log")
	fileHas(t, l, "etc/php/fpm/pool.d/www.conf", "slowlog = "+slow+"\nrequest_slowlog_timeout = 5s")
	// nginx gives up after 1 s; php-fpm's master looks for slow requests
	// about every 1.7 s (a third of the timeout) and traces the request
	// between 5 and 7 s, while it still sleeps.
	l.MustStatus("/slowfn.php", 504)
	l.WaitForLog("log/php-fpm-www.slow.log", "script_filename = "+l.Path("www/slowfn.php"), 1)

	r, _ = plan(t, l)
	for _, f := range r.Findings {
		if f.Cause == "slowlog-disabled" {
			t.Fatalf("slowlog still said to be off: %+v", f)
		}
	}
	up = finding(t, r, "upstream-timeout")
	if up.Slow == nil || up.Slow.Slowlog != slow || len(up.Slow.Frames) == 0 ||
		up.Slow.Frames[0].Function != "usleep" || up.Slow.Frames[0].Caller != "wait_for_backend" || up.Slow.Frames[0].Line != 3 {
		t.Fatalf("slow requests after the fix: %+v", up.Slow)
	}
}

func finding(t *testing.T, r *report.Report, cause string) report.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Cause == cause {
			return f
		}
	}
	t.Fatalf("no %s finding", cause)
	return report.Finding{}
}
