package netfilter

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/nftables"
)

// TestReadRealRuleset loads a ruleset with the real nft command
// into a network namespace of the test's own and reads it back over
// netlink: what the decoder makes of the rules nft writes.
func TestReadRealRuleset(t *testing.T) {
	ns := testNetNS(t, "nft", "nftables")
	ruleset := `table inet filter {
	set fpm { type inet_service; elements = { 9100, 9101 } }
	chain input {
		type filter hook input priority 0; policy accept;
		tcp dport 9000 drop
		tcp dport 9001 counter reject
		ip saddr 10.1.2.3 tcp dport 9002 drop
		tcp dport { 9003, 9004 } drop
		tcp dport 9005-9010 reject with tcp reset
		tcp dport @fpm drop
		udp dport 9000 drop
		tcp dport 80 accept
	}
}
`
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	rules := readNetNS(t, ns)
	var texts []string
	for _, r := range rules {
		texts = append(texts, r.Where()+": "+r.Text)
	}
	t.Logf("ruleset read back:\n%s", strings.Join(texts, "\n"))
	want := []struct {
		text          string
		blocks        []int
		passes        []int
		verdict       string
		other, policy bool
	}{
		{"tcp dport 9000 drop", []int{9000}, []int{9001}, "drop", false, false},
		{"tcp dport 9001 counter reject", []int{9001}, []int{9000}, "reject", false, false},
		{"ip saddr 10.1.2.3 tcp dport 9002 drop", []int{9002}, nil, "drop", true, false},
		{"tcp dport { 9003, 9004 } drop", []int{9003, 9004}, []int{9005}, "drop", false, false},
		{"tcp dport 9005-9010 reject", []int{9005, 9010}, []int{9011}, "reject", false, false},
		{"tcp dport { 9100, 9101 } drop", []int{9100, 9101}, []int{9102}, "drop", false, false},
		{"udp dport 9000 drop", nil, []int{9000}, "drop", false, false},
		{"tcp dport 80 accept", nil, []int{80}, "accept", false, false},
		{"policy accept", nil, []int{9000}, "accept", false, true},
	}
	if len(rules) != len(want) {
		t.Fatalf("read %d rules, want %d", len(rules), len(want))
	}
	for i, w := range want {
		r := rules[i]
		if r.Text != w.text || r.Verdict != w.verdict || r.Other != w.other || r.Policy() != w.policy {
			t.Errorf("rule %d: text %q verdict %q other %v policy %v, want %q %q %v %v", i, r.Text, r.Verdict, r.Other, r.Policy(), w.text, w.verdict, w.other, w.policy)
		}
		if r.Family != "inet" || r.Table != "filter" || r.Chain != "input" || r.Hook != "input" || (!w.policy && r.Handle == 0) {
			t.Errorf("rule %d: at %s", i, r.Where())
		}
		for _, p := range w.blocks {
			if !r.Blocks(p) {
				t.Errorf("%q does not block port %d", r.Text, p)
			}
		}
		for _, p := range w.passes {
			if r.Blocks(p) {
				t.Errorf("%q blocks port %d", r.Text, p)
			}
		}
	}
	if !rules[7].Accepts(80) || rules[7].Accepts(81) {
		t.Errorf("%q: Accepts(80) %v, Accepts(81) %v", rules[7].Text, rules[7].Accepts(80), rules[7].Accepts(81))
	}
}

// testNetNS makes a network namespace of the test's own, removed when it
// ends, for rules that tool (from package pkg) writes there.
func testNetNS(t *testing.T, tool, pkg string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "reading nftables needs root (CAP_NET_ADMIN)")
	}
	if _, err := exec.LookPath(tool); err != nil {
		unavailable(t, fmt.Sprintf("%s is not installed (apt-get install %s)", tool, pkg))
	}
	ns := fmt.Sprintf("fpmd%s%d", tool, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		unavailable(t, fmt.Sprintf("cannot create a network namespace: %v: %s", err, out))
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	return ns
}

// readNetNS reads the ruleset of namespace ns over netlink.
func readNetNS(t *testing.T, ns string) []Rule {
	t.Helper()
	f, err := os.Open("/run/netns/" + ns)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rules, err := read(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

func unavailable(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI must run this test: %s", why)
	}
	t.Skipf("skipping: %s", why)
}

// TestReadIptablesNftRuleset: rules written by the real iptables (the
// nft backend, Debian 12's default) and by ufw's forms of it: -j REJECT
// is an xtables target, -m multiport --dports an xtables match, and both
// must count as blocking the ports they name, no others.
func TestReadIptablesNftRuleset(t *testing.T) {
	ns := testNetNS(t, "iptables", "iptables")
	for _, rule := range [][]string{
		{"-p", "tcp", "--dport", "9000", "-j", "REJECT"},
		{"-p", "tcp", "--dport", "9001", "-j", "DROP"},
		{"-p", "tcp", "-m", "multiport", "--dports", "9002,9005:9007", "-j", "DROP"},
		{"-p", "tcp", "-m", "multiport", "--dports", "22,80", "-j", "REJECT", "--reject-with", "tcp-reset"},
		{"-p", "tcp", "-m", "conntrack", "--ctstate", "NEW", "--dport", "9010", "-j", "DROP"},
		{"-p", "tcp", "--dport", "9011", "-m", "comment", "--comment", "fpm", "-j", "DROP"},
	} {
		args := append([]string{"netns", "exec", ns, "iptables", "-A", "INPUT"}, rule...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("iptables %v: %v: %s", rule, err, out)
		}
	}
	rules := readNetNS(t, ns)
	var texts []string
	var inInput []Rule
	for _, r := range rules {
		texts = append(texts, r.Where()+": "+r.Text)
		if r.Chain == "INPUT" && !r.Policy() {
			inInput = append(inInput, r)
		}
	}
	t.Logf("ruleset read back:\n%s", strings.Join(texts, "\n"))
	want := []struct {
		verdict        string
		blocks, passes []int
	}{
		{"reject", []int{9000}, []int{9001}},
		{"drop", []int{9001}, []int{9000}},
		{"drop", []int{9002, 9005, 9007}, []int{9003, 9004, 9008, 9000}},
		{"reject", []int{22, 80}, []int{9000, 9002}},
		{"drop", []int{9010}, []int{9000}},
		{"drop", []int{9011}, []int{9000}},
	}
	if len(inInput) != len(want) {
		t.Fatalf("read %d rules of chain INPUT, want %d", len(inInput), len(want))
	}
	for i, w := range want {
		r := inInput[i]
		if r.Verdict != w.verdict {
			t.Errorf("rule %d %q: verdict %q, want %q", i, r.Text, r.Verdict, w.verdict)
		}
		for _, p := range w.blocks {
			if !r.Blocks(p) {
				t.Errorf("rule %d %q does not block port %d", i, r.Text, p)
			}
		}
		for _, p := range w.passes {
			if r.Blocks(p) {
				t.Errorf("rule %d %q blocks port %d", i, r.Text, p)
			}
		}
	}
}
