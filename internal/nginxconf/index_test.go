package nginxconf

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// The index Settings uses for big blocks must answer exactly as the
// scans it replaces (Directive.Inherited and InheritedAll): on random
// configurations where the same names are set, repeated and left out at
// every level, for every block and every name, and Settings itself
// against a Model without the index.
func TestChildIndexMatchesScan(t *testing.T) {
	names := []string{"fastcgi_read_timeout", "fastcgi_connect_timeout", "fastcgi_send_timeout",
		"fastcgi_buffer_size", "fastcgi_buffers", "fastcgi_next_upstream", "root", "fastcgi_param"}
	values := map[string][]string{
		"fastcgi_read_timeout":    {"5s", "120", "1m"},
		"fastcgi_connect_timeout": {"3s", "75s"},
		"fastcgi_send_timeout":    {"10s", "bad"},
		"fastcgi_buffer_size":     {"4k", "32k"},
		"fastcgi_buffers":         {"16 16k", "8 4k"},
		"fastcgi_next_upstream":   {"error timeout", "off"},
		"root":                    {"/var/www/a", "/srv/b"},
		"fastcgi_param":           {"SCRIPT_FILENAME $document_root$fastcgi_script_name", "HTTPS on if_not_empty"},
	}
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
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
					t.Fatalf("seed %d: %s: inherited %s = %v, want %v", seed, d.Pos(), n, got, want)
				}
				if got, want := m.children.inheritedAll(d, n), d.InheritedAll(n); !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d: %s: inheritedAll %s = %d directives, want %d", seed, d.Pos(), n, len(got), len(want))
				}
			}
			if d.Name == "location" || d.Name == "server" || d.Name == "http" {
				if got, want := m.Settings(d), plain.Settings(d); !reflect.DeepEqual(got, want) {
					t.Fatalf("seed %d: %s: Settings through the index = %+v, by scanning %+v", seed, d.Pos(), got, want)
				}
			}
			return true
		})
		if indexed == 0 && servers >= bigBlock {
			t.Fatalf("seed %d: %d servers but no block indexed", seed, servers)
		}
	}
}
