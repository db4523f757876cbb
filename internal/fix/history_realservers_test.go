package fix_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// pastStory asserts diagnose tells cause's logged failures as one
// history finding (id, info, "earlier in the window"), with the lines as
// evidence, no error of the cause, and that fix does not list it.
func pastStory(t *testing.T, l *lab.Lab, cause, logText string) report.Finding {
	t.Helper()
	r, p := plan(t, l)
	var past []report.Finding
	for _, f := range r.Findings {
		t.Logf("after: [%s] %s %s: %s", f.ID, f.Severity, f.Title, f.Detail)
		if f.Cause != cause {
			continue
		}
		if f.Severity != report.Info || f.ID != cause+"-past" || !strings.Contains(f.Title, "earlier in the window") {
			t.Fatalf("after the repair [%s] %s: %s", f.ID, f.Severity, f.Title)
		}
		past = append(past, f)
	}
	if len(past) != 1 || past[0].Logs == nil || past[0].Logs.Count == 0 || past[0].Fix != nil {
		t.Fatalf("want one %s-past with its lines and no fix, got %+v", cause, past)
	}
	quoted := false
	for _, e := range past[0].Evidence {
		quoted = quoted || (e.Kind == report.KindLog && strings.Contains(e.Text, logText))
	}
	if !quoted {
		t.Fatalf("%s-past does not quote %q: %+v", cause, logText, past[0].Evidence)
	}
	for _, m := range p.Manual {
		if m.Finding.Cause == cause {
			t.Fatalf("fix lists the history under not fixed automatically: %s", m.Reason)
		}
	}
	return past[0]
}

