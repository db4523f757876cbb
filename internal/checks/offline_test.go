package checks_test

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/repo"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// wantRe finds the expected findings written in a fixture's configs:
// "# want CAUSE" in nginx files, "; want CAUSE" in php-fpm files (several
// causes separated by commas).
var wantRe = regexp.MustCompile(`[#;]\s*want\s+([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)\s*$`)

// TestOfflineFixtures runs `fpmdoctor check` on every tree under
// testdata/offline/CAUSE/CASE (a copy of a server, or a repository with
// fpmdoctor.yaml) and matches each finding's config evidence (file:line)
// with the want comments: a finding no comment expects, or a comment no
// finding meets, fails. Needs no root and no servers; the real-server
// tests beside each check stay the source of truth.
func TestOfflineFixtures(t *testing.T) {
	cases, err := filepath.Glob("testdata/offline/*/*")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, dir := range cases {
		t.Run(strings.TrimPrefix(dir, "testdata/offline/"), func(t *testing.T) {
			t.Parallel()
			res, err := repo.Check(context.Background(), repo.Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			matchWants(t, dir, res)
		})
	}
}

// wantKey is one expected finding: cause at repository file:line.
type wantKey struct {
	file  string
	line  int
	cause string
}

func readWants(t *testing.T, dir string) map[wantKey]bool {
	t.Helper()
	wants := map[wantKey]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		rel, _ := filepath.Rel(dir, p)
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			if m := wantRe.FindStringSubmatch(sc.Text()); m != nil {
				for _, c := range strings.Split(m[1], ",") {
					wants[wantKey{filepath.ToSlash(rel), n, strings.TrimSpace(c)}] = true
				}
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return wants
}

func matchWants(t *testing.T, dir string, res *repo.Result) {
	t.Helper()
	wants := readWants(t, dir)
	met := map[wantKey]bool{}
	for _, f := range res.Report.Findings {
		var at []string
		ok := false
		for _, e := range f.Evidence {
			if e.Kind != report.KindConfig || e.File == "" {
				continue
			}
			rel, in := res.Repo.Locator.File(e.File)
			if !in {
				continue
			}
			k := wantKey{rel, e.Line, f.Cause}
			at = append(at, fmt.Sprintf("%s:%d", rel, e.Line))
			if wants[k] {
				met[k], ok = true, true
			}
		}
		if !ok {
			t.Errorf("unexpected %s %s at %v: %s", f.Severity, f.Cause, at, f.Title)
		}
	}
	var missed []string
	for k := range wants {
		if !met[k] {
			missed = append(missed, fmt.Sprintf("%s:%d: want %s", k.file, k.line, k.cause))
		}
	}
	slices.Sort(missed)
	for _, m := range missed {
		t.Errorf("%s: no such finding", m)
	}
}
