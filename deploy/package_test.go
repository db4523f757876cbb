package deploy

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// testVersion is the version the tests build the packages with.
const testVersion = "9.9.9~test"

// built holds the packages scripts/package writes, built once per test
// binary: the package test and the booted-host test share them.
type built struct {
	once     sync.Once
	deb, rpm string
	err      error
	took     time.Duration
}

var packages built

// buildPackages runs scripts/package (the real one, as a release would)
// into a temporary directory and returns the .deb and .rpm.
func buildPackages(t *testing.T) (deb, rpm string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the packages")
	}
	if _, err := exec.LookPath("git"); err != nil {
		lab.Unavailable(t, "scripts/package needs git")
	}
	packages.once.Do(func() {
		dist, err := os.MkdirTemp("", "fpmdoctor-dist-")
		if err != nil {
			packages.err = err
			return
		}
		start := time.Now()
		cmd := exec.Command("../scripts/package")
		cmd.Env = append(os.Environ(), "DIST="+dist, "VERSION="+testVersion)
		out, err := cmd.CombinedOutput()
		packages.took = time.Since(start)
		if err != nil {
			packages.err = &packageError{err: err, out: string(out)}
			return
		}
		packages.deb = filepath.Join(dist, "fpmdoctor_"+testVersion+"_amd64.deb")
		packages.rpm = filepath.Join(dist, "fpmdoctor_"+testVersion+"_amd64.rpm")
	})
	if packages.err != nil {
		t.Fatalf("scripts/package: %v", packages.err)
	}
	t.Logf("scripts/package took %s", packages.took.Round(time.Millisecond))
	return packages.deb, packages.rpm
}

type packageError struct {
	err error
	out string
}

func (e *packageError) Error() string { return e.err.Error() + "\n" + e.out }

// wantFiles is the package's file list (without directories) for the
// given packager, given the commands the binary has (each gets a man page).
func wantFiles(packager string, commands []string) []string {
	unit, zsh := "/lib/systemd/system/fpmdoctor-watch.service", "/usr/share/zsh/vendor-completions/_fpmdoctor"
	if packager == "rpm" {
		unit, zsh = "/usr/lib/systemd/system/fpmdoctor-watch.service", "/usr/share/zsh/site-functions/_fpmdoctor"
	}
	files := []string{
		"/usr/bin/fpmdoctor", "/usr/bin/fpmdoctor-watch", "/usr/bin/fpmdoctor-probe", unit, zsh,
		"/usr/share/bash-completion/completions/fpmdoctor",
		"/usr/share/fish/vendor_completions.d/fpmdoctor.fish",
		"/usr/share/doc/fpmdoctor/README.md",
		"/usr/share/doc/fpmdoctor/examples/prometheus/rules.yml",
		"/usr/share/doc/fpmdoctor/examples/prometheus/prometheus.yml",
		"/usr/share/doc/fpmdoctor/examples/grafana/fpmdoctor.json",
		"/usr/share/man/man1/fpmdoctor.1.gz",
	}
	for _, c := range commands {
		files = append(files, "/usr/share/man/man1/fpmdoctor-"+c+".1.gz")
	}
	docs, _ := filepath.Glob("../docs/*.md")
	causes, _ := filepath.Glob("../docs/causes/*.md")
	for _, d := range append(docs, causes...) {
		files = append(files, "/usr/share/doc/fpmdoctor/"+strings.TrimPrefix(d, "../"))
	}
	sort.Strings(files)
	return files
}