// TestDiagnoseAfterRequestTimeoutFixRealServers: php-fpm kills a 2 s
// request after 1 s (502); fix raises request_terminate_timeout to 5s
// and reloads php-fpm. A following diagnose tells the kill as history
// (info, not fixed again): php-fpm (re)loaded its config after the last
// kill and now lets requests run 5 s, longer than the killed one ran.
// A new kill after the reload (a 6 s request) is current again.
func TestDiagnoseAfterRequestTimeoutFixRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "catch_workers_output = yes", "catch_workers_output = yes\nrequest_terminate_timeout = 1s")
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_read_timeout 5s;\n        fastcgi_pass")
	l.Start()
	l.MustStatus("/sleep.php?s=2", 502)
	l.WaitForLog("log/php-fpm.log", "execution timed out", 1)
	mustFix(t, l, "request-timeout")
	l.MustStatus("/sleep.php?s=2", 200)

	f := pastStory(t, l, "request-timeout", "execution timed out")
	if !strings.Contains(f.Detail, "request_terminate_timeout") {
		t.Fatalf("detail does not say why it is over: %s", f.Detail)
	}

	// php-fpm kills at 5 s now, when nginx stops waiting too (which of
	// the two answers first is a race): a 6 s request is killed after
	// the reload, so the kills are current again.
	b, err := os.ReadFile(l.Path("log/php-fpm.log"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.GetTimeout("/sleep.php?s=6", 15*time.Second); err != nil {
		t.Fatal(err)
	}
	l.WaitForLog("log/php-fpm.log", "execution timed out", strings.Count(string(b), "execution timed out")+1)
	r, _ := plan(t, l)
	for _, f := range r.Findings {
		if f.Cause == "request-timeout" && strings.HasSuffix(f.ID, "-past") {
			t.Fatalf("a kill after the reload is told as history: %s", f.Title)
		}
	}
}

// TestDiagnoseAfterHeaderTooBigFixRealServers: an 8000-byte header gets a
// 502 from nginx's 4k buffer; fix --yes measures it, raises
// fastcgi_buffer_size to 12k, reloads nginx and replays the logged GET
// (200). nginx never logs a refused header's size, so what makes the old
// line history in a later diagnose is fix's record of that proof (the
// files it wrote unchanged, nginx loaded after it): one
// header-too-big-past, info, not planned again. A 20000-byte header
// refused after the repair is current again. (Not parallel: diagnose reads
// fix's state directory from the environment, as for a user.)
func TestDiagnoseAfterHeaderTooBigFixRealServers(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("FPMDOCTOR_STATE_DIR", dir)
	l := lab.New(t)
	l.Start()
	l.MustStatus("/header.php?n=8000", 502)
	l.WaitForLog("log/nginx-error.log", "too big header", 1)
	opts := options(t)
	opts.StateDir = dir
	p, res := fixLab(t, l, opts)
	if !res.Fixed || len(res.NotVerified) != 0 || len(p.Actions) != 1 || p.Actions[0].Finding.Cause != "header-too-big" {
		t.Fatalf("fixed %v, not verified %q, actions %d", res.Fixed, res.NotVerified, len(p.Actions))
	}
	l.MustStatus("/header.php?n=8000", 200)

	f := pastStory(t, l, "header-too-big", "upstream sent too big header")
	if !strings.Contains(f.Detail, "GET http://lab.test/header.php?n=8000, replayed through nginx after the change") {
		t.Fatalf("detail does not give the proof: %s", f.Detail)
	}

	// The record proves nothing once a file it wrote changes, even to the
	// same value written otherwise: the line then predates a changed
	// config, which cannot be decided. (The file's time must show the
	// change after the line's second.)
	time.Sleep(1100 * time.Millisecond)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_buffer_size 12k;", "fastcgi_buffer_size 12288;")
	l.ReloadNginx()
	r, _ := plan(t, l)
	hb := r.FindingsOf("header-too-big")
	if len(hb) != 1 || hb[0].Severity != report.Warning || !strings.Contains(hb[0].Title, "cannot be told") {
		t.Fatalf("after a hand edit: %+v", hb)
	}

	// A header too big for the new buffer, after the reload: current.
	l.MustStatus("/header.php?n=20000", 502)
	l.WaitForLog("log/nginx-error.log", "too big header", 2) // the user's two: fix sends the logged request only after its change
	r, _ = plan(t, l)
	hb = r.FindingsOf("header-too-big")
	if len(hb) != 1 || hb[0].Severity != report.Error || hb[0].ID != "header-too-big" {
		t.Fatalf("a refusal after the repair: %+v", hb)
	}
}

// TestDiagnoseAfterHeaderTooBigHandRepairRealServers: the same refusal,
// repaired by hand. A reload that changes nothing leaves the refusing
// config running: still an error. A changed config loaded after the last
// line may or may not hold the header (nginx does not log its size): a
// warning that says it cannot be told, never "not present now".
func TestDiagnoseAfterHeaderTooBigHandRepairRealServers(t *testing.T) {
	t.Parallel()
	l := lab.New(t)
	l.Start()
	l.MustStatus("/header.php?n=8000", 502)
	l.WaitForLog("log/nginx-error.log", "too big header", 1)
	l.ReloadNginx()
	r, _ := plan(t, l)
	if hb := r.FindingsOf("header-too-big"); len(hb) != 1 || hb[0].Severity != report.Error {
		t.Fatalf("after a reload without a change: %+v", hb)
	}

	// The file's time must show the change after the line's second.
	time.Sleep(1100 * time.Millisecond)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass", "fastcgi_buffer_size 12k;\n        fastcgi_pass")
	l.ReloadNginx()
	l.MustStatus("/header.php?n=8000", 200)
	r, _ = plan(t, l)
	hb := r.FindingsOf("header-too-big")
	if len(hb) != 1 || hb[0].Severity != report.Warning || hb[0].Logs == nil || hb[0].Logs.Count != 1 || !strings.Contains(hb[0].Title, "cannot be told") {
		t.Fatalf("after a hand repair: %+v", hb)
	}
	for _, e := range hb[0].Evidence {
		t.Logf("evidence: %s %s:%d %s", e.Kind, e.File, e.Line, e.Text)
	}
}
