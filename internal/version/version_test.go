package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestGetPrefersLinkTimeValues(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.9.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "aaaaaaaaaaaaaaaaaaaa"}, {Key: "vcs.time", Value: "2020-01-01T00:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	in := get("1.2.3", "0123456789abcdef", "2026-12-04T10:00:00Z", bi)
	if in.Version != "1.2.3" || in.Commit != "0123456789abcdef" || in.Date != "2026-12-04T10:00:00Z" || in.Modified {
		t.Fatalf("link-time values not kept: %+v", in)
	}
	if got, want := in.String(), "fpmdoctor 1.2.3 (commit 0123456789ab, built 2026-12-04T10:00:00Z, go1.26.8 "+runtime.GOOS+"/"+runtime.GOARCH+")"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestGetFallsBackToBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.9.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "bbbbbbbbbbbbbbbbbbbbbbbb"}, {Key: "vcs.time", Value: "2020-01-01T00:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	in := get("", "", "", bi)
	if in.Version != "0.9.0" || in.Commit != "bbbbbbbbbbbbbbbbbbbbbbbb" || in.Date != "2020-01-01T00:00:00Z" || !in.Modified {
		t.Fatalf("build info not used: %+v", in)
	}
	if !strings.Contains(in.String(), "commit bbbbbbbbbbbb-dirty") {
		t.Errorf("a modified tree is not marked dirty: %s", in)
	}
	// A development build knows nothing: say so, never an empty field.
	in = get("", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}})
	if in.Version != "devel" || in.Commit != "unknown" || in.Date != "unknown" || in.GoVersion != runtime.Version() {
		t.Errorf("empty build info: %+v", in)
	}
	if in = get("", "", "", nil); in.Version != "devel" {
		t.Errorf("no build info: %+v", in)
	}
}

// TestLdflags builds a program with the flags scripts/package uses and
// checks that the values arrive: a renamed variable or package would
// otherwise be ignored by the linker without a word.
func TestLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "v")
	p := "github.com/fpmdoctor/fpmdoctor/internal/version"
	ld := "-X " + p + ".version=9.8.7 -X " + p + ".commit=cafebabe -X " + p + ".date=2026-01-02T03:04:05Z"
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ld, "-o", bin, "./testdata/printversion")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if want := "fpmdoctor 9.8.7 (commit cafebabe, built 2026-01-02T03:04:05Z, "; !strings.HasPrefix(string(out), want) {
		t.Errorf("got %q, want prefix %q", out, want)
	}
}