// TestPackages builds the .deb and .rpm with scripts/package and checks
// them with the distributions' own tools: the exact file list, the
// control data, and the packaged binary itself (static, the version it
// was built with, no gen-docs).
func TestPackages(t *testing.T) {
	t.Parallel() // the three slow tests overlap; the packages are built once
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		lab.Unavailable(t, "dpkg-deb is not installed")
	}
	deb, rpm := buildPackages(t)
	for _, p := range []string{deb, rpm} {
		if st, err := os.Stat(p); err == nil {
			t.Logf("%s: %d bytes", filepath.Base(p), st.Size())
		}
	}

	// The packaged binary, unpacked: what users get.
	root := t.TempDir()
	if out, err := exec.Command("dpkg-deb", "-x", deb, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	bin := filepath.Join(root, "usr/bin/fpmdoctor")
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("/usr/bin/fpmdoctor is dynamically linked (%v): CGO_ENABLED=0 was lost", p.Type)
		}
	}
	f.Close()
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "fpmdoctor "+testVersion+" (commit ") || strings.Contains(string(out), "commit unknown") {
		t.Errorf("packaged fpmdoctor --version: %q, %v", out, err)
	}
	if out, err := exec.Command(bin, "gen-docs", "--man", t.TempDir()).CombinedOutput(); err == nil {
		t.Errorf("the shipped binary has gen-docs (it belongs to -tags gendocs builds only): %s", out)
	}
	// Every command users can run has a man page: ask the binary.
	out, err = exec.Command(bin, "__complete", "").Output()
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	for _, l := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(l, "\t")
		if name == "" || strings.HasPrefix(name, ":") || name == "help" {
			continue
		}
		commands = append(commands, name)
		// Subcommands (completion bash, lab stop) get pages of their own;
		// each command's help lists them.
		help, err := exec.Command(bin, name, "--help").Output()
		if err != nil {
			t.Fatalf("%s --help: %v", name, err)
		}
		if _, list, ok := strings.Cut(string(help), "Available Commands:\n"); ok {
			list, _, _ = strings.Cut(list, "\n\n")
			for _, l := range strings.Split(list, "\n") {
				if sub := strings.Fields(l); len(sub) > 0 && sub[0] != "help" {
					commands = append(commands, name+"-"+sub[0])
				}
			}
		}
	}
	if !slices.Contains(commands, "diagnose") || !slices.Contains(commands, "version") {
		t.Fatalf("commands from the binary: %q", commands)
	}

	t.Run("deb", func(t *testing.T) {
		out, err := exec.Command("dpkg-deb", "-c", deb).Output()
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(l)
			if len(f) < 6 || strings.HasPrefix(f[0], "d") {
				continue
			}
			files = append(files, strings.TrimPrefix(f[5], "."))
			if f[5] == "./usr/bin/fpmdoctor" && f[0] != "-rwxr-xr-x" {
				t.Errorf("/usr/bin/fpmdoctor mode %s", f[0])
			}
		}
		sort.Strings(files)
		checkList(t, "deb", files, wantFiles("deb", commands))
		info, err := exec.Command("dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Depends").Output()
		if err != nil {
			t.Fatal(err)
		}
		if want := "Package: fpmdoctor\nVersion: " + testVersion + "-1\nArchitecture: amd64\n"; string(info) != want {
			t.Errorf("control fields:\n%s\nwant (and no Depends: the binary is static):\n%s", info, want)
		}
		ctl, err := exec.Command("dpkg-deb", "-I", deb).Output()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"postinst", "prerm", "postrm"} {
			if !bytes.Contains(ctl, []byte(" "+s+" ")) {
				t.Errorf("no %s script in the .deb:\n%s", s, ctl)
			}
		}
	})
	t.Run("rpm", func(t *testing.T) {
		if _, err := exec.LookPath("rpm"); err != nil {
			lab.Unavailable(t, "rpm is not installed (apt-get install rpm)")
		}
		out, err := exec.Command("rpm", "-qpl", rpm).Output()
		if err != nil {
			t.Fatal(err)
		}
		var files []string
		dirs := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			dirs[filepath.Dir(l)] = true
			files = append(files, l)
		}
		// rpm -qpl lists owned directories too: keep the files.
		files = slices.DeleteFunc(files, func(f string) bool { return dirs[f] })
		sort.Strings(files)
		checkList(t, "rpm", files, wantFiles("rpm", commands))
		q, err := exec.Command("rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{ARCH}\n", rpm).Output()
		if err != nil || string(q) != "fpmdoctor "+testVersion+" x86_64\n" {
			t.Errorf("rpm -qp: %q, %v", q, err)
		}
	})
}

func checkList(t *testing.T, what string, got, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s: missing %s", what, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			t.Errorf("%s: unexpected %s", what, g)
		}
	}
}

// TestMain removes the packages built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if packages.deb != "" {
		os.RemoveAll(filepath.Dir(packages.deb))
	}
	os.Exit(code)
}
