package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// openPTY opens a pseudo-terminal pair of cols×rows, as a phone's SSH
// client gives one.
func openPTY(t *testing.T, cols, rows uint16) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		lab.Unavailable(t, fmt.Sprintf("no pseudo-terminals here: %v", err))
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
		t.Fatalf("set window size: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestTextReportFitsTerminal: on a 50-column terminal the text report's
// prose, site chains and marks fit in 50 columns, so the terminal never
// cuts a word; evidence lines (paths, log lines) are left whole on
// purpose. Piped, the report keeps its 80 columns.
func TestTextReportFitsTerminal(t *testing.T) {
	examples, err := filepath.Abs("../../examples/php-upgrade")
	if err != nil {
		t.Fatal(err)
	}
	master, slave := openPTY(t, 50, 40)
	cmd := exec.Command(os.Args[0], "diagnose", "--root", examples)
	cmd.Env = append(os.Environ(), "FPMDOCTOR_TEST_AS_CLI=1", "NO_COLOR=1")
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close() // the child holds it; EOF (EIO) comes when it exits
	var out bytes.Buffer
	io.Copy(&out, master) // ends with EIO once the child closed the terminal
	if err := cmd.Wait(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("diagnose: %v\n%s", err, out.String())
		}
	}
	text := strings.ReplaceAll(out.String(), "\r\n", "\n")
	if !strings.Contains(text, "listen-mismatch") {
		t.Fatalf("not the report:\n%s", text)
	}
	prose := 0
	for _, line := range strings.Split(text, "\n") {
		if isEvidenceLine(line) {
			continue
		}
		prose++
		if n := utf8.RuneCountInString(line); n > 50 {
			t.Errorf("line of %d columns on a 50-column terminal: %q", n, line)
		}
	}
	if prose < 10 {
		t.Fatalf("too little prose checked (%d lines):\n%s", prose, text)
	}

	// Piped: 80 columns, and the same findings.
	pipe := exec.Command(os.Args[0], "diagnose", "--root", examples)
	pipe.Env = append(os.Environ(), "FPMDOCTOR_TEST_AS_CLI=1")
	piped, _ := pipe.Output()
	longest := 0
	for _, line := range strings.Split(string(piped), "\n") {
		if !isEvidenceLine(line) {
			longest = max(longest, utf8.RuneCountInString(line))
		}
	}
	if longest <= 50 || longest > 78 {
		t.Fatalf("piped report's longest prose line is %d columns, want 51..78:\n%s", longest, piped)
	}
}

// isEvidenceLine: "   config FILE:LINE: TEXT" and its log and fact kin,
// which are not wrapped so they stay copy-pasteable.
func isEvidenceLine(line string) bool {
	for _, kind := range []string{"config ", "log ", "fact "} {
		if strings.HasPrefix(line, "   "+kind) {
			return true
		}
	}
	return false
}

// TestFixPlanFitsTerminal: fix's plan on a 50-column terminal wraps its
// prose (titles, why, checks, what is left by hand) at 50 columns; the
// diff and the commands stay whole, to be read and copied as they are.
func TestFixPlanFitsTerminal(t *testing.T) {
	examples, err := filepath.Abs("../../examples/php-upgrade")
	if err != nil {
		t.Fatal(err)
	}
	master, slave := openPTY(t, 50, 40)
	cmd := exec.Command(os.Args[0], "fix", "--dry-run", "--root", examples)
	cmd.Env = append(os.Environ(), "FPMDOCTOR_TEST_AS_CLI=1", "NO_COLOR=1")
	cmd.Stdout, cmd.Stderr = slave, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	var out bytes.Buffer
	io.Copy(&out, master)
	_ = cmd.Wait() // exit 1: findings remain in a plan that is not applied
	text := strings.ReplaceAll(out.String(), "\r\n", "\n")
	if !strings.Contains(text, "[listen-mismatch]") || !strings.Contains(text, "Checks afterwards:") {
		t.Fatalf("not the plan:\n%s", text)
	}
	region := ""
	prose := 0
	for _, line := range strings.Split(text, "\n") {
		switch {
		case line == "":
			region = ""
			continue
		case strings.HasPrefix(line, "--- "):
			region = "diff"
		case line == "Commands:":
			region = "commands"
		case strings.HasPrefix(line, "--root:"):
			continue // the run's own closing line
		}
		if region != "" {
			continue
		}
		prose++
		// A path or URL longer than a line stays whole, on its own line.
		if n := utf8.RuneCountInString(line); n > 50 && len(strings.Fields(line)) > 1 {
			t.Errorf("line of %d columns on a 50-column terminal: %q", n, line)
		}
	}
	if prose < 10 {
		t.Fatalf("too little prose checked (%d lines):\n%s", prose, text)
	}
}
