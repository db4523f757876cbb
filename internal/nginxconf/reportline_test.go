package nginxconf

import "testing"

// nginx names the line of the token that ends a directive, not where the
// directive starts: a model problem must say the same as nginx -t.
func TestModelProblemLineIsWhereNginxSaysIt(t *testing.T) {
	c := loadString(t, "events {}\nhttp {\n  server {\n    location / {\n      fastcgi_pass unix:/run/a.sock\n        extra;\n    }\n  }\n}\n")
	m := c.Model()
	if len(m.Problems) != 1 || m.Problems[0].Line != 6 {
		t.Fatalf("problems = %+v, want one at line 6 (the ';')", m.Problems)
	}
}
