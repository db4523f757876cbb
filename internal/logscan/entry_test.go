package logscan

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// Clone must re-point every text field: a field it forgets would still
// point into the scanner's reused buffer after the callback returns.
func TestCloneCoversEveryTextField(t *testing.T) {
	var e Entry
	listed := map[uintptr]bool{}
	for _, f := range e.textFields() {
		listed[uintptr(unsafe.Pointer(f))-uintptr(unsafe.Pointer(&e))] = true
	}
	constants := map[string]bool{"Source": true, "Kind": true, "TargetKind": true, "Raw": true}
	typ := reflect.TypeOf(e)
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		if f.Type.Kind() != reflect.String || constants[f.Name] {
			continue
		}
		if !listed[f.Offset] {
			t.Errorf("Entry.%s is text but not in textFields: Clone would leave it borrowed", f.Name)
		}
	}
}

// A clone keeps its values when the buffer the entry was parsed from is
// overwritten, which is what the scanner does after each callback.
func TestCloneSurvivesBufferReuse(t *testing.T) {
	line := `2026/11/26 10:00:00 [error] 7#7: *9 connect() to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable) while connecting to upstream, client: 192.0.2.1, server: example.com, request: "GET /a?b=1 HTTP/1.1", upstream: "fastcgi://unix:/run/php/php8.2-fpm.sock:", host: "example.com", referrer: "https://example.com/"`
	buf := []byte(line)
	var e Entry
	if !parseNginxAt(unsafe.String(&buf[0], len(buf)), time.Unix(0, 0), &e) {
		t.Fatal("not parsed")
	}
	e.File = "error.log"
	want, _ := ParseNginx(line, time.UTC)
	c := e.Clone()
	for i := range buf {
		buf[i] = 'X'
	}
	got := reflect.ValueOf(c)
	ref := reflect.ValueOf(want)
	for i := 0; i < got.NumField(); i++ {
		name := got.Type().Field(i).Name
		if got.Field(i).Kind() != reflect.String || name == "File" {
			continue
		}
		if g, w := got.Field(i).String(), ref.Field(i).String(); g != w {
			t.Errorf("%s = %q after the buffer changed, want %q", name, g, w)
		}
	}
	if c.File != "error.log" || strings.Contains(c.Raw, "XXXX") {
		t.Errorf("clone changed with its source: File %q Raw %.40q", c.File, c.Raw)
	}
}

func TestOwnCheck(t *testing.T) {
	for req, want := range map[string]bool{
		"GET /fpmdoctor-check-0123456789ab.php HTTP/1.1":             true,
		"GET /shop/fpmdoctor-check-0123456789ab.php?x HTTP/1.1":      true,
		"GET /fpmdoctor-check-0123456789ab.php/x HTTP/1.1":           false,
		"GET /fpmdoctor-check-0123456789AB.php HTTP/1.1":             false,
		"GET /fpmdoctor-check-0123.php HTTP/1.1":                     false,
		"GET /x.php?next=/fpmdoctor-check-0123456789ab.php HTTP/1.1": false,
		"GET /ok.php HTTP/1.1":                                       false,
		"":                                                           false,
	} {
		e := Entry{Request: req}
		if got := e.OwnCheck(); got != want {
			t.Errorf("%q: OwnCheck %v, want %v", req, got, want)
		}
	}
}
