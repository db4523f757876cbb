package checks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// helperEnv carries the diagnose options to the test binary re-run inside
// a network namespace.
const helperEnv = "FPMDOCTOR_TEST_NETNS_DIAGNOSE"

// TestMain lets the test binary serve as fpmdoctor diagnose inside another
// network namespace: run under `ip netns exec` with helperEnv set, it
// diagnoses and prints the JSON report instead of running tests.
func TestMain(m *testing.M) {
	if v := os.Getenv(helperEnv); v != "" {
		var opts doctor.Options
		if err := json.Unmarshal([]byte(v), &opts); err != nil {
			fmt.Fprintln(os.Stderr, "helper options:", err)
			os.Exit(2)
		}
		r, _, err := doctor.Diagnose(context.Background(), opts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "diagnose:", err)
			os.Exit(2)
		}
		if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// diagnoseIn runs the diagnosis the way fpmdoctor run on one side sees
// things: inside network namespace ns, with its own loopback, listening
// sockets, firewall and hosts file (ip netns exec mounts it).
func diagnoseIn(t *testing.T, ns string, l *lab.Lab) *report.Report {
	t.Helper()
	return diagnoseInAs(t, ns, l, false)
}

// diagnoseInAs is diagnoseIn, as the unprivileged user nobody when
// unprivileged is set (a run without sudo).
func diagnoseInAs(t *testing.T, ns string, l *lab.Lab, unprivileged bool) *report.Report {
	t.Helper()
	return diagnoseWith(t, ns, l, doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}, ProbeTimeout: 2 * time.Second}, unprivileged)
}

// diagnoseWith is diagnoseInAs with the diagnosis options given.
func diagnoseWith(t *testing.T, ns string, l *lab.Lab, o doctor.Options, unprivileged bool) *report.Report {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := json.Marshal(o)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"netns", "exec", ns, exe, "-test.run=^$"}
	if unprivileged {
		// The test binary sits in a build directory only root can enter.
		bin := l.Path("checks.test")
		b, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		args = []string{"netns", "exec", ns, "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", bin, "-test.run=^$"}
	}
	cmd := exec.CommandContext(ctx, "ip", args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+string(opts))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("diagnose in %s: %v: %s", ns, err, stderr.String())
	}
	var r report.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("diagnose in %s: %v: %s", ns, err, out)
	}
	return &r
}

// diagnoseFPMContainer runs the diagnosis as fpmdoctor inside a php-fpm
// container sees things: the network namespace ns, a private pid
// namespace in which php-fpm is started (no nginx runs there), and a
// private mount namespace without /etc/nginx (none is installed there).
// Only the php-fpm config is given. php-fpm ends with the namespace.
func diagnoseFPMContainer(t *testing.T, ns string, l *lab.Lab) *report.Report {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opts, _ := json.Marshal(doctor.Options{FPMConfs: []string{l.FPMConf()}, ProbeTimeout: 2 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Its own pid file: a pid of the private namespace in the lab's
	// would later be signalled on the host.
	script := fmt.Sprintf("mount --bind %s /etc/nginx && %s --fpm-config %s --prefix %s --pid %s && exec %s -test.run='^$'", l.Path("empty"), lab.FPMBin, l.FPMConf(), l.Dir, l.Path("run/container-fpm.pid"), exe)
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "unshare", "--pid", "--fork", "--mount-proc", "sh", "-c", script)
	cmd.Env = append(os.Environ(), helperEnv+"="+string(opts))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("diagnose in a php-fpm container in %s: %v: %s", ns, err, stderr.String())
	}
	var r report.Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("diagnose in %s: %v: %s", ns, err, out)
	}
	return &r
}

