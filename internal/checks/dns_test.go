package checks_test

import (
	"encoding/binary"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// dnsServer answers A and AAAA questions for the names it knows, and
// NOERROR with no answer for anything else: a DNS server of the test's
// own, on a namespace's loopback, so no question ever leaves the test.
type dnsServer struct {
	a, aaaa map[string]net.IP
	asked   atomic.Int64
}

func (d *dnsServer) serve(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := d.answer(buf[:n]); resp != nil {
			_, _ = pc.WriteTo(resp, from)
		}
	}
}

// answer builds the response to one query (RFC 1035 section 4.1).
func (d *dnsServer) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// The question: labels, then type and class.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i+1 : i+3])
	question := q[12 : i+5]
	name := strings.ToLower(strings.Join(labels, "."))
	d.asked.Add(1)
	var ip net.IP
	switch qtype {
	case 1:
		ip = d.a[name].To4()
	case 28:
		ip = d.aaaa[name].To16()
	}
	resp := make([]byte, 12, 12+len(question)+16+len(ip))
	copy(resp[0:2], q[0:2])                       // id
	binary.BigEndian.PutUint16(resp[2:4], 0x8180) // response, recursion desired and available, NOERROR
	binary.BigEndian.PutUint16(resp[4:6], 1)
	if ip != nil {
		binary.BigEndian.PutUint16(resp[6:8], 1)
	}
	resp = append(resp, question...)
	if ip != nil {
		resp = append(resp, 0xc0, 12) // the name, by pointer to the question
		resp = binary.BigEndian.AppendUint16(resp, qtype)
		resp = binary.BigEndian.AppendUint16(resp, 1) // IN
		resp = binary.BigEndian.AppendUint32(resp, 60)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(ip)))
		resp = append(resp, ip...)
	}
	return resp
}

// TestNameResolvedThroughDNSRealServers: fastcgi_pass names a host that
// only DNS knows (a DNS server of the test's own, inside nginx's
// namespace), with an A and an AAAA answer. php-fpm listens on IPv4 only,
// so nginx's IPv6 peer is refused and nginx fails over: users get 200,
// each after a failed connect. diagnose resolves the name as nginx did,
// probes every address, says which answered, and reports the refusing
// one now (a warning, since the other serves).
func TestNameResolvedThroughDNSRealServers(t *testing.T) {
	t.Parallel()
	pool := strings.Replace(lab.DefaultPool, "listen = {{DIR}}/run/php-fpm.sock", "listen = 0.0.0.0:9000", 1)
	pair := lab.NewNetPair(t)
	const name = "php.fpmlab.test"
	dns := &dnsServer{a: map[string]net.IP{name: pair.AddrB}, aaaa: map[string]net.IP{name: pair.Addr6B}}
	dns.start(t, pair)

	l := lab.New(t)
	l.InNetNS(pair.A)
	l.Write("etc/php/fpm/pool.d/www.conf", pool)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass "+name+":9000;")
	if out, err := pair.Exec(pair.B, lab.FPMBin, "--fpm-config", l.FPMConf(), "--prefix", l.Dir); err != nil {
		t.Fatalf("start php-fpm: %v: %s", err, out)
	}
	l.MustStartNginx()
	if dns.asked.Load() == 0 {
		t.Fatal("nginx did not ask the test's DNS server")
	}
	for range 4 { // round robin: the IPv6 peer is tried, refused, and passed over
		l.MustStatus("/ok.php", 200)
	}
	l.WaitForLog("log/nginx-error.log", "(111: Connection refused) while connecting to upstream", 1)

	asked := dns.asked.Load()
	r := diagnoseIn(t, pair.A, l)
	if dns.asked.Load() == asked {
		t.Fatal("diagnose did not ask DNS")
	}
	f := finding(t, r, "listen-mismatch", report.Warning)
	if f.ID != "remote-refused" || !strings.Contains(f.Title, name+":9000 (fd31:231::2) refuses connections now; nginx fails over to 10.231.0.2:9000") {
		t.Fatalf("%s %q\n%s", f.ID, f.Title, dump(r))
	}
	evidenceText(t, f, report.KindFact, name+" resolves to 10.231.0.2, fd31:231::2 (DNS;")
	evidenceText(t, f, report.KindFact, "FastCGI probe of [fd31:231::2]:9000: connect: nothing listens there (111: Connection refused)")
	evidenceText(t, f, report.KindFact, "FastCGI probe of 10.231.0.2:9000: a worker answered")
	evidenceText(t, f, report.KindLog, "upstream: \"fastcgi://[fd31:231::2]:9000\"")
	noPastStory(t, r)
	for _, o := range r.Findings {
		if o.Cause == "listen-mismatch" && o.ID != "remote-refused" {
			t.Fatalf("a second listen-mismatch story beside the live one: %q", o.Title)
		}
	}
	t.Logf("%s\n%+v", f.Title, f.Evidence)
}

// TestHostNotFoundRealServers: fastcgi_pass names a host neither the
// hosts file nor DNS (the test's own server, which knows no such name)
// resolves. Real nginx refuses the config ("host not found in upstream");
// diagnose, asking the same resolver, says so instead of passing over the
// name.
func TestHostNotFoundRealServers(t *testing.T) {
	t.Parallel()
	pair := lab.NewNetPair(t)
	dns := &dnsServer{}
	dns.start(t, pair)

	l := lab.New(t)
	l.InNetNS(pair.A)
	l.Edit("etc/nginx/conf.d/site.conf", "fastcgi_pass unix:{{DIR}}/run/php-fpm.sock;", "fastcgi_pass nosuch.fpmlab.test:9000;")
	out, err := pair.Exec(pair.A, lab.NginxBin, "-t", "-c", l.NginxConf(), "-p", l.Dir+"/")
	if err == nil || !strings.Contains(out, "host not found in upstream \"nosuch.fpmlab.test\"") {
		t.Fatalf("nginx -t: %v: %s", err, out)
	}
	l.MustStartFPM()

	r := diagnoseIn(t, pair.A, l)
	f := finding(t, r, "listen-mismatch", report.Error)
	if f.ID != "host-not-found" || !strings.Contains(f.Title, "nosuch.fpmlab.test does not resolve") {
		t.Fatalf("%s %q\n%s", f.ID, f.Title, dump(r))
	}
	evidenceAt(t, f, l.Path("etc/nginx/conf.d/site.conf"), lineOf(t, lab.DefaultSite, "fastcgi_pass"))
	evidenceText(t, f, report.KindFact, "nosuch.fpmlab.test: DNS: lookup nosuch.fpmlab.test")
	if dns.asked.Load() == 0 {
		t.Fatal("the test's DNS server was never asked")
	}
}

// start serves dns on 127.0.0.1:53 inside pair.A, the namespace nginx
// runs in, and makes it that namespace's resolver.
func (d *dnsServer) start(t *testing.T, pair *lab.NetPair) {
	t.Helper()
	var pc net.PacketConn
	if err := lab.RunInNetNS(pair.A, func() error {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:53")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go d.serve(pc)
	pair.Resolv(pair.A, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
}
