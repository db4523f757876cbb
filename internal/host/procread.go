package host

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The few /proc files fpmdoctor reads, parsed here rather than with
// prometheus/procfs: that package compiles about twenty regular expressions
// at init (0.9 ms, 96 KB, some 30 page faults) in every fpmdoctor process,
// a probe's or a diagnose's, for files fpmdoctor never reads. The parsers
// keep procfs's behaviour for what fpmdoctor used (procread_test.go).

// pids lists the numeric entries of procRoot: every process, unsorted.
func pids(procRoot string) ([]int, error) {
	d, err := os.Open(procRoot)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", procRoot, err)
	}
	out := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.ParseInt(n, 10, 64); err == nil {
			out = append(out, int(pid))
		}
	}
	return out, nil
}

// procPath is procRoot/PID/name.
func procPath(procRoot string, pid int, name string) string {
	return filepath.Join(procRoot, strconv.Itoa(pid), name)
}

// nulList reads a NUL-separated file (cmdline, environ) without its
// trailing NUL; an empty file is an empty list.
func nulList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return []string{}, nil
	}
	return strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00"), nil
}

// procStat is what fpmdoctor reads from /proc/PID/stat.
type procStat struct {
	PPID      int
	Starttime uint64 // clock ticks after boot
}

// readProcStat parses /proc/PID/stat. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so the fields
// are counted from the last ')'.
func readProcStat(path string) (procStat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("%s: no ')' after the command name", path)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, starttime field 22.
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("%s: %d fields after the command name, want at least 20", path, len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("%s: ppid: %w", path, err)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("%s: starttime: %w", path, err)
	}
	return procStat{PPID: ppid, Starttime: start}, nil
}

// bootTime is the btime line of procRoot/stat, in seconds since the epoch.
func bootTime(procRoot string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, "stat"))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("no btime line")
}

// executable is the target of /proc/PID/exe; "" when the link does not
// exist (a kernel thread, a process gone).
func executable(procRoot string, pid int) (string, error) {
	exe, err := os.Readlink(procPath(procRoot, pid, "exe"))
	if os.IsNotExist(err) {
		return "", nil
	}
	return exe, err
}

// kBValues reads the "Key:   N kB" lines of meminfo, smaps or
// smaps_rollup into bytes, summing repeated keys (smaps has one block per
// mapping), and reports which keys it saw. Lines of another form (mapping
// headers, VmFlags) are skipped.
func kBValues(path string, keys map[string]*uint64) (seen map[string]bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	seen = map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		p, want := keys[key]
		if !want {
			continue
		}
		v, isKB := strings.CutSuffix(strings.TrimSpace(rest), " kB")
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		if isKB {
			n *= 1024
		}
		*p += n
		seen[key] = true
	}
	return seen, sc.Err()
}

// unixSocket is one row of /proc/net/unix.
type unixSocket struct {
	Flags uint64
	Inode uint64
	Path  string // "" for an unnamed socket
}

// readNetUnix parses procRoot/net/unix:
//
//	Num       RefCount Protocol Flags    Type St Inode Path
//
// Inode is missing on old kernels, Path on unnamed sockets. Like procfs,
// the path is the field after the inode.
func readNetUnix(procRoot string) ([]unixSocket, error) {
	path := filepath.Join(procRoot, "net", "unix")
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	hasInode := strings.Contains(sc.Text(), "Inode")
	minFields := 6
	if hasInode {
		minFields++
	}
	var out []unixSocket
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) < minFields {
			return nil, fmt.Errorf("%s: line %q: %d fields, want at least %d", path, line, len(fields), minFields)
		}
		var s unixSocket
		if s.Flags, err = strconv.ParseUint(fields[3], 16, 32); err != nil {
			return nil, fmt.Errorf("%s: line %q: flags: %w", path, line, err)
		}
		if hasInode {
			if s.Inode, err = strconv.ParseUint(fields[6], 10, 64); err != nil {
				return nil, fmt.Errorf("%s: line %q: inode: %w", path, line, err)
			}
		}
		if len(fields) > minFields {
			s.Path = fields[minFields]
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
