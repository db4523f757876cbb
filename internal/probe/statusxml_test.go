package probe

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"testing"
)

// FuzzStatusXMLMatchesEncodingXML checks parseStatusXML against
// encoding/xml, which it replaces to keep that package's initialisation out
// of every start (statusxml.go): when both accept a document they must read
// the same fields, and php-fpm's own pages (testdata) must be accepted.
func FuzzStatusXMLMatchesEncodingXML(f *testing.F) {
	files, _ := filepath.Glob("testdata/status-xml*.txt")
	if len(files) == 0 {
		f.Fatal("no testdata/status-xml*.txt")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`<status><pool>a &amp; b &#233;&#x41;</pool><idle-processes> 3 </idle-processes></status>`,
		`<?xml version="1.0"?><!-- c --><s a="1>2"><pool><![CDATA[x<y]]>z</pool><processes><process><pool>no</pool></process></processes></s>`,
		"<status>\r\n<pool>w\r\nx\ry</pool><x:slow-requests>7</x:slow-requests><pool/></status>trailing",
		`<status><pool>a</pool><pool>b</pool><listen-queue></listen-queue></status>`,
		`<status><pool>a<b>hidden</b>c</pool></status>`,
		`<status><accepted-conn>99999999999999999999</accepted-conn></status>`,
		`<status><pool>&bogus;</pool></status>`,
		`<status><pool>open</status>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseStatusXML(b)
		var want statusRecord
		werr := xml.Unmarshal(b, &want)
		if err != nil || werr != nil {
			return // the error texts differ; an accepted page is what matters
		}
		if *got != *want.status() {
			t.Fatalf("parseStatusXML(%q)\n = %+v\nencoding/xml: %+v", b, *got, *want.status())
		}
	})
}

// TestStatusXMLFixtures: php-fpm's xml pages parse to what encoding/xml reads.
func TestStatusXMLFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/status-xml*.txt")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseStatusXML(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var want statusRecord
		if err := xml.Unmarshal(b, &want); err != nil {
			t.Fatalf("%s: encoding/xml: %v", name, err)
		}
		if *got != *want.status() || got.Pool == "" || got.TotalProcesses == 0 {
			t.Errorf("%s: got %+v, want %+v", name, *got, *want.status())
		}
	}
}

// TestStatusXMLErrors: malformed pages are errors, never a half-read status.
func TestStatusXMLErrors(t *testing.T) {
	for _, s := range []string{
		``, `no markup`, `<status><pool>open</status>`, `<status><pool>a</pool>`,
		`<status><pool>&bogus;</pool></status>`, `<status><pool>&amp</pool></status>`,
		`<status><accepted-conn>x</accepted-conn></status>`, `<status><pool a="1>a</pool></status>`,
		"<status><pool>\xff</pool></status>", `<status><1pool>a</1pool></status>`,
	} {
		if got, err := parseStatusXML([]byte(s)); err == nil {
			t.Errorf("parseStatusXML(%q) = %+v, want an error", s, *got)
		}
	}
}
