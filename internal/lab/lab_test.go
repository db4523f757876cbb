package lab

import (
	"os"
	"strings"
	"testing"
)

// TestHealthyLab proves the lab itself works: a real request through real
// nginx into real php-fpm answers 200, and stopping php-fpm turns it into 502.
func TestHealthyLab(t *testing.T) {
	l := New(t)
	l.Start()
	if body := l.MustStatus("/ok.php", 200); !strings.Contains(body, "ok") {
		t.Fatalf("body %q", body)
	}
	l.StopFPM()
	l.MustStatus("/ok.php", 502)
	log, err := os.ReadFile(l.Path("log/nginx-error.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "(2: No such file or directory)") {
		t.Fatalf("nginx error log lacks the ENOENT connect line:\n%s", log)
	}
}
