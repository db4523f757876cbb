package nginxconf

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// The real-nginx corpus: nginx configurations that PHP applications
// publish (Magento, Nextcloud, Drupal, WordPress…), each made loadable by
// Debian's nginx with a few recorded edits. Reference data kept outside
// the repository; CI always has it.
const realConfDir = "../../../shared/corpus/real-nginx"

type realConf struct {
	App       string `json:"app"`
	Dir       string `json:"dir"`
	NginxConf string `json:"nginx_conf"`
	Files     []struct {
		Dest  string `json:"dest"`
		Edits []struct {
			From  string `json:"from"`
			To    string `json:"to"`
			Times int    `json:"times"`
			Why   string `json:"why"`
		} `json:"edits"`
	} `json:"files"`
}

// materializeRealConf copies an app's tree and the shared certificates to
// dir, moving its runtime paths (/tmp/realconf) below dir. With published,
// the edits made only because nginx -t refused the published text are
// undone.
func materializeRealConf(t *testing.T, c realConf, dir string, published bool) string {
	t.Helper()
	runtime := strings.NewReplacer("/tmp/realconf", dir+"/realconf")
	for _, sub := range []string{c.Dir, "_tls"} {
		src := filepath.Join(realConfDir, sub)
		err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(realConfDir, p)
			to := filepath.Join(dir, rel)
			if d.IsDir() {
				return os.MkdirAll(to, 0o755)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(to, []byte(runtime.Replace(string(b))), 0o644)
		})
		if err != nil {
			t.Fatalf("%s: %v", c.App, err)
		}
	}
	if published {
		for _, f := range c.Files {
			for _, e := range f.Edits {
				if !strings.Contains(e.Why, "nginx -t fails") {
					continue
				}
				p := filepath.Join(dir, c.Dir, f.Dest)
				b, err := os.ReadFile(p)
				if err != nil || !strings.Contains(string(b), e.To) {
					t.Fatalf("%s: cannot undo the edit of %s (%v)", c.App, f.Dest, err)
				}
				mustWrite(t, p, strings.Replace(string(b), e.To, e.From, 1))
			}
		}
	}
	return filepath.Join(dir, c.Dir, c.NginxConf)
}

var missingPath = regexp.MustCompile(`open\(\) "([^"]+)" failed \(2: No such file or directory\)|mkdir\(\) "([^"]+)" failed \(2: No such file or directory\)`)

// realNginxTest runs nginx -t on main. The runtime directories (logs, pid,
// temp paths) below dir are created as nginx asks for them, since nginx -t
// opens its log and pid files.
func realNginxTest(t *testing.T, main, dir string) (ok bool, msg, file, line string) {
	t.Helper()
	for range 20 {
		out, err := exec.Command(nginxPath, "-t", "-q", "-c", main).CombinedOutput()
		if err == nil {
			return true, "", "", ""
		}
		if m := missingPath.FindSubmatch(out); m != nil {
			p := string(m[1]) + string(m[2])
			if strings.HasPrefix(p, dir+"/realconf/") {
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				continue
			}
		}
		m := emergLine.FindSubmatch(out)
		if m == nil {
			t.Fatalf("nginx -t failed without [emerg]:\n%s", out)
		}
		return false, string(m[1]), string(m[2]), string(m[3])
	}
	t.Fatalf("nginx -t keeps asking for directories")
	return
}

// TestRealNginxConfigs loads every published configuration of the corpus
// and holds fpmdoctor's reading against the real nginx -t: the same
// verdict, the same first error (message, file, line) where nginx refuses,
// and the same files read (nginx -T) where it accepts. Each configuration
// is judged as stored and as published (undoing the edits made only
// because nginx -t refused the published text: Matomo's try_files, which
// Debian's fastcgi-php snippet duplicates).
func TestRealNginxConfigs(t *testing.T) {
	needNginx(t)
	data, err := os.ReadFile(filepath.Join(realConfDir, "index.json"))
	if err != nil {
		if os.IsNotExist(err) {
			lab.Unavailable(t, fmt.Sprintf("real-nginx corpus not present (%s): reference data outside the repository", realConfDir))
		}
		t.Fatal(err)
	}
	var idx struct {
		Configs []realConf `json:"configs"`
	}
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.Configs) == 0 {
		t.Fatalf("corpus index: %v (%d configs)", err, len(idx.Configs))
	}
	agree, total := 0, 0
	for _, c := range idx.Configs {
		for _, published := range []bool{false, true} {
			if published && !hasRefusedEdit(c) {
				continue
			}
			name := c.App
			if published {
				name += " as published"
			}
			total++
			dir := t.TempDir()
			main := materializeRealConf(t, c, dir, published)
			ok, msg, file, line := realNginxTest(t, main, dir)
			cfg := mustLoad(t, main, Options{})
			problems := append(append([]Problem(nil), cfg.Problems...), cfg.Model().Problems...)
			switch {
			case ok && len(problems) > 0:
				t.Errorf("%s: nginx -t accepts, fpmdoctor reports %v", name, problems)
			case !ok && len(problems) == 0:
				t.Errorf("%s: nginx -t refuses (%s in %s:%s), fpmdoctor reports nothing", name, msg, file, line)
			case !ok && (problems[0].Message != msg || problems[0].File != file || fmt.Sprint(problems[0].Line) != line):
				t.Errorf("%s: nginx -t says %s in %s:%s, fpmdoctor %v", name, msg, file, line, problems[0])
			case ok && !sameFiles(t, cfg, main):
				t.Errorf("%s: fpmdoctor reads other files than nginx -T", name)
			default:
				agree++
				if !ok {
					t.Logf("%s: both refuse: %s in %s:%s", name, msg, strings.TrimPrefix(file, dir+"/"), line)
				}
			}
		}
	}
	t.Logf("%d of %d published nginx configurations: fpmdoctor agrees with nginx -t", agree, total)
}

func hasRefusedEdit(c realConf) bool {
	for _, f := range c.Files {
		for _, e := range f.Edits {
			if strings.Contains(e.Why, "nginx -t fails") {
				return true
			}
		}
	}
	return false
}

// sameFiles compares the files read with those nginx -T dumps.
func sameFiles(t *testing.T, c *Config, main string) bool {
	var ours, theirs []string
	for _, f := range c.Files {
		ours = append(ours, f.Path)
	}
	for _, f := range nginxDump(t, main, filepath.Dir(main)) {
		theirs = append(theirs, f.Path)
	}
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Logf("files differ\nours:\n%s\nnginx:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"))
		return false
	}
	return true
}
