package host

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Live roots of the memory readers; tests pass fixture trees instead.
const (
	ProcRoot   = "/proc"
	CgroupRoot = "/sys/fs/cgroup"
)

// MemInfo is the host's memory from /proc/meminfo, in bytes.
type MemInfo struct {
	Total     uint64
	Available uint64 // MemAvailable: what can be used without swapping
}

// ReadMemInfo reads MemTotal and MemAvailable under procRoot.
func ReadMemInfo(procRoot string) (MemInfo, error) {
	var mi MemInfo
	seen, err := kBValues(filepath.Join(procRoot, "meminfo"), map[string]*uint64{"MemTotal": &mi.Total, "MemAvailable": &mi.Available})
	if err != nil {
		return MemInfo{}, fmt.Errorf("read meminfo: %w", err)
	}
	if !seen["MemTotal"] || !seen["MemAvailable"] {
		// MemAvailable exists since Linux 3.14; guessing it from MemFree
		// would overstate the risk, so say it is missing.
		return MemInfo{}, fmt.Errorf("read meminfo: no MemTotal or MemAvailable in %s/meminfo", procRoot)
	}
	return mi, nil
}

// ProcMem is one process's memory from /proc/PID/smaps_rollup, in bytes.
type ProcMem struct {
	PID int
	// PSS is the proportional set size: private pages plus each shared page
	// divided by the number of processes mapping it. Summed over php-fpm
	// workers it counts opcache and the binary once, unlike RSS.
	PSS uint64
	RSS uint64
	// Private is what the process alone uses: freed when it exits.
	Private uint64
	Swap    uint64
}

// ReadProcMem reads pid's smaps_rollup under procRoot. Other users'
// processes need root (ptrace access): the error then wraps os.ErrPermission.
func ReadProcMem(procRoot string, pid int) (ProcMem, error) {
	var rss, pss, privClean, privDirty, swap uint64
	keys := map[string]*uint64{"Rss": &rss, "Pss": &pss, "Private_Clean": &privClean, "Private_Dirty": &privDirty, "Swap": &swap}
	_, err := kBValues(procPath(procRoot, pid, "smaps_rollup"), keys)
	if errors.Is(err, fs.ErrNotExist) {
		// Before Linux 4.14 there is no rollup: sum the mappings.
		_, err = kBValues(procPath(procRoot, pid, "smaps"), keys)
	}
	if err != nil {
		return ProcMem{}, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	if rss == 0 && pss == 0 {
		// smaps_rollup of a process we may not trace reads as empty on
		// some kernels rather than failing.
		return ProcMem{}, fmt.Errorf("read memory of pid %d: empty smaps_rollup: %w", pid, os.ErrPermission)
	}
	return ProcMem{PID: pid, PSS: pss, RSS: rss, Private: privClean + privDirty, Swap: swap}, nil
}

// CgroupMemory is the memory limit a process lives under.
type CgroupMemory struct {
	Version int    // 1 or 2
	Path    string // the process's cgroup, as in /proc/PID/cgroup
	// Limit is the tightest memory limit of the cgroup and its ancestors,
	// 0 when there is none. LimitFile is the file that sets it.
	Limit     uint64
	LimitFile string
	// Current is the usage of the cgroup that sets the limit (the process's
	// own when there is no limit): what counts against Limit.
	Current     uint64
	CurrentFile string
	// OOMKills counts processes of the cgroup killed by the OOM killer
	// (memory.events oom_kill, v1 memory.oom_control oom_kill); -1 when the
	// kernel does not report it.
	OOMKills int64
}

// unlimited is the threshold above which a v1 limit means "none"
// (PAGE_COUNTER_MAX rounded to pages: 9223372036854771712 on x86-64).
const unlimited = math.MaxInt64 / 2

// ReadCgroupMemory finds pid's memory cgroup from procRoot/PID/cgroup and
// reads its limit under cgroupRoot: cgroup v2 memory.max, or the v1 memory
// controller's memory.limit_in_bytes, walking up to the root because a
// parent's limit (a systemd slice, the container) binds too.
func ReadCgroupMemory(procRoot, cgroupRoot string, pid int) (CgroupMemory, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return CgroupMemory{}, fmt.Errorf("read cgroup of pid %d: %w", pid, err)
	}
	var v1, v2 string
	found1, found2 := false, false
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			v2, found2 = parts[2], true
		} else if slices.Contains(strings.Split(parts[1], ","), "memory") {
			v1, found1 = parts[2], true
		}
	}
	// A v1 memory controller wins: on hybrid hosts the v2 tree carries no
	// memory controller.
	switch {
	case found1:
		return readCgroup(1, filepath.Join(cgroupRoot, "memory"), v1)
	case found2:
		return readCgroup(2, cgroupRoot, v2)
	}
	return CgroupMemory{}, fmt.Errorf("pid %d has no memory cgroup", pid)
}

func readCgroup(version int, mount, cg string) (CgroupMemory, error) {
	m := CgroupMemory{Version: version, Path: cg, OOMKills: -1}
	limitName, usageName := "memory.max", "memory.current"
	if version == 1 {
		limitName, usageName = "memory.limit_in_bytes", "memory.usage_in_bytes"
	}
	dir := filepath.Join(mount, cg)
	if _, err := os.Stat(filepath.Join(dir, usageName)); err != nil {
		// Inside a container whose cgroup namespace is not its own the
		// path names the host's tree, but the mount shows the container's
		// cgroup at its root.
		dir = mount
		cg = "/"
		if _, err := os.Stat(filepath.Join(dir, usageName)); err != nil {
			return m, fmt.Errorf("read cgroup %s: %w", m.Path, err)
		}
	}
	own := dir
	for rel := path.Clean("/" + cg); ; rel = path.Dir(rel) {
		d := filepath.Join(mount, rel)
		if n, ok := readLimit(filepath.Join(d, limitName)); ok && (m.Limit == 0 || n < m.Limit) {
			m.Limit, m.LimitFile = n, filepath.Join(d, limitName)
		}
		if rel == "/" {
			break
		}
	}
	usageDir := own
	if m.LimitFile != "" {
		usageDir = filepath.Dir(m.LimitFile)
	}
	m.CurrentFile = filepath.Join(usageDir, usageName)
	if n, err := readUint(m.CurrentFile); err == nil {
		m.Current = n
	} else {
		m.CurrentFile = ""
	}
	eventsFile := filepath.Join(own, "memory.events")
	if version == 1 {
		eventsFile = filepath.Join(own, "memory.oom_control")
	}
	if n, err := readKeyed(eventsFile, "oom_kill"); err == nil {
		m.OOMKills = int64(n)
	}
	return m, nil
}

// readLimit reads a limit file; "max" and v1's near-2^63 mean no limit.
func readLimit(file string) (uint64, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n >= unlimited {
		return 0, false
	}
	return n, true
}

func readUint(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// readKeyed reads "key value" lines (memory.events, memory.oom_control).
func readKeyed(file, key string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s: %w", file, key, errors.ErrUnsupported)
}
