package nginxconf

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The index Settings uses for big blocks must answer exactly as the
// scans it replaces (Directive.Inherited and InheritedAll): on random
// configurations where the same names are set, repeated and left out at
// every level, for every block and every name, and Settings itself
// against a Model without the index; FastCGIPass.ReadTimeout as Settings.
func TestChildIndexMatchesScan(t *testing.T) {
	names := []string{"fastcgi_read_timeout", "fastcgi_connect_timeout", "fastcgi_send_timeout",
		"fastcgi_buffer_size", "fastcgi_buffers", "fastcgi_next_upstream", "root", "fastcgi_param"}
	values := map[string][]string{
		"fastcgi_read_timeout":    {"5s", "120", "1m", "soon"},
		"fastcgi_connect_timeout": {"3s", "75s"},
		"fastcgi_send_timeout":    {"10s", "bad"},
		"fastcgi_buffer_size":     {"4k", "32k"},
		"fastcgi_buffers":         {"16 16k", "8 4k"},
		"fastcgi_next_upstream":   {"error timeout", "off"},
		"root":                    {"/var/www/a", "/srv/b"},
		"fastcgi_param":           {"SCRIPT_FILENAME $document_root$fastcgi_script_name", "HTTPS on if_not_empty"},
	}
	for trial := range uint64(20) {
		rng := rand.New(rand.NewPCG(trial, 7))
		directives := func(b *strings.Builder, indent string, max int) {
			for range rng.IntN(max + 1) {
				n := names[rng.IntN(len(names))]
				v := values[n][rng.IntN(len(values[n]))]
				fmt.Fprintf(b, "%s%s %s;\n", indent, n, v)
			}
		}
		var b strings.Builder
		b.WriteString("events {}\nhttp {\n")
		directives(&b, "    ", 6)
		// Enough servers that http is indexed (bigBlock), some below it.
		servers := bigBlock/2 + rng.IntN(3*bigBlock)
		for i := range servers {
			fmt.Fprintf(&b, "    server {\n        listen %d;\n", 8000+i)
			directives(&b, "        ", 4)
			for j := range rng.IntN(3) {
				fmt.Fprintf(&b, "        location /l%d {\n", j)
				directives(&b, "            ", 3)
				if rng.IntN(2) == 0 {
					b.WriteString("            location ~ \\.php$ {\n")
					directives(&b, "                ", 3)
					b.WriteString("                fastcgi_pass unix:/run/php.sock;\n            }\n")
				}
				b.WriteString("        }\n")
			}
			if rng.IntN(3) == 0 {
				directives(&b, "    ", 2) // between servers: http's own, after some of them
			}
			b.WriteString("    }\n")
		}
		b.WriteString("}\n")
		c := loadString(t, b.String())
		m := c.Model()
		plain := *m
		plain.children = nil
		blocks, indexed := 0, 0
		c.Walk(func(d *Directive) bool {
			if !d.IsBlock {
				return true
			}
			blocks++
			if len(d.Block) >= bigBlock {
				indexed++
			}
			for _, n := range names {
				if got, want := m.children.inherited(d, n), d.Inherited(n); got != want {
					t.Fatalf("trial %d: %s: inherited %s = %v, want %v", trial, d.Pos(), n, got, want)
				}
				if got, want := m.children.inheritedAll(d, n), d.InheritedAll(n); !reflect.DeepEqual(got, want) {
					t.Fatalf("trial %d: %s: inheritedAll %s = %d directives, want %d", trial, d.Pos(), n, len(got), len(want))
				}
			}
			if d.Name == "location" || d.Name == "server" || d.Name == "http" {
				if got, want := m.Settings(d), plain.Settings(d); !reflect.DeepEqual(got, want) {
					t.Fatalf("trial %d: %s: Settings through the index = %+v, by scanning %+v", trial, d.Pos(), got, want)
				}
			}
			return true
		})
		// ReadTimeout answers as Settings, without the rest of it.
		for _, p := range m.FastCGIPasses {
			set := plain.Settings(p.Directive.Parent)
			if v, from := p.ReadTimeout(); v != set.ReadTimeout || from != set.From["fastcgi_read_timeout"] {
				t.Fatalf("trial %d: %s: ReadTimeout = %v from %v, Settings %v from %v", trial, p.Directive.Pos(), v, from, set.ReadTimeout, set.From["fastcgi_read_timeout"])
			}
			// So do NextUpstream and Inherited.
			if got := p.NextUpstream(); !reflect.DeepEqual(got, set.NextUpstream) {
				t.Fatalf("trial %d: %s: NextUpstream = %v, Settings %v", trial, p.Directive.Pos(), got, set.NextUpstream)
			}
			for _, n := range names {
				if got, want := p.Inherited(n), p.Directive.Parent.Inherited(n); got != want {
					t.Fatalf("trial %d: %s: pass's Inherited %s = %v, want %v", trial, p.Directive.Pos(), n, got, want)
				}
			}
		}
		if len(m.FastCGIPasses) == 0 {
			t.Fatalf("trial %d: no fastcgi_pass", trial)
		}
		if indexed == 0 && servers >= bigBlock {
			t.Fatalf("trial %d: %d servers but no block indexed", trial, servers)
		}
	}
}

// ReadTimeout: the nearest level's value, nginx's 60s when unset or
// unparsable, and the directive it comes from even when unparsable (as
// Settings().From, which evidence quotes).
func TestPassReadTimeout(t *testing.T) {
	c := loadString(t, `events {}
http {
    fastcgi_read_timeout 90s;
    server {
        listen 80;
        location /a { fastcgi_pass unix:/a.sock; }
        location /b { fastcgi_read_timeout 5s; fastcgi_pass unix:/b.sock; }
        location /c { fastcgi_read_timeout soon; fastcgi_pass unix:/c.sock; }
    }
}
`)
	m := c.Model()
	want := []struct {
		v    time.Duration
		line int
	}{{90 * time.Second, 3}, {5 * time.Second, 7}, {60 * time.Second, 8}}
	if len(m.FastCGIPasses) != len(want) {
		t.Fatalf("%d passes", len(m.FastCGIPasses))
	}
	for i, p := range m.FastCGIPasses {
		v, from := p.ReadTimeout()
		if v != want[i].v || from == nil || from.Line != want[i].line {
			t.Errorf("pass %d: %v from %v, want %v from line %d", i, v, from, want[i].v, want[i].line)
		}
	}
}
