package repo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/fpmdoctor/fpmdoctor/docs"
	"github.com/fpmdoctor/fpmdoctor/internal/checks"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// mapped is a repository laid out unlike "/", with fpmdoctor.yaml.
const mapped = "../checks/testdata/offline/listen-mismatch/mapped-repo"

func TestConfigStrict(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"map:\n  nginx/: /etc/nginx\nmapp:\n  x: /y\n", `f.yaml:3: unknown key "mapp"`},
		{"memory: lots\n", `f.yaml:1: memory: size "lots"`},
		{"fail-on: sometimes\n", `f.yaml:1: fail-on: unknown fail-on level "sometimes"`},
		{"fpm-conf: [relative.conf]\n", `f.yaml:1: fpm-conf: want an absolute host path`},
		{"map: [nginx]\n", `f.yaml:1: map: want repository directories`},
		{"root: .\nroot: x\n", `f.yaml:2: key "root" given twice`},
		{"map:\n  a: [b\n", `f.yaml:`},
		{"- a\n", `f.yaml:1: want a mapping`},
	} {
		_, err := Parse("f.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tc.yaml, err, tc.want)
		}
	}
	c, err := Parse("f.yaml", []byte("map:\n  nginx/: /etc/nginx\n  php/: /etc/php\nmemory: 4GiB\nworker-memory: 64M\nfpm-conf: /etc/php/8.2/fpm/php-fpm.conf\nfail-on: warning\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Map) != 2 || c.Map[1] != (Mapping{Repo: "php/", Host: "/etc/php", File: "f.yaml", Line: 3}) || c.Memory != 4<<30 || c.WorkerMemory != 64<<20 || c.FailOn != "warning" || len(c.FPMConfs) != 1 {
		t.Errorf("Parse = %+v", c)
	}
}

func TestMountErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "nginx"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		m    Mapping
		want string
	}{
		{Mapping{Repo: "missing", Host: "/etc/nginx", File: "--map"}, "--map: map missing: no such directory"},
		{Mapping{Repo: "../..", Host: "/etc/nginx", File: "--map"}, "leaves the repository"},
		{Mapping{Repo: "nginx", Host: "etc/nginx", File: "fpmdoctor.yaml", Line: 3}, "fpmdoctor.yaml:3: map nginx: host path"},
		{Mapping{Repo: "nginx", Host: "/", File: "--map"}, "other than /"},
	} {
		if _, err := Tree(dir, "", &Config{}, []Mapping{tc.m}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Tree(%+v) = %v, want %q", tc.m, err, tc.want)
		}
	}
}

