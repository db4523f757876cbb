package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

// watchBinary is the program that is `fpmdoctor watch`: the watcher links
// Prometheus' client library, whose start-up cost every fpmdoctor process
// would otherwise pay (internal/watchcmd), so it lives in its own binary,
// installed beside fpmdoctor.
const watchBinary = "fpmdoctor-watch"

// newWatchCmd runs fpmdoctor-watch with the same arguments, in place of
// this process (same pid, so systemd and signals see the watcher itself).
func newWatchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "watch [flags]",
		Short: "Keep the diagnosis current and serve it as Prometheus metrics",
		Long: `watch keeps the diagnosis of this host current and serves it to
Prometheus (/metrics), as JSON (/api/findings) and as a page (/). It is the
program fpmdoctor-watch, installed beside fpmdoctor; see
"fpmdoctor watch --help" for its flags and docs/watch.md.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			bin, err := findWatchBinary()
			if err != nil {
				return err
			}
			return syscall.Exec(bin, append([]string{watchBinary}, args...), os.Environ())
		},
	}
}

// findWatchBinary looks beside this executable first (the package installs
// both in /usr/bin; a build directory holds both), then in PATH.
func findWatchBinary() (string, error) {
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), watchBinary)
		if st, err := os.Stat(beside); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return beside, nil
		}
	}
	if p, err := exec.LookPath(watchBinary); err == nil {
		return p, nil
	} else if !errors.Is(err, exec.ErrNotFound) {
		return "", fmt.Errorf("watch: %w", err)
	}
	return "", fmt.Errorf("watch needs %s beside fpmdoctor or in PATH (the .deb and .rpm install it; from source: go build ./cmd/%s)", watchBinary, watchBinary)
}
