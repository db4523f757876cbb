package fpmconf

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// The php-src corpus: php-fpm configurations taken from php-src's own FPM
// tests (sapi/fpm/tests) and one-line variants, each with what the real
// `php-fpm8.2 -t` said about it. It is reference data kept outside the
// repository; CI always has it.
const corpusDir = "../../../shared/corpus/php-src-fpm"

type corpusCase struct {
	ID         string `json:"id"`
	Conf       string `json:"conf"`
	IncludeDir string `json:"include_dir"`
	Kind       string `json:"kind"`
	Variant    string `json:"variant"` // as-extracted, user-added or variant
	PHPFPMT    struct {
		Verdict string `json:"verdict"`
		Message string `json:"message"`
	} `json:"php_fpm_t"`
	// Start is "refuse" when -t accepts but php-fpm then fails to start,
	// "runs" when it was seen running; empty when not tried.
	Start string `json:"php_fpm_start"`
}

func readCorpus(t *testing.T) []corpusCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(corpusDir, "index.json"))
	if err != nil {
		if os.IsNotExist(err) {
			lab.Unavailable(t, fmt.Sprintf("php-src FPM corpus not present (%s): reference data outside the repository", corpusDir))
		}
		t.Fatalf("read the php-src FPM corpus: %v", err)
	}
	var idx struct {
		Cases []corpusCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		t.Fatalf("corpus index: %v", err)
	}
	if len(idx.Cases) == 0 {
		t.Fatal("corpus index lists no case")
	}
	return idx.Cases
}

// corpusTempDir is a fresh directory for one case. Not t.TempDir: its
// name comes from the test's, and a '~' or '!' in it is an INI operator
// that would break every path the configuration holds.
func corpusTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fpmcorpus")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// materialize writes a case into dir the way the corpus was judged:
// dir/fpm.conf plus the files of <id>.d/, with @TMP@ replaced by dir.
// It returns the main file.
func materialize(t *testing.T, c corpusCase, dir string) string {
	t.Helper()
	sub := func(b []byte) []byte { return []byte(strings.ReplaceAll(string(b), "@TMP@", dir)) }
	if c.IncludeDir != "" {
		src := filepath.Join(corpusDir, c.IncludeDir)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			dst := filepath.Join(dir, rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(dst, sub(b), 0o644)
		})
		if err != nil {
			t.Fatalf("%s: copy includes: %v", c.ID, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(corpusDir, c.Conf))
	if err != nil {
		t.Fatalf("%s: %v", c.ID, err)
	}
	conf := filepath.Join(dir, "fpm.conf")
	if err := os.WriteFile(conf, sub(b), 0o644); err != nil {
		t.Fatal(err)
	}
	return conf
}

// corpusVerdict is fpmconf's answer in the corpus's terms: "refuse" with
// the first fatal problem `php-fpm -t` would print, or "accept"; start
// is "refuse" when only php-fpm's start would fail.
func corpusVerdict(t *testing.T, conf, dir string) (verdict, message, start string) {
	t.Helper()
	cfg, err := Load(context.Background(), conf, Options{Env: func(string) string { return "" }})
	if err != nil {
		return "refuse", err.Error(), ""
	}
	verdict, start = "accept", "runs"
	for _, p := range Validate(cfg) {
		if p.Severity != Fatal {
			continue
		}
		if p.StartOnly {
			start = "refuse"
			continue
		}
		if verdict == "accept" {
			verdict, message = "refuse", strings.ReplaceAll(p.Message, dir, "@TMP@")
		}
	}
	if verdict == "refuse" {
		start = "refuse"
	}
	return verdict, message, start
}

// TestPHPSrcCorpus judges every configuration of the corpus and compares
// the verdict and message with the real php-fpm's, as recorded.
func TestPHPSrcCorpus(t *testing.T) {
	cases := readCorpus(t)
	agree := 0
	for _, c := range cases {
		dir := corpusTempDir(t)
		conf := materialize(t, c, dir)
		verdict, msg, start := corpusVerdict(t, conf, dir)
		ok := verdict == c.PHPFPMT.Verdict && msg == c.PHPFPMT.Message
		if ok {
			agree++
		} else {
			t.Errorf("%s: php-fpm -t: %s %q; fpmconf: %s %q", c.ID, c.PHPFPMT.Verdict, c.PHPFPMT.Message, verdict, msg)
		}
		if c.Start != "" && start != c.Start {
			t.Errorf("%s: php-fpm's start: %s; fpmconf: %s", c.ID, c.Start, start)
		}
	}
	t.Logf("%d of %d configurations agree with php-fpm -t", agree, len(cases))
}

// TestPHPSrcCorpusRealFPM runs the real php-fpm -t on the corpus and
// checks that the recorded verdicts still hold (a newer php-fpm could
// change them), so that TestPHPSrcCorpus compares with what php-fpm says
// today, not only with what it once said. Each run costs php-fpm about
// 90 ms of CPU: all 432 take 15 s on an idle 2-core machine and two
// minutes on a loaded one, so by default it runs a sample of 146: every
// one-line variant php-fpm refuses (their messages are what fpmconf must
// match), every case whose start was tried, and every eighth of the rest.
// FPMDOCTOR_CORPUS_ALL=1 runs all of them.
func TestPHPSrcCorpusRealFPM(t *testing.T) {
	needFPM(t)
	all := readCorpus(t)
	var cases []corpusCase
	for i, c := range all {
		if os.Getenv("FPMDOCTOR_CORPUS_ALL") != "" || c.Variant == "variant" && c.PHPFPMT.Verdict == "refuse" || c.Start != "" || i%8 == 0 {
			cases = append(cases, c)
		}
	}
	var differ atomic.Int64
	begin := time.Now()
	t.Run("each", func(t *testing.T) {
		for _, c := range cases {
			t.Run(c.ID, func(t *testing.T) {
				t.Parallel()
				dir := corpusTempDir(t)
				conf := materialize(t, c, dir)
				code, out := runFPM(t, "-t", conf, "")
				verdict, msg := "accept", ""
				if code != 0 {
					verdict, msg = "refuse", strings.ReplaceAll(firstFPMError(out), dir, "@TMP@")
				}
				if verdict != c.PHPFPMT.Verdict || msg != c.PHPFPMT.Message {
					differ.Add(1)
					t.Errorf("recorded %s %q, php-fpm -t now %s %q\n%s", c.PHPFPMT.Verdict, c.PHPFPMT.Message, verdict, msg, out)
				}
			})
		}
	})
	t.Logf("php-fpm -t on %d configurations: %d differ from the record (%v)", len(cases), differ.Load(), time.Since(begin).Round(time.Millisecond))
}
