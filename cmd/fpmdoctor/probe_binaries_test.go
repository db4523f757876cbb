package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/fastcgi"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/probe/probecli"
)

// TestProbeBinariesAgreeRealFPM runs `fpmdoctor probe` and fpmdoctor-probe
// (probecli.Main is its whole main) with the same arguments against a real
// php-fpm: healthy, no socket, saturated. Both must exit with the status of
// docs/probe.md and print the same verdict line.
func TestProbeBinariesAgreeRealFPM(t *testing.T) {
	l := lab.New(t)
	l.Edit("etc/php/fpm/pool.d/www.conf", "pm = dynamic\npm.max_children = 5\npm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 3\n",
		"pm = static\npm.max_children = 1\nping.path = /ping\npm.status_path = /status\n")
	l.MustStartFPM()
	t.Cleanup(l.KillFPM) // the sleeping worker would delay a graceful stop
	sock := l.Path("run/php-fpm.sock")

	both := func(want int, args ...string) {
		t.Helper()
		// The full CLI, in-process, with its stdout captured through a pipe.
		got, out := runCLI(t, append([]string{"probe"}, args...))
		var pout, perr bytes.Buffer
		pgot := probecli.Main(context.Background(), "fpmdoctor-probe", args, &pout, &perr)
		if got != want || pgot != want {
			t.Fatalf("%v: fpmdoctor probe exited %d, fpmdoctor-probe %d, want %d\n%s\n%s%s", args, got, pgot, want, out, pout.String(), perr.String())
		}
		// The same verdict, target and method; the latency differs.
		if verdict(out) != verdict(pout.String()) || (want != 2 && verdict(out) == "") {
			t.Fatalf("%v: outputs differ:\n%s\n%s", args, out, pout.String())
		}
	}
	both(0, "unix:"+sock, "--ping-path", "/ping", "--as-user", "self")
	both(0, "unix:"+sock, "--status-path", "/status", "--max-active", "5", "--format", "json")
	both(0, sock, "--ping-path", "/ping") // --as-user auto: as root, no nginx worker runs here
	both(3, "unix:"+l.Path("run/none.sock"), "--ping-path", "/ping")
	both(2, "unix:"+sock, "--format", "yaml")

	// Saturated: the only worker sleeps, the probe's connection is accepted
	// into the backlog and nothing answers before --timeout.
	c := &fastcgi.Client{Network: "unix", Address: sock, Options: fastcgi.Options{Timeout: 20 * time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go c.Do(ctx, &fastcgi.Request{Params: map[string]string{ //nolint:errcheck // only its load matters
		"REQUEST_METHOD": "GET", "SCRIPT_NAME": "/sleep.php", "SCRIPT_FILENAME": l.Path("www/sleep.php"), "QUERY_STRING": "s=15",
	}})
	time.Sleep(300 * time.Millisecond)
	// --as-user self: on a shared test host another test's nginx may start
	// or stop between the two runs, and auto would then connect as its
	// worker in one and as root in the other (seen: "as www-data" in one
	// verdict line only). The identity is not what this case checks.
	both(4, "unix:"+sock, "--ping-path", "/ping", "--timeout", "500ms", "--as-user", "self")
}

// runCLI runs fpmdoctor with args in this process and returns its exit
// status and what it printed on stdout.
func runCLI(t *testing.T, args []string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan string)
	go func() {
		var b bytes.Buffer
		_, _ = b.ReadFrom(r)
		done <- b.String()
	}()
	code := run(args)
	os.Stdout = saved
	w.Close()
	return code, <-done
}

// verdict is what must not differ between two runs of one probe: the text
// line up to the latency, or the JSON's verdict, reason and method.
func verdict(out string) string {
	if !strings.HasPrefix(out, "{") {
		v, _, _ := strings.Cut(out, " probe,")
		return v
	}
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if k := strings.TrimSpace(line); strings.HasPrefix(k, `"verdict"`) || strings.HasPrefix(k, `"reason"`) || strings.HasPrefix(k, `"method"`) {
			keep = append(keep, k)
		}
	}
	return strings.Join(keep, " ")
}