// twoHosts starts nginx in one namespace ("web") and php-fpm in the other
// ("php"), nginx passing to fastcgi_pass php:9000 as in docker-compose.
// The name php resolves through each side's hosts file to php-fpm's
// address. pool is the www pool's file; nginxExtra goes before
// fastcgi_pass.
func twoHosts(t *testing.T, pool, nginxExtra string) (*lab.NetPair, *lab.Lab) {
	t.Helper()
	net := lab.NewNetPair(t)
	l := lab.New(t)
	hosts := net.AddrB.String() + " php\n"
	net.Hosts(net.A, hosts)
	net.Hosts(net.B, hosts)
	l.InNetNS(net.A)
	l.Write("etc/php/fpm/pool.d/www.conf", pool)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", nginxExtra+"fastcgi_pass php:9000;")
	// php-fpm runs in the other namespace: the same files, another network.
	if out, err := net.Exec(net.B, lab.FPMBin, "--fpm-config", l.FPMConf(), "--prefix", l.Dir); err != nil {
		t.Fatalf("start php-fpm in %s: %v: %s", net.B, err, out)
	}
	l.MustStartNginx()
	return net, l
}

// noFinding fails when r has a finding of cause.
func noFinding(t *testing.T, r *report.Report, cause string) {
	t.Helper()
	for _, f := range r.Findings {
		if f.Cause == cause {
			t.Fatalf("unexpected %s finding\n%s", cause, dump(r))
		}
	}
}

// noPastStory fails when a finding speaks of the past while the failure
// is current.
func noPastStory(t *testing.T, r *report.Report) {
	t.Helper()
	for _, f := range r.Findings {
		if strings.Contains(f.Title, "earlier in the window") {
			t.Fatalf("a current failure is told as a past one: %q\n%s", f.Title, dump(r))
		}
	}
}

