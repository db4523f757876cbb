package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The CI integrations (action.yml, docs/examples/*.yml,
// .pre-commit-hooks.yaml) are run here as far as this machine can: the
// exact command lines they contain, against a broken and a healthy
// repository, with the binary built from this tree.

const (
	brokenRepo  = "../../internal/checks/testdata/offline/listen-mismatch/mapped-repo"
	healthyRepo = "../../internal/checks/testdata/offline/healthy/debian"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// fpmdoctorBin builds the command once per test binary into a directory
// of its own, so that scripts find it as "fpmdoctor" on PATH.
func fpmdoctorBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "fpmdoctor-bin-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "fpmdoctor"), ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build fpmdoctor: %v", buildErr)
	}
	return binDir
}

// copyRepo copies a fixture into a fresh directory (links kept).
func copyRepo(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "configs")
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v\n%s", err, out)
	}
	return dst
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

type actionFile struct {
	Inputs map[string]struct {
		Default string `yaml:"default"`
	} `yaml:"inputs"`
	Runs struct {
		Using string `yaml:"using"`
		Steps []struct {
			ID   string            `yaml:"id"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			Env  map[string]string `yaml:"env"`
			With map[string]string `yaml:"with"`
			If   string            `yaml:"if"`
		} `yaml:"steps"`
	} `yaml:"runs"`
}

var inputRef = regexp.MustCompile(`^\$\{\{ inputs\.([a-z-]+) \}\}$`)

// runActionCheck runs action.yml's check step as the runner would, with
// the inputs given (defaults for the others), and returns the step's
// outputs and exit status.
func runActionCheck(t *testing.T, a *actionFile, inputs map[string]string) (map[string]string, int) {
	t.Helper()
	for _, st := range a.Runs.Steps {
		if st.ID != "check" {
			continue
		}
		tmp := t.TempDir()
		bin, err := os.ReadFile(filepath.Join(fpmdoctorBin(t), "fpmdoctor"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tmp, "fpmdoctor"), bin, 0o755); err != nil {
			t.Fatal(err)
		}
		outFile := filepath.Join(tmp, "github_output")
		env := append(os.Environ(), "RUNNER_TEMP="+tmp, "GITHUB_OUTPUT="+outFile)
		for k, v := range st.Env {
			m := inputRef.FindStringSubmatch(v)
			if m == nil {
				t.Fatalf("check step: env %s = %q: want ${{ inputs.NAME }}", k, v)
			}
			in, ok := a.Inputs[m[1]]
			if !ok {
				t.Fatalf("check step: env %s names input %q, which action.yml does not declare", k, m[1])
			}
			val := in.Default
			if given, ok := inputs[m[1]]; ok {
				val = given
			}
			env = append(env, k+"="+val)
		}
		cmd := exec.Command("bash", "-e", "-c", st.Run)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err = cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		outs := map[string]string{}
		data, _ := os.ReadFile(outFile)
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if k, v, ok := strings.Cut(l, "="); ok {
				outs[k] = v
			}
		}
		outs["stderr"] = stderr.String()
		return outs, code
	}
	t.Fatal("action.yml has no step with id check")
	return nil, 0
}

func TestActionYML(t *testing.T) {
	var a actionFile
	readYAML(t, "../../action.yml", &a)
	if a.Runs.Using != "composite" {
		t.Fatalf("runs.using = %q, want composite", a.Runs.Using)
	}
	upload := false
	for _, st := range a.Runs.Steps {
		if strings.HasPrefix(st.Uses, "github/codeql-action/upload-sarif@") {
			upload = true
			if st.With["sarif_file"] != "${{ steps.check.outputs.sarif }}" {
				t.Errorf("upload-sarif reads %q, not the check step's file", st.With["sarif_file"])
			}
		}
	}
	if !upload {
		t.Error("action.yml does not upload with github/codeql-action/upload-sarif")
	}

	// Broken configs: status 1, a SARIF with the finding.
	outs, code := runActionCheck(t, &a, map[string]string{"path": copyRepo(t, brokenRepo)})
	if code != 0 || outs["status"] != "1" {
		t.Fatalf("broken repository: step exit %d, status %q, want 0 and 1 (the last step fails the job)\n%s", code, outs["status"], outs["stderr"])
	}
	sarif, err := os.ReadFile(outs["sarif"])
	if err != nil {
		t.Fatal(err)
	}
	var log struct {
		Runs []struct {
			Results []struct{ RuleID string }
		}
	}
	if err := json.Unmarshal(sarif, &log); err != nil || len(log.Runs) != 1 || len(log.Runs[0].Results) != 1 || log.Runs[0].Results[0].RuleID != "listen-mismatch" {
		t.Errorf("SARIF: %v\n%s", err, sarif)
	}
	// Healthy: status 0.
	if outs, _ := runActionCheck(t, &a, map[string]string{"path": copyRepo(t, healthyRepo)}); outs["status"] != "0" {
		t.Errorf("healthy repository: status %q\n%s", outs["status"], outs["stderr"])
	}
	// A wrong argument stops the step with 2, before any upload.
	outs, code = runActionCheck(t, &a, map[string]string{"path": copyRepo(t, healthyRepo), "args": "--no-such-flag"})
	if code != 2 || outs["status"] != "2" {
		t.Errorf("bad args: exit %d, status %q, want 2", code, outs["status"])
	}
}

func TestGitHubWorkflowExample(t *testing.T) {
	var a actionFile
	readYAML(t, "../../action.yml", &a)
	var wf struct {
		Permissions map[string]string `yaml:"permissions"`
		Jobs        map[string]struct {
			Steps []struct {
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	readYAML(t, "../../docs/examples/github-workflow.yml", &wf)
	if wf.Permissions["security-events"] != "write" {
		t.Error("the workflow cannot upload SARIF without permissions security-events: write")
	}
	repo := copyRepo(t, brokenRepo)
	gitInit(t, repo)
	used := 0
	for _, job := range wf.Jobs {
		for _, st := range job.Steps {
			if !strings.HasPrefix(st.Uses, "fpmdoctor/fpmdoctor@") {
				continue
			}
			used++
			inputs := map[string]string{}
			for k, v := range st.With {
				if _, ok := a.Inputs[k]; !ok {
					t.Errorf("the workflow passes %q, which action.yml does not declare", k)
				}
				// The pull request's base is this repository's HEAD.
				inputs[k] = strings.ReplaceAll(v, "origin/${{ github.base_ref }}", "HEAD")
			}
			inputs["path"] = repo
			outs, _ := runActionCheck(t, &a, inputs)
			if outs["status"] != "0" && outs["status"] != "1" {
				t.Errorf("with %v: status %q\n%s", st.With, outs["status"], outs["stderr"])
			}
		}
	}
	if used == 0 {
		t.Error("the example workflow does not use the action")
	}
}

func gitInit(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false", "commit", "-qm", "configs"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
}

func TestGitLabExample(t *testing.T) {
	var ci map[string]struct {
		Script    []string `yaml:"script"`
		Artifacts struct {
			Reports struct {
				Codequality string `yaml:"codequality"`
			} `yaml:"reports"`
		} `yaml:"artifacts"`
	}
	readYAML(t, "../../docs/examples/gitlab-ci.yml", &ci)
	job, ok := ci["fpmdoctor"]
	if !ok || job.Artifacts.Reports.Codequality == "" {
		t.Fatal("no fpmdoctor job with artifacts:reports:codequality")
	}
	bin := fpmdoctorBin(t)
	for _, tc := range []struct {
		repo string
		last int // exit status of the gating line
	}{{brokenRepo, 1}, {healthyRepo, 0}} {
		dir := copyRepo(t, tc.repo)
		for i, line := range job.Script {
			cmd := exec.Command("bash", "-c", line)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			}
			want := 0
			if i == len(job.Script)-1 {
				want = tc.last
			}
			if code != want {
				t.Errorf("%s: %q exited %d, want %d\n%s", tc.repo, line, code, want, out)
			}
		}
		data, err := os.ReadFile(filepath.Join(dir, job.Artifacts.Reports.Codequality))
		if err != nil {
			t.Fatal(err)
		}
		var issues []struct {
			Description, CheckName, Fingerprint, Severity string
			Location                                      struct {
				Path  string
				Lines struct{ Begin int }
			}
		}
		if err := json.Unmarshal(bytes.ReplaceAll(data, []byte(`"check_name"`), []byte(`"CheckName"`)), &issues); err != nil {
			t.Fatalf("%s: %v", job.Artifacts.Reports.Codequality, err)
		}
		for _, is := range issues {
			if is.Description == "" || is.CheckName == "" || len(is.Fingerprint) != 32 || is.Severity == "" || is.Location.Path == "" || is.Location.Lines.Begin < 1 {
				t.Errorf("incomplete issue %+v", is)
			}
			if _, err := os.Stat(filepath.Join(dir, is.Location.Path)); err != nil {
				t.Errorf("issue path: %v", err)
			}
		}
		if (len(issues) > 0) != (tc.last == 1) {
			t.Errorf("%s: %d issues", tc.repo, len(issues))
		}
	}
}

// TestPreCommitHook runs pre-commit itself (try-repo on this repository)
// in a git repository of configs: the hook builds fpmdoctor with the
// system Go and fails on the broken configs, passes on healthy ones.
func TestPreCommitHook(t *testing.T) {
	t.Parallel() // building the hook with pre-commit takes a while
	var hooks []struct {
		ID       string `yaml:"id"`
		Entry    string `yaml:"entry"`
		Language string `yaml:"language"`
	}
	readYAML(t, "../../.pre-commit-hooks.yaml", &hooks)
	if len(hooks) != 1 || hooks[0].ID != "fpmdoctor-check" || hooks[0].Entry != "fpmdoctor check" || hooks[0].Language != "golang" {
		t.Fatalf(".pre-commit-hooks.yaml: %+v", hooks)
	}
	if _, err := exec.LookPath("pre-commit"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("pre-commit is not installed (apt-get install pre-commit)")
		}
		t.Skip("pre-commit is not installed")
	}
	self, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir() // pre-commit's cache: the hook is built once here
	gomodcache, _ := exec.Command("go", "env", "GOMODCACHE").Output()
	for _, tc := range []struct {
		repo string
		fail bool
	}{{brokenRepo, true}, {healthyRepo, false}} {
		dir := copyRepo(t, tc.repo)
		gitInit(t, dir)
		cmd := exec.Command("pre-commit", "try-repo", self, "fpmdoctor-check", "--all-files")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PRE_COMMIT_HOME="+home, "GOMODCACHE="+strings.TrimSpace(string(gomodcache)), "GOFLAGS=-buildvcs=false")
		out, err := cmd.CombinedOutput()
		failed := err != nil
		if failed != tc.fail || !strings.Contains(string(out), "fpmdoctor check") {
			t.Errorf("%s: pre-commit failed=%v, want %v\n%s", tc.repo, failed, tc.fail, out)
		}
		if tc.fail && !strings.Contains(string(out), "listen-mismatch") {
			t.Errorf("the hook's output lacks the finding:\n%s", out)
		}
	}
}
