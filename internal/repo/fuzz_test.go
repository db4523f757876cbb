package repo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to the fpmdoctor.yaml reader: no panic,
// no hang, and every error is an *Error naming the file.
func FuzzParse(f *testing.F) {
	configs, _ := filepath.Glob("../checks/testdata/offline/*/*/" + ConfigName)
	for _, s := range configs {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "map:\n  nginx/: /etc/nginx\n", "map: {a: b, c: [d]}\n", "memory: 99999999999999999999T\n",
		"fpm-conf: [/a, /b]\nfail-on: never\n", "root: &a x\nnginx-conf: *a\n", "? [a]\n: b\n", "---\n---\n", "\t- x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.yaml", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "f.yaml" || !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error %v (%T) is not an *Error at f.yaml", err, err)
			}
			return
		}
		for _, m := range c.Map {
			if m.Line < 1 || m.File != "f.yaml" {
				t.Fatalf("mapping %+v has no position", m)
			}
		}
	})
}