func TestUnknownKeyFromDisk(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte("# x\nchecks: [all]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Check(context.Background(), Options{Dir: dir})
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 2 || !strings.HasSuffix(ce.File, ConfigName) {
		t.Fatalf("Check = %v, want an *Error at %s:2", err, ConfigName)
	}
}

// Open is the reading check and lab share: the file's mappings, then the
// flags', a flag for the same host path winning; the file's errors at
// file:line; the file's main configs returned for the caller's defaults.
func TestOpenMapping(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"nginx", "nginx-next", "php"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	yaml := "map:\n  nginx/: /etc/nginx\n  php/: /etc/php/8.2/fpm\nfpm-conf: /etc/php/8.2/fpm/php-fpm.conf\n"
	if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	flags, err := ParseMapFlags([]string{"nginx-next/=/etc/nginx/"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, tree, err := Open(dir, "", flags)
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(dir)
	want := []rootfs.Mount{{Host: "/etc/nginx", Dir: filepath.Join(abs, "nginx-next")}, {Host: "/etc/php/8.2/fpm", Dir: filepath.Join(abs, "php")}}
	if tree.Root != abs || !slices.Equal(tree.Mounts, want) {
		t.Errorf("tree %+v, want root %s, mounts %+v", tree, abs, want)
	}
	if !slices.Equal(cfg.FPMConfs, []string{"/etc/php/8.2/fpm/php-fpm.conf"}) {
		t.Errorf("fpm-conf %v", cfg.FPMConfs)
	}
	if _, err := ParseMapFlags([]string{"nginx/=/etc/nginx", "nginx"}); err == nil || !strings.Contains(err.Error(), `--map "nginx"`) {
		t.Errorf("ParseMapFlags of a flag without =: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigName), []byte("map:\n  nginx/: /etc/nginx\nmapp: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(dir, "", nil); err == nil || err.Error() != filepath.Join(dir, ConfigName)+`:3: unknown key "mapp" (known: root, map, nginx-conf, fpm-conf, memory, worker-memory, fail-on)` {
		t.Errorf("Open of a typo: %v", err)
	}
}

// sarifSchemaModule embeds the OASIS SARIF 2.1.0 schema (errata 01) in
// pkg/report/v210/sarif/schema.go. The test reads it from the module
// cache instead of keeping a copy: the schema is OASIS's text.
const sarifSchemaModule = "github.com/owenrumney/go-sarif/v3@v3.3.1"

func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	unavailable := func(why string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("SARIF schema: %s", why)
		}
		t.Skipf("SARIF schema: %s", why)
	}
	out, err := exec.Command("go", "mod", "download", "-json", sarifSchemaModule).Output()
	if err != nil {
		unavailable("go mod download " + sarifSchemaModule + ": " + err.Error())
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		unavailable("no module directory")
	}
	src, err := os.ReadFile(filepath.Join(mod.Dir, "pkg/report/v210/sarif/schema.go"))
	if err != nil {
		unavailable(err.Error())
	}
	m := regexp.MustCompile("(?s)const schema = `(.*?)`").FindSubmatch(src)
	if m == nil {
		t.Fatalf("%s: no schema constant", sarifSchemaModule)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func render(t *testing.T, dir string, f func(*bytes.Buffer, *Result) error) []byte {
	t.Helper()
	res, err := Check(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f(&b, res); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sarif(b *bytes.Buffer, r *Result) error { return report.WriteSARIF(b, r.Report, r.Repo) }

// TestSARIFSchema validates the SARIF of every offline fixture and of the
// bundled examples against the SARIF 2.1.0 schema, and checks what code
// scanning needs beyond it: relative URIs under %SRCROOT%, a line and a
// column, a fingerprint, a rule per finding.
func TestSARIFSchema(t *testing.T) {
	schema := sarifSchema(t)
	dirs, _ := filepath.Glob("../checks/testdata/offline/*/*")
	dirs = append(dirs, "../../examples/php-upgrade", "../../examples/docker-tcp", "../../examples/rhel-invalid-pool")
	// The schema must be able to say no.
	bad, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"level":"fatal","message":{"text":"x"}}]}]}`))
	if schema.Validate(bad) == nil {
		t.Fatal("the schema accepts a result with level \"fatal\"")
	}
	results := 0
	for _, dir := range dirs {
		out := render(t, dir, sarif)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(doc); err != nil {
			t.Errorf("%s: SARIF does not validate: %v", dir, err)
		}
		var log struct {
			Runs []struct {
				Tool struct {
					Driver struct {
						Rules []struct{ ID string }
					}
				}
				Results []struct {
					RuleID    string
					RuleIndex int
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct{ URI, URIBaseID string }
							Region           struct{ StartLine, StartColumn int }
						}
					}
					PartialFingerprints map[string]string
				}
			}
		}
		if err := json.Unmarshal(out, &log); err != nil {
			t.Fatal(err)
		}
		run := log.Runs[0]
		for _, r := range run.Results {
			results++
			if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID {
				t.Errorf("%s: result %s points at rule %d", dir, r.RuleID, r.RuleIndex)
			}
			if len(r.Locations) != 1 {
				t.Errorf("%s: %s has %d locations", dir, r.RuleID, len(r.Locations))
				continue
			}
			pl := r.Locations[0].PhysicalLocation
			if pl.ArtifactLocation.URIBaseID != "%SRCROOT%" || strings.HasPrefix(pl.ArtifactLocation.URI, "/") {
				t.Errorf("%s: %s at %+v: want a URI relative to %%SRCROOT%%", dir, r.RuleID, pl.ArtifactLocation)
			}
			if _, err := os.Stat(filepath.Join(dir, pl.ArtifactLocation.URI)); err != nil {
				t.Errorf("%s: %s names a file not in the repository: %v", dir, r.RuleID, err)
			}
			if pl.Region.StartLine < 1 || pl.Region.StartColumn < 1 {
				t.Errorf("%s: %s region %+v", dir, r.RuleID, pl.Region)
			}
			if len(r.PartialFingerprints[report.FingerprintKey]) != 32 {
				t.Errorf("%s: %s fingerprints %v", dir, r.RuleID, r.PartialFingerprints)
			}
		}
	}
	if results < 10 {
		t.Errorf("only %d results over %d trees: the fixtures lost their findings", results, len(dirs))
	}
}

// TestSARIFGolden pins the whole SARIF of the bundled php-upgrade example
// and of the mapped repository. Refresh with
// go test ./internal/repo -run Golden -update.
func TestSARIFGolden(t *testing.T) {
	for name, dir := range map[string]string{"php-upgrade": "../../examples/php-upgrade", "mapped-repo": mapped} {
		out := render(t, dir, sarif)
		// The repository's absolute path differs per checkout.
		abs, _ := filepath.Abs(dir)
		if real, err := filepath.EvalSymlinks(abs); err == nil {
			abs = real
		}
		out = bytes.ReplaceAll(out, []byte("file://"+abs+"/"), []byte("file:///REPO/"))
		out = helpAsPageNames(t, out)
		golden := "testdata/golden/" + name + ".sarif"
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, out, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if !bytes.Equal(out, want) {
			t.Errorf("SARIF differs from %s (run with -update and review the diff):\n%s", golden, out)
		}
	}
}

// helpAsPageNames checks that every rule's help is its cause's page, word
// for word, and puts the page's name in its place: the golden then pins
// the SARIF's shape and content, not the prose of pages that change for
// their own reasons.
func helpAsPageNames(t *testing.T, out []byte) []byte {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("SARIF is not JSON: %v", err)
	}
	for _, run := range doc["runs"].([]any) {
		driver := run.(map[string]any)["tool"].(map[string]any)["driver"].(map[string]any)
		rules, _ := driver["rules"].([]any)
		for _, r := range rules {
			rule := r.(map[string]any)
			id := rule["id"].(string)
			page, ok := docs.Cause(id)
			help, _ := rule["help"].(map[string]any)
			if !ok || help == nil || help["text"] != page || help["markdown"] != page {
				t.Errorf("rule %s: its help is not docs/causes/%s.md", id, id)
				continue
			}
			rule["help"] = map[string]any{"text": "docs/causes/" + id + ".md", "markdown": "docs/causes/" + id + ".md"}
		}
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestFingerprintIgnoresLines: adding lines above a finding changes its
// line, not its fingerprint, so code scanning does not reopen it.
func TestFingerprintIgnoresLines(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(mapped)); err != nil {
		t.Fatal(err)
	}
	fp := func() (string, int) {
		res, err := Check(context.Background(), Options{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		ps := report.PlaceAll(res.Report, res.Repo)
		if len(ps) != 1 {
			t.Fatalf("%d findings, want 1", len(ps))
		}
		return ps[0].Fingerprint, ps[0].Place.Line
	}
	before, line := fp()
	site := filepath.Join(dir, "nginx/sites-available/shop.example.com")
	src, _ := os.ReadFile(site)
	if err := os.WriteFile(site, append([]byte("# moved down\n\n"), src...), 0o644); err != nil {
		t.Fatal(err)
	}
	after, line2 := fp()
	if line2 != line+2 || after != before {
		t.Errorf("line %d → %d, fingerprint %s → %s: want the line to move and the fingerprint to stay", line, line2, before, after)
	}
}

func TestCodeQuality(t *testing.T) {
	out := render(t, mapped, func(b *bytes.Buffer, r *Result) error { return report.WriteCodeQuality(b, r.Report, r.Repo) })
	var issues []map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&issues); err != nil {
		t.Fatal(err)
	}
	if len(issues) != 1 {
		t.Fatalf("%d issues, want 1:\n%s", len(issues), out)
	}
	is := issues[0]
	loc, _ := is["location"].(map[string]any)
	lines, _ := loc["lines"].(map[string]any)
	if is["check_name"] != "listen-mismatch" || is["severity"] != "critical" || loc["path"] != "nginx/sites-available/shop.example.com" ||
		lines["begin"] != json.Number("7") || len(is["fingerprint"].(string)) != 32 || !strings.HasPrefix(is["description"].(string), "listen-mismatch: ") {
		t.Errorf("issue %s", out)
	}
}

// TestRulesHaveDocs: every cause a check reports becomes a SARIF rule,
// which needs the page's title, the page as help and a default level from
// the causes index.
func TestRulesHaveDocs(t *testing.T) {
	var all []string
	for _, c := range checks.All() {
		all = append(all, c.Cause)
	}
	for _, cause := range all {
		if docs.Title(cause) == "" {
			t.Errorf("cause %s: no docs/causes/%s.md", cause, cause)
		}
		if sev := docs.UsualSeverity(cause); sev != "error" && sev != "warning" && sev != "info" {
			t.Errorf("cause %s: usual severity %q in docs/causes/README.md, want error, warning or info", cause, sev)
		}
	}
	for _, want := range []string{"listen-mismatch", "fpm-config-invalid", "nginx-config-invalid", "allowed-clients", "request-timeout", "memory-overcommit", "unused-pool", "socket-naming", "listen-all-addresses"} {
		if !slices.Contains(OfflineCauses(), want) {
			t.Errorf("OfflineCauses() lacks %s", want)
		}
	}
}