// TestTwoHostsLoopbackPoolRealServers: the php-fpm Docker image's trap.
// The pool listens on 127.0.0.1:9000 in its own namespace; nginx in the
// other one is refused. From the nginx side: the address refuses now,
// with what was tried and what the pool needs. From the php-fpm side: the
// pool is reachable only from its own host. Then the pool listens on the
// port on every address, with allowed_clients naming nginx: 200, clean.
func TestTwoHostsLoopbackPoolRealServers(t *testing.T) {
	t.Parallel()
	pool := strings.Replace(lab.DefaultPool, "listen = {{DIR}}/run/php-fpm.sock", "listen = 127.0.0.1:9000", 1)
	net, l := twoHosts(t, pool, "")
	l.MustStatus("/ok.php", 502)
	l.WaitForLog("log/nginx-error.log", "(111: Connection refused) while connecting to upstream", 1)

	r := diagnoseIn(t, net.A, l)
	f := finding(t, r, "listen-mismatch", report.Error)
	if f.ID != "remote-refused" || !strings.Contains(f.Title, "php:9000 (10.231.0.2) refuses connections now") {
		t.Fatalf("nginx side: %s %q\n%s", f.ID, f.Title, dump(r))
	}
	if !strings.Contains(f.Detail, "listen = 9000") || !strings.Contains(f.Detail, "listen.allowed_clients = 10.231.0.1") {
		t.Fatalf("nginx side does not say what the pool needs: %q", f.Detail)
	}
	evidenceAt(t, f, l.Path("etc/nginx/conf.d/site.conf"), lineOf(t, lab.DefaultSite, "fastcgi_pass"))
	evidenceText(t, f, report.KindFact, "php resolves to 10.231.0.2 (hosts file")
	evidenceText(t, f, report.KindFact, "FastCGI probe of 10.231.0.2:9000: connect: nothing listens there (111: Connection refused)")
	evidenceText(t, f, report.KindFact, "runs in network namespace")
	evidenceText(t, f, report.KindLog, "(111: Connection refused)")
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), lineOf(t, pool, "listen ="))
	if f.Logs == nil || f.Logs.Count < 1 {
		t.Fatalf("the logged refusals are not the finding's: %+v", f.Logs)
	}
	noPastStory(t, r)
	t.Logf("nginx side: %s\n%s\nfix: %s\n%+v", f.Title, f.Detail, f.Fix.Summary, f.Evidence)

	r = diagnoseIn(t, net.B, l)
	f = finding(t, r, "listen-mismatch", report.Error)
	if f.ID != "listen-loopback-only" || !strings.Contains(f.Title, "pool www listens on 127.0.0.1:9000, reachable only from this host") {
		t.Fatalf("php-fpm side: %s %q\n%s", f.ID, f.Title, dump(r))
	}
	evidenceAt(t, f, l.Path("etc/php/fpm/pool.d/www.conf"), lineOf(t, pool, "listen ="))
	if !strings.Contains(f.Fix.Summary, "listen = 9000") {
		t.Fatalf("fix %q", f.Fix.Summary)
	}

	// Inside the php-fpm container itself: no nginx at all, only the
	// pool and its master.
	if err := os.MkdirAll(l.Path("empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	l.StopFPM() // the container starts its own php-fpm
	rc := diagnoseFPMContainer(t, net.B, l)
	fc := finding(t, rc, "listen-mismatch", report.Warning)
	if fc.ID != "listen-loopback-only" || !strings.Contains(fc.Title, "pool www listens on 127.0.0.1:9000, reachable only from this host, and no nginx runs here") {
		t.Fatalf("php-fpm container: %s %q\n%s", fc.ID, fc.Title, dump(rc))
	}
	evidenceAt(t, fc, l.Path("etc/php/fpm/pool.d/www.conf"), lineOf(t, pool, "listen ="))
	evidenceText(t, fc, report.KindFact, "127.0.0.1:9000 listens (php-fpm master pid ")
	if out, err := net.Exec(net.B, lab.FPMBin, "--fpm-config", l.FPMConf(), "--prefix", l.Dir); err != nil {
		t.Fatalf("start php-fpm again: %v: %s", err, out)
	}
	t.Logf("php-fpm side: %s\n%s\nfix: %s\n%+v", f.Title, f.Detail, f.Fix.Summary, f.Evidence)

	// What the finding asks for, done by hand: every address, nginx's only.
	l.Edit("etc/php/fpm/pool.d/www.conf", "listen = 127.0.0.1:9000", "listen = 9000\nlisten.allowed_clients = 10.231.0.1")
	l.StopFPM()
	if out, err := net.Exec(net.B, lab.FPMBin, "--fpm-config", l.FPMConf(), "--prefix", l.Dir); err != nil {
		t.Fatalf("restart php-fpm: %v: %s", err, out)
	}
	l.MustStatus("/ok.php", 200)
	r = diagnoseIn(t, net.A, l)
	for _, f := range r.Findings {
		if f.Severity == report.Error {
			t.Fatalf("error after the repair\n%s", dump(r))
		}
	}
}

// TestFirewallDropAndRejectRealServers: php-fpm listens on every address
// of its namespace, and a real nftables rule there blocks the port.
// First a drop (nginx waits fastcgi_connect_timeout, 504), then a reject
// (502 at once). From the php-fpm side, where the port is in LISTEN
// state, diagnose names the rule with its table, chain and handle; from
// the nginx side, the address times out now. Without the rule: 200.
func TestFirewallDropAndRejectRealServers(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("nft"); err != nil {
		lab.Unavailable(t, "nft is not installed (apt-get install nftables)")
	}
	pool := strings.Replace(lab.DefaultPool, "listen = {{DIR}}/run/php-fpm.sock", "listen = 9000", 1)
	net, l := twoHosts(t, pool, "fastcgi_connect_timeout 2s;\n        ")
	l.MustStatus("/ok.php", 200)

	net.Nft(net.B, "table inet fpmfilter {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\ttcp dport 9000 drop\n\t}\n}\n")
	l.MustStatus("/ok.php", 504)
	l.WaitForLog("log/nginx-error.log", "upstream timed out (110: Connection timed out) while connecting to upstream", 1)

	r := diagnoseIn(t, net.B, l)
	first(t, r, "firewall")
	f := finding(t, r, "firewall", report.Error)
	if !strings.Contains(f.Title, "connects to php:9000 (10.231.0.2) time out although php-fpm listens there: a packet filter drops them") {
		t.Fatalf("php-fpm side, drop: %q\n%s", f.Title, dump(r))
	}
	evidenceText(t, f, report.KindFact, "nftables table inet fpmfilter, chain input (hook input), handle ")
	evidenceText(t, f, report.KindFact, ": tcp dport 9000 drop")
	evidenceText(t, f, report.KindFact, "is in LISTEN state")
	evidenceText(t, f, report.KindFact, "(connect-timeout after")
	if !strings.Contains(f.Fix.Summary, "nft delete rule inet fpmfilter input handle") {
		t.Fatalf("fix %q", f.Fix.Summary)
	}
	t.Logf("php-fpm side, drop: %s\n%+v\nfix: %s", f.Title, f.Evidence, f.Fix.Summary)

	// Without root the ruleset cannot be read: the drop is still found
	// (the port listens, the connect times out), and the report says
	// why no rule is named.
	r = diagnoseInAs(t, net.B, l, true)
	f = finding(t, r, "firewall", report.Error)
	evidenceText(t, f, report.KindFact, "the firewall rule cannot be named: not root: cannot read the nftables ruleset")
	skipped := false
	for _, sk := range r.Skipped {
		skipped = skipped || (sk.Check == "firewall" && strings.Contains(sk.Reason, "not root"))
	}
	if !skipped {
		t.Fatalf("no firewall note under skipped: %+v", r.Skipped)
	}

	r = diagnoseIn(t, net.A, l)
	f = finding(t, r, "firewall", report.Error)
	if !strings.Contains(f.Title, "connects to php:9000 (10.231.0.2) time out: a packet filter drops them, or that host is down") {
		t.Fatalf("nginx side, drop: %q\n%s", f.Title, dump(r))
	}
	evidenceText(t, f, report.KindFact, "no rule of this network namespace's nftables ruleset")
	evidenceText(t, f, report.KindLog, "upstream timed out (110: Connection timed out) while connecting to upstream")
	noFinding(t, r, "upstream-timeout") // the 504 is the drop's, not a slow pool's
	noFinding(t, r, "slowlog-disabled") // no worker was held: a slowlog would show nothing
	noPastStory(t, r)
	t.Logf("nginx side, drop: %s\n%+v", f.Title, f.Evidence)

	net.Nft(net.B, "flush table inet fpmfilter\ntable inet fpmfilter {\n\tchain input {\n\t\ttcp dport 9000 counter reject\n\t}\n}\n")
	l.MustStatus("/ok.php", 502)
	l.WaitForLog("log/nginx-error.log", "(111: Connection refused) while connecting to upstream", 1)
	r = diagnoseIn(t, net.B, l)
	f = finding(t, r, "firewall", report.Error)
	if !strings.Contains(f.Title, "are refused although php-fpm listens there: a packet filter rejects them") {
		t.Fatalf("php-fpm side, reject: %q\n%s", f.Title, dump(r))
	}
	evidenceText(t, f, report.KindFact, ": tcp dport 9000 counter reject")
	evidenceText(t, f, report.KindFact, "connect refused although the port listens")
	for _, e := range f.Evidence {
		if strings.Contains(e.Text, "nothing listens") {
			t.Fatalf("the reject finding says nothing listens, next to the listener: %q\n%s", e.Text, dump(r))
		}
	}
	// The drop's timeouts and the reject's refusals are one firewall
	// story: both are quoted, so both are counted, from the first
	// timeout to the last refusal.
	evidenceText(t, f, report.KindLog, "(110: Connection timed out) while connecting to upstream")
	evidenceText(t, f, report.KindLog, "(111: Connection refused) while connecting to upstream")
	logged, err := os.ReadFile(l.Path("log/nginx-error.log"))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Count(string(logged), "while connecting to upstream"); f.Logs == nil || f.Logs.Count != want {
		t.Fatalf("the reject finding counts %+v of the %d logged connect failures it quotes\n%s", f.Logs, want, dump(r))
	}
	t.Logf("php-fpm side, reject: %s\n%+v", f.Title, f.Evidence)
	// From nginx's side a reject looks like nothing listening: the
	// finding must leave the firewall open as a reason.
	r = diagnoseIn(t, net.A, l)
	f = finding(t, r, "listen-mismatch", report.Error)
	if f.ID != "remote-refused" || !strings.Contains(f.Detail, "or a firewall there rejects the connect") {
		t.Fatalf("nginx side, reject: %s %q", f.ID, f.Detail)
	}

	// Without the rule: 200, and nothing current is blamed. The 504 and
	// 502 logged above stay in the window as history: the connect
	// timeouts are one firewall-past (info) with their lines, never an
	// upstream-timeout (a slow pool) nor an error.
	net.Nft(net.B, "delete table inet fpmfilter\n")
	l.MustStatus("/ok.php", 200)
	for _, ns := range []string{net.A, net.B} {
		r = diagnoseIn(t, ns, l)
		noFinding(t, r, "upstream-timeout")
		noFinding(t, r, "slowlog-disabled")
		for _, f := range r.Findings {
			if f.Severity == report.Error || f.ID == "firewall" {
				t.Fatalf("[%s] %s in %s without the rule\n%s", f.ID, f.Severity, ns, dump(r))
			}
		}
		f := finding(t, r, "firewall", report.Info)
		if f.ID != "firewall-past" || f.Logs == nil || f.Logs.Count == 0 || !strings.Contains(f.Title, "earlier in the window") {
			t.Fatalf("in %s: %s %q %+v\n%s", ns, f.ID, f.Title, f.Logs, dump(r))
		}
		evidenceText(t, f, report.KindLog, "upstream timed out (110: Connection timed out) while connecting to upstream")
	}
}

// TestScriptNotFoundOtherContainerRealServers: the two-container setup
// where php-fpm's container has no code at nginx's document root. php-fpm
// runs in its own network namespace and its own mount namespace, where an
// empty directory is mounted over the document root. Real requests get
// php-fpm's 404 "File not found."; from the nginx side, diagnose finds the
// script under nginx's root, sees through the running master's root that
// php-fpm has no such file, and names both.
func TestScriptNotFoundOtherContainerRealServers(t *testing.T) {
	t.Parallel()
	pool := strings.Replace(lab.DefaultPool, "listen = {{DIR}}/run/php-fpm.sock", "listen = 9000", 1)
	pair := lab.NewNetPair(t)
	l := lab.New(t)
	hosts := pair.AddrB.String() + " php\n"
	pair.Hosts(pair.A, hosts)
	pair.Hosts(pair.B, hosts)
	l.InNetNS(pair.A)
	l.Write("etc/php/fpm/pool.d/www.conf", pool)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass php:9000;")
	if err := os.MkdirAll(l.Path("empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The container's own filesystem: the same tree, but nothing at www/.
	script := fmt.Sprintf("mount --bind %s %s && exec %s --fpm-config %s --prefix %s", l.Path("empty"), l.Path("www"), lab.FPMBin, l.FPMConf(), l.Dir)
	if out, err := pair.Exec(pair.B, "unshare", "--mount", "--propagation", "private", "sh", "-c", script); err != nil {
		t.Fatalf("start php-fpm in its own mount namespace: %v: %s", err, out)
	}
	l.MustStartNginx()
	if body := l.MustStatus("/ok.php", 404); !strings.Contains(body, "File not found.") {
		t.Fatalf("body %q, want php-fpm's File not found.", body)
	}
	l.WaitForLog("log/nginx-error.log", `"Primary script unknown"`, 1)

	r := diagnoseIn(t, pair.A, l)
	f := finding(t, r, "script-not-found", report.Error)
	if !strings.Contains(f.Title, "php-fpm at php:9000 (another host or container) cannot see the scripts nginx sends it: "+l.Path("www/ok.php")+" exists under nginx's root "+l.Path("www")) {
		t.Fatalf("title %q\n%s", f.Title, dump(r))
	}
	evidenceAt(t, f, l.Path("etc/nginx/conf.d/site.conf"), lineOf(t, lab.DefaultSite, "root "))
	evidenceText(t, f, report.KindLog, "Primary script unknown")
	evidenceText(t, f, report.KindFact, "exists for nginx; php-fpm answered \"Primary script unknown\" for it")
	evidenceText(t, f, report.KindFact, "has no "+l.Path("www/ok.php")+" in its own filesystem")
	t.Logf("%s\n%s\n%+v", f.Title, f.Detail, f.Evidence)

	// Run where php-fpm's config is not at hand (an nginx-only host: the
	// one php-fpm config read has no pool for the site), nothing tells
	// whether php-fpm sees the script now: the finding tells the lines
	// as what was, in the past tense, with the time of the last.
	other := l.Write("etc/php/other/php-fpm.conf", "[global]\npid = {{DIR}}/run/other.pid\n[other]\nuser = www-data\ngroup = www-data\nlisten = {{DIR}}/run/other.sock\npm = static\npm.max_children = 1\n")
	r = diagnoseWith(t, pair.A, l, doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{other}, ProbeTimeout: 2 * time.Second}, false)
	f = finding(t, r, "script-not-found", report.Error)
	if !strings.Contains(f.Title, "could not see the scripts nginx sent it") || !strings.Contains(f.Title, "php-fpm answered \"Primary script unknown\", last at ") {
		t.Fatalf("title %q\n%s", f.Title, dump(r))
	}
	evidenceText(t, f, report.KindFact, "cannot be checked from here")
}

// TestTwoHostsStaleAddressRealServers: the name php resolves, on nginx's
// side, to php-fpm's address and to one where no host is any more (a
// container that is gone, a stale hosts entry). nginx fails over (every
// request 200). The finding says the address cannot be reached and what
// to do about the name, not that php-fpm listens on some addresses only.
func TestTwoHostsStaleAddressRealServers(t *testing.T) {
	t.Parallel()
	pool := strings.Replace(lab.DefaultPool, "listen = {{DIR}}/run/php-fpm.sock", "listen = 9000", 1)
	net, l := twoHosts(t, pool, "fastcgi_connect_timeout 1s;\n        ")
	// An address where no host is: the kernel has no route to it (as
	// after a failed ARP, but at once, so the probe's deadline does
	// not decide between "no route" and a timeout).
	gone := "10.231.9.9"
	if out, err := net.Exec(net.A, "ip", "route", "add", "unreachable", gone+"/32"); err != nil {
		t.Fatalf("route: %v: %s", err, out)
	}
	net.Hosts(net.A, net.AddrB.String()+" php\n"+gone+" php\n")
	l.ReloadNginx()
	for range 3 {
		l.MustStatus("/ok.php", 200)
	}

	r := diagnoseIn(t, net.A, l)
	f := finding(t, r, "listen-mismatch", report.Warning)
	if !strings.Contains(f.Title, "("+gone+") cannot be reached now; nginx fails over to "+net.AddrB.String()+":9000") {
		t.Fatalf("title %q\n%s", f.Title, dump(r))
	}
	if strings.Contains(f.Detail, "listens on some of the name's addresses") || !strings.Contains(f.Detail, "stale hosts or DNS entry") {
		t.Fatalf("detail %q", f.Detail)
	}
	if !strings.Contains(f.Fix.Summary, "remove "+gone+":9000 from what php resolves to") {
		t.Fatalf("fix %q", f.Fix.Summary)
	}
	evidenceText(t, f, report.KindFact, "php resolves to "+net.AddrB.String()+", "+gone)

	// The same address dropped by a rule on nginx's side: connects time
	// out, nginx fails over after fastcgi_connect_timeout, every request
	// still 200: the firewall finding is a warning, not an error.
	if out, err := net.Exec(net.A, "ip", "route", "del", "unreachable", gone+"/32"); err != nil {
		t.Fatalf("route: %v: %s", err, out)
	}
	if out, err := net.Exec(net.A, "ip", "route", "add", gone+"/32", "dev", "eth0"); err != nil {
		t.Fatalf("route: %v: %s", err, out)
	}
	net.Nft(net.A, "table inet fpmfilter {\n\tchain output {\n\t\ttype filter hook output priority 0; policy accept;\n\t\tip daddr "+gone+" tcp dport 9000 drop\n\t}\n}\n")
	l.ReloadNginx()
	for range 2 {
		l.MustStatus("/ok.php", 200)
	}
	r = diagnoseIn(t, net.A, l)
	f = finding(t, r, "firewall", report.Warning)
	if !strings.Contains(f.Title, "("+gone+") time out") || !strings.Contains(f.Title, "nginx fails over to "+net.AddrB.String()+":9000") {
		t.Fatalf("title %q\n%s", f.Title, dump(r))
	}
	evidenceText(t, f, report.KindFact, "ip daddr "+gone+" tcp dport 9000 drop")
	for _, f := range r.Findings {
		if f.Severity == report.Error {
			t.Fatalf("an error while every request succeeds: [%s] %s\n%s", f.ID, f.Title, dump(r))
		}
	}
}

// TestFirewallIptablesRejectRealServers: the rule is written by iptables
// (Debian 12's iptables is the nft backend; ufw and Docker write the same
// way): -j REJECT is an xtables target inside nftables. From the php-fpm
// side the rule is named, and the fix says to remove it with iptables,
// not with nft in a table nft itself calls iptables-nft's.
func TestFirewallIptablesRejectRealServers(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("iptables"); err != nil {
		lab.Unavailable(t, "iptables is not installed (apt-get install iptables)")
	}
	pool := strings.Replace(lab.DefaultPool, "listen = {{DIR}}/run/php-fpm.sock", "listen = 9000", 1)
	net, l := twoHosts(t, pool, "")
	l.MustStatus("/ok.php", 200)
	if out, err := net.Exec(net.B, "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "9000", "-j", "REJECT"); err != nil {
		t.Fatalf("iptables: %v: %s", err, out)
	}
	l.MustStatus("/ok.php", 502)
	r := diagnoseIn(t, net.B, l)
	f := finding(t, r, "firewall", report.Error)
	if !strings.Contains(f.Title, "are refused although php-fpm listens there") {
		t.Fatalf("title %q\n%s", f.Title, dump(r))
	}
	evidenceText(t, f, report.KindFact, "nftables table ip filter, chain INPUT (hook input), handle ")
	evidenceText(t, f, report.KindFact, ": tcp dport 9000 counter reject")
	if !strings.Contains(f.Fix.Summary, "iptables -D INPUT") || strings.Contains(f.Fix.Summary, "nft delete") {
		t.Fatalf("fix %q", f.Fix.Summary)
	}

	// ufw's shape: INPUT jumps to a chain of its own, where the rule is.
	for _, args := range [][]string{
		{"-F", "INPUT"},
		{"-N", "fpm-user-input"},
		{"-A", "INPUT", "-j", "fpm-user-input"},
		{"-A", "fpm-user-input", "-p", "tcp", "--dport", "9000", "-j", "REJECT"},
	} {
		if out, err := net.Exec(net.B, "iptables", args...); err != nil {
			t.Fatalf("iptables %v: %v: %s", args, err, out)
		}
	}
	l.MustStatus("/ok.php", 502)
	r = diagnoseIn(t, net.B, l)
	f = finding(t, r, "firewall", report.Error)
	evidenceText(t, f, report.KindFact, "nftables table ip filter, chain fpm-user-input, handle ")
	if !strings.Contains(f.Fix.Summary, "iptables -D fpm-user-input") {
		t.Fatalf("fix %q", f.Fix.Summary)
	}
}
