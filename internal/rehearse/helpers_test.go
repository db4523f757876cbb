package rehearse

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
)

// parseOne parses src as an nginx file and returns its first directive.
func parseOne(t *testing.T, src string) *nginxconf.Directive {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.conf")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := nginxconf.Load(context.Background(), p, nginxconf.Options{})
	if err != nil || len(cfg.Directives) == 0 {
		t.Fatalf("parse %q: %v", src, err)
	}
	return cfg.Directives[0]
}
