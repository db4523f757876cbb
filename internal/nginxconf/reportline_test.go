package nginxconf

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// nginx names the line of the token that ends a directive, not where the
// directive starts: a model problem must say the same as nginx -t.
func TestModelProblemLineIsWhereNginxSaysIt(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	src := "events {}\nhttp {\n  server {\n    location / {\n      fastcgi_pass unix:/run/a.sock\n        extra;\n    }\n  }\n}\n"
	if err := os.WriteFile(conf, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(context.Background(), conf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := c.Model()
	if len(m.Problems) != 1 || m.Problems[0].Line != 6 {
		t.Fatalf("problems = %+v, want one at line 6 (the ';')", m.Problems)
	}
}
