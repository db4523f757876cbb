// Package version says which fpmdoctor this is. scripts/package sets the
// variables with -ldflags "-X"; a plain `go build` or `go install` falls
// back to what the Go toolchain recorded (module version, vcs.revision,
// vcs.time, vcs.modified). It imports only the standard library, so every
// command can ask it at start-up for nothing: the watcher's build_info
// metric reads it too, without this package pulling in client_golang.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at link time: -X github.com/fpmdoctor/fpmdoctor/internal/version.version=1.2.3
// (and .commit, .date). Strings, because -X sets only strings.
var (
	version string
	commit  string
	date    string
)

// Info is what `fpmdoctor version --json` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	Modified  bool   `json:"modified"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Get returns the link-time values, each missing one filled from the
// build info when the toolchain recorded it. Unknown parts say "unknown".
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return get(version, commit, date, bi)
}

func get(v, c, d string, bi *debug.BuildInfo) Info {
	in := Info{Version: v, Commit: c, Date: d, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = strings.TrimPrefix(bi.Main.Version, "v")
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if in.Commit == "" {
					in.Commit = s.Value
				}
			case "vcs.time":
				if in.Date == "" {
					in.Date = s.Value
				}
			case "vcs.modified":
				// Only when the commit came from the toolchain too: a
				// packaged build says its own commit and state.
				if c == "" {
					in.Modified = s.Value == "true"
				}
			}
		}
		if bi.GoVersion != "" {
			in.GoVersion = bi.GoVersion
		}
	}
	if in.Version == "" {
		in.Version = "devel"
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	if in.Date == "" {
		in.Date = "unknown"
	}
	return in
}

// Short is the version alone: "1.2.3" or "devel".
func Short() string { return Get().Version }

// String is the one line `fpmdoctor --version` prints.
func (in Info) String() string {
	c := in.Commit
	if len(c) > 12 {
		c = c[:12]
	}
	if in.Modified {
		c += "-dirty"
	}
	return fmt.Sprintf("fpmdoctor %s (commit %s, built %s, %s %s)", in.Version, c, in.Date, in.GoVersion, in.Platform)
}
