package fix_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/fix"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// plan diagnoses a lab as `fpmdoctor fix --nginx-conf … --fpm-conf …`
// would and makes the plan.
func plan(t *testing.T, l *lab.Lab) (*report.Report, *fix.Plan) {
	t.Helper()
	r, s, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}})
	if err != nil {
		t.Fatalf("diagnose: %v", err)
	}
	p, err := fix.Make(s, r)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return r, p
}

// options gives each test its own state directory.
func options(t *testing.T) fix.Options {
	return fix.Options{StateDir: t.TempDir(), Out: testWriter{t}, Settle: 5 * time.Second}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// fixLab plans and applies every remedy, as `fix --yes` does.
func fixLab(t *testing.T, l *lab.Lab, opts fix.Options) (*fix.Plan, *fix.Result) {
	t.Helper()
	r, p := plan(t, l)
	for _, f := range r.Findings {
		t.Logf("finding [%s] %s: %+v", f.Cause, f.Title, f.Evidence)
	}
	var b strings.Builder
	fix.WritePlan(&b, p)
	t.Logf("plan:\n%s", b.String())
	res, err := fix.Apply(context.Background(), p, opts)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return p, res
}

// mustFix applies the fix and requires it to succeed.
func mustFix(t *testing.T, l *lab.Lab, cause string) *fix.Plan {
	t.Helper()
	p, res := fixLab(t, l, options(t))
	if !res.Fixed {
		t.Fatalf("not fixed: %v", res.Err)
	}
	found := false
	for _, a := range p.Actions {
		found = found || a.Finding.Cause == cause
	}
	if !found {
		t.Fatalf("the plan has no %s action", cause)
	}
	return p
}

// fileHas fails the test unless the lab file rel contains want, and
// returns the file.
func fileHas(t *testing.T, l *lab.Lab, rel, want string) string {
	t.Helper()
	b, err := os.ReadFile(l.Path(rel))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), want) {
		t.Fatalf("%s lacks %q:\n%s", rel, want, b)
	}
	return string(b)
}

// healthy asserts diagnose now reports no error.
func healthy(t *testing.T, l *lab.Lab) {
	t.Helper()
	r, _ := plan(t, l)
	for _, f := range r.Findings {
		if f.Severity == report.Error {
			t.Fatalf("after the fix diagnose still reports [%s] %s", f.Cause, f.Title)
		}
	}
}

// automatic asserts diagnose marks the cause as automatically fixable.
func automatic(t *testing.T, r *report.Report, cause string) {
	t.Helper()
	for _, f := range r.Findings {
		if f.Cause == cause {
			if f.Fix == nil || !f.Fix.Automatic {
				t.Fatalf("[%s] not marked automatic: %+v", cause, f.Fix)
			}
			return
		}
	}
	t.Fatalf("no %s finding", cause)
}

func sameSums(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, s := range before {
		if after[p] != s {
			t.Errorf("%s changed: %s → %s", p, s, after[p])
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s appeared", p)
		}
	}
}

// get requests path on another server of the lab's nginx.
func get(t *testing.T, port int, host, path string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
	req.Host = host
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s%s: %v", host, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
