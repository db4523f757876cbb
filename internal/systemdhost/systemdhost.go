// Package systemdhost boots a real Debian host with systemd as PID 1, for
// tests of what only such a host shows: the packaged unit started by
// systemctl, nginx and php-fpm run by their own units, and fpmdoctor's
// D-Bus path to systemd (fix starting php-fpm as a systemd job).
//
// Tree makes a minimal Debian tree with debootstrap and caches it, keyed by
// suite, mirror and package list; Boot runs it with systemd-nspawn
// --ephemeral (every boot starts from the clean tree, changes are thrown
// away) and --private-network (only the host's own loopback inside); Host.Run
// executes commands inside through nsenter. Both need root.
package systemdhost

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Default values of TreeOptions.
const (
	DefaultSuite    = "bookworm"
	DefaultCacheDir = "/var/cache/fpmdoctor-test"
	debianMirror    = "http://deb.debian.org/debian"
)

// DefaultPackages are what the tests need beyond debootstrap's minbase:
// systemd as init, the bus fpmdoctor fix talks to, the servers, and curl
// to read the watcher's /metrics from inside.
func DefaultPackages() []string {
	return []string{"systemd", "systemd-sysv", "dbus", "nginx", "php8.2-fpm", "curl", "ca-certificates"}
}

// Missing says why a host cannot be built and booted here, or "" when it can.
func Missing() string {
	if os.Geteuid() != 0 {
		return "booting a systemd host needs root"
	}
	for _, bin := range []string{"debootstrap", "systemd-nspawn", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " is not installed (apt-get install debootstrap systemd-container util-linux)"
		}
	}
	return ""
}

// TreeOptions say which tree to make.
type TreeOptions struct {
	Suite    string   // default DefaultSuite
	Mirror   string   // default: the Debian mirror apt uses here (Mirror())
	Packages []string // default DefaultPackages()
	CacheDir string   // default $FPMDOCTOR_TREE_CACHE, else DefaultCacheDir
	// Log receives debootstrap's output when a tree is built (nil: dropped).
	Log func(line string)
}

// Tree returns the path of a cached Debian tree, building it first when
// absent. built says whether it was built now; a build takes minutes
// (about 2 here) and a cached tree is reused by every later run. The tree
// is built in a temporary directory and renamed into place, so a build
// killed half-way never leaves a tree that looks complete; a lock keeps two
// test processes from building the same tree at once.
func Tree(ctx context.Context, o TreeOptions) (path string, built bool, err error) {
	if o.Suite == "" {
		o.Suite = DefaultSuite
	}
	if o.Mirror == "" {
		o.Mirror = Mirror()
	}
	if o.Packages == nil {
		o.Packages = DefaultPackages()
	}
	if o.CacheDir == "" {
		o.CacheDir = os.Getenv("FPMDOCTOR_TREE_CACHE")
	}
	if o.CacheDir == "" {
		o.CacheDir = DefaultCacheDir
	}
	path = filepath.Join(o.CacheDir, o.Suite+"-"+treeKey(o.Suite, o.Mirror, o.Packages))
	if complete(path) {
		return path, false, nil
	}
	if err := os.MkdirAll(o.CacheDir, 0o755); err != nil {
		return "", false, fmt.Errorf("tree cache: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(o.CacheDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", false, fmt.Errorf("tree cache lock: %w", err)
	}
	defer lock.Close()
	if err := flock(ctx, lock); err != nil {
		return "", false, fmt.Errorf("tree cache lock %s: %w", lock.Name(), err)
	}
	if complete(path) { // another process built it while we waited
		return path, false, nil
	}
	tmp, err := os.MkdirTemp(o.CacheDir, ".build-")
	if err != nil {
		return "", false, fmt.Errorf("tree cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	tree := filepath.Join(tmp, "tree")
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--include="+strings.Join(o.Packages, ","),
		o.Suite, tree, o.Mirror)
	out, err := runLogged(cmd, o.Log)
	if err != nil {
		return "", false, fmt.Errorf("debootstrap %s from %s: %w\n%s", o.Suite, o.Mirror, err, lastLines(out, 20))
	}
	if err := prepare(tree); err != nil {
		return "", false, err
	}
	if err := os.WriteFile(filepath.Join(tree, markerFile), []byte(o.Suite+" "+o.Mirror+" "+strings.Join(o.Packages, ",")+"\n"), 0o644); err != nil {
		return "", false, err
	}
	_ = os.RemoveAll(path) // an incomplete tree from an older layout
	if err := os.Rename(tree, path); err != nil {
		return "", false, fmt.Errorf("tree cache: %w", err)
	}
	return path, true, nil
}

// treeKey names a tree by what went into it, so changing the package list
// or the mirror builds a new tree instead of reusing a wrong one.
func treeKey(suite, mirror string, pkgs []string) string {
	sum := sha256.Sum256([]byte(suite + " " + mirror + " " + strings.Join(pkgs, ",")))
	return hex.EncodeToString(sum[:])[:12]
}

// markerFile is written last into a finished tree.
const markerFile = ".fpmdoctor-tree"

// complete reports whether path is a finished tree: Tree renames a tree
// into place only once debootstrap and prepare succeeded.
func complete(path string) bool {
	_, err := os.Stat(filepath.Join(path, markerFile))
	return err == nil
}

// prepare adjusts the fresh tree for booting in tests: no getty waiting on
// the console, and no timers that would run apt or a backup in the middle
// of a test.
func prepare(tree string) error {
	for _, u := range []string{"console-getty.service", "getty@.service", "apt-daily.timer", "apt-daily-upgrade.timer",
		"dpkg-db-backup.timer", "e2scrub_all.timer", "fstrim.timer", "phpsessionclean.timer"} {
		p := filepath.Join(tree, "etc/systemd/system", u)
		_ = os.Remove(p)
		if err := os.Symlink("/dev/null", p); err != nil {
			return fmt.Errorf("prepare tree: mask %s: %w", u, err)
		}
	}
	return nil
}

// Mirror returns the Debian mirror apt uses on this machine (the first
// "deb" source for the debian archive, not its security suite), so the tree
// comes from where this host's packages come from; deb.debian.org if none.
func Mirror() string {
	var files []string
	files = append(files, "/etc/apt/sources.list")
	more, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append(files, more...)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if m := mirrorIn(string(b), strings.HasSuffix(f, ".sources")); m != "" {
			return m
		}
	}
	return debianMirror
}

// mirrorIn finds the archive mirror in one sources file: one-line style
// ("deb URI suite comps") or deb822 style (URIs:, Suites:, in stanzas).
func mirrorIn(src string, deb822 bool) string {
	ok := func(uri, suites string) bool {
		return strings.HasPrefix(uri, "http") && strings.Contains(uri, "debian") &&
			!strings.Contains(uri, "security") && !strings.Contains(suites, "security")
	}
	if !deb822 {
		for _, line := range strings.Split(src, "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "deb" {
				uri, i := f[1], 1
				if strings.HasPrefix(uri, "[") { // deb [signed-by=...] URI suite
					for i < len(f) && !strings.HasSuffix(f[i], "]") {
						i++
					}
					if i+2 >= len(f) {
						continue
					}
					uri = f[i+1]
					i++
				}
				if ok(uri, f[i+1]) {
					return strings.TrimSuffix(uri, "/")
				}
			}
		}
		return ""
	}
	for _, stanza := range strings.Split(src, "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			if k, v, found := strings.Cut(line, ":"); found && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, " ") {
				fields[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
			}
		}
		if !strings.Contains(" "+fields["types"]+" ", " deb ") || strings.EqualFold(fields["enabled"], "no") {
			continue
		}
		for _, uri := range strings.Fields(fields["uris"]) {
			if ok(uri, fields["suites"]) {
				return strings.TrimSuffix(uri, "/")
			}
		}
	}
	return ""
}

// Host is one booted container.
type Host struct {
	Name   string
	Leader int // the container's PID 1 (systemd), as seen from outside
	// Console is the path of the file holding the container's console
	// output (systemd's boot messages), for failure reports.
	Console string
	nspawn  *exec.Cmd
	exited  chan error
	// tempConsole: Boot made the console file and Close removes it.
	tempConsole bool
}

// BootOptions say how to boot a tree.
type BootOptions struct {
	Name string // machine name (default "fpmdoctor-test")
	// BindRO maps host paths (files or directories) to paths inside,
	// read-only: how a test hands the container a package to install.
	BindRO map[string]string
	// Console is where the console output goes (default: a temp file).
	Console string
	// Wait bounds the boot (default 2 minutes).
	Wait time.Duration
}

// Boot starts the tree with systemd-nspawn in the background and waits
// until systemd inside says the system is running (or degraded: a unit
// failed, which the caller may want to see rather than a timeout). The
// host has no systemd of its own here, so nspawn neither registers with
// machined nor asks for a scope (--register=no --keep-unit): it stays in
// the caller's cgroup. Always Close the returned host, also on failure.
func Boot(ctx context.Context, tree string, o BootOptions) (*Host, error) {
	if o.Name == "" {
		o.Name = "fpmdoctor-test"
	}
	if o.Wait == 0 {
		o.Wait = 2 * time.Minute
	}
	tempConsole := o.Console == ""
	if tempConsole {
		f, err := os.CreateTemp("", "nspawn-console-")
		if err != nil {
			return nil, err
		}
		f.Close()
		o.Console = f.Name()
	}
	console, err := os.Create(o.Console)
	if err != nil {
		return nil, fmt.Errorf("boot %s: console file: %w", o.Name, err)
	}
	defer console.Close()
	removeStaleCopies(tree)
	args := []string{"--quiet", "--boot", "--ephemeral", "--private-network", "--register=no", "--keep-unit",
		"--console=read-only", "-D", tree, "--machine", o.Name}
	for src, dst := range o.BindRO {
		args = append(args, "--bind-ro="+src+":"+dst)
	}
	cmd := exec.Command("systemd-nspawn", args...)
	cmd.Stdout, cmd.Stderr = console, console
	// Its own process group: a test's Ctrl-C must not reach PID 1 inside
	// before Close powers it off.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("boot %s: systemd-nspawn: %w", o.Name, err)
	}
	h := &Host{Name: o.Name, Console: o.Console, nspawn: cmd, exited: make(chan error, 1), tempConsole: tempConsole}
	go func() { h.exited <- cmd.Wait() }()
	fail := func(err error) (*Host, error) {
		h.Close()
		return nil, fmt.Errorf("boot %s: %w\nconsole:\n%s", o.Name, err, h.ConsoleTail(30))
	}
	deadline := time.Now().Add(o.Wait)
	for h.Leader == 0 {
		if h.Leader = leaderOf(cmd.Process.Pid); h.Leader != 0 {
			break
		}
		if err := h.pause(ctx, deadline); err != nil {
			return fail(fmt.Errorf("no systemd started inside: %w", err))
		}
	}
	for {
		out, _ := h.Output(ctx, "systemctl", "is-system-running")
		state := strings.TrimSpace(string(out))
		switch state {
		case "running", "degraded":
			return h, nil
		}
		if err := h.pause(ctx, deadline); err != nil {
			return fail(fmt.Errorf("system state %q: %w", state, err))
		}
	}
}

// removeStaleCopies removes ephemeral copies of tree that an nspawn killed
// before it could clean up left next to it (".#machine.<name><random>", a
// few hundred MB each). A copy in use is locked by its nspawn through
// ".#.#machine.<...>.lck"; only unlocked ones go, so a test booting the
// same tree meanwhile keeps its copy.
func removeStaleCopies(tree string) {
	dir, base := filepath.Split(filepath.Clean(tree))
	copies, _ := filepath.Glob(filepath.Join(dir, ".#machine."+base+"*"))
	for _, c := range copies {
		lockPath := filepath.Join(dir, ".#"+filepath.Base(c)+".lck")
		f, err := os.OpenFile(lockPath, os.O_RDWR, 0)
		if err != nil {
			continue // no lock file: not a copy nspawn made
		}
		// nspawn holds an open file description lock (fcntl F_OFD_SETLK,
		// not flock: flock would succeed on a copy in use).
		lk := unix.Flock_t{Type: unix.F_WRLCK}
		if unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk) == nil {
			os.RemoveAll(c)
			os.Remove(lockPath)
		}
		f.Close()
	}
}

// pause waits a little, or fails when nspawn exited, ctx ended or the
// deadline passed.
func (h *Host) pause(ctx context.Context, deadline time.Time) error {
	if time.Now().After(deadline) {
		return errors.New("timed out")
	}
	select {
	case err := <-h.exited:
		h.exited <- err // keep it for Close
		return fmt.Errorf("systemd-nspawn exited: %v", err)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}

// leaderOf finds the container's init: the child of nspawn running systemd.
func leaderOf(nspawn int) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open || close+2 >= len(s) {
			continue
		}
		f := strings.Fields(s[close+2:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == nspawn && s[open+1:close] == "systemd" {
			return pid
		}
	}
	return 0
}

// Command returns a command that runs inside the container: nsenter
// enters all its namespaces (mount, pid, net, ...) and its root, so the
// program sees the container's files, processes and loopback.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	a := append([]string{"--target", strconv.Itoa(h.Leader), "--all", "--",
		"/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", name}, args...)
	return exec.CommandContext(ctx, "nsenter", a...)
}

// Output runs a command inside and returns its standard output; a failure
// carries the standard error.
func (h *Host) Output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := h.Command(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("in %s: %s %s: %w: %s", h.Name, name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Run runs a command inside and returns its standard output and error
// together, the way a person at the console would read them.
func (h *Host) Run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := h.Command(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("in %s: %s %s: %w\n%s", h.Name, name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// ConsoleTail returns the last n lines of the console output.
func (h *Host) ConsoleTail(n int) string {
	b, _ := os.ReadFile(h.Console)
	return lastLines(b, n)
}

// sigPoweroff is SIGRTMIN+4, which systemd as PID 1 takes as "power
// off". glibc's SIGRTMIN is 34 (it keeps 32 and 33 for itself), and
// systemd counts from it.
const sigPoweroff = syscall.Signal(34 + 4)

// Close powers the container off the way systemd does on SIGRTMIN+4
// (units stopped, file systems unmounted, nspawn removes the ephemeral
// copy), and kills nspawn if that takes more than 30 seconds. Safe to call
// more than once.
func (h *Host) Close() error {
	if h.nspawn == nil {
		return nil
	}
	defer func() {
		h.nspawn = nil
		if h.tempConsole {
			os.Remove(h.Console)
		}
	}()
	if h.Leader != 0 {
		_ = syscall.Kill(h.Leader, sigPoweroff)
	} else {
		_ = h.nspawn.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-h.exited:
		return nil
	case <-time.After(30 * time.Second):
	}
	_ = syscall.Kill(-h.nspawn.Process.Pid, syscall.SIGKILL)
	<-h.exited
	return fmt.Errorf("%s did not power off within 30s: killed", h.Name)
}

func runLogged(cmd *exec.Cmd, log func(string)) ([]byte, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return nil, err
	}
	pw.Close()
	var all bytes.Buffer
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		all.Write(sc.Bytes())
		all.WriteByte('\n')
		if log != nil {
			log(sc.Text())
		}
	}
	pr.Close()
	return all.Bytes(), cmd.Wait()
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// flock takes an exclusive lock on f, giving up when ctx ends.
func flock(ctx context.Context, f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// WriteFile writes a file inside the container, creating parent
// directories. It runs inside (not through /proc/LEADER/root), so an
// absolute symlink on the way resolves in the container, never on the host.
func (h *Host) WriteFile(ctx context.Context, path, content string, mode os.FileMode) error {
	cmd := h.Command(ctx, "sh", "-c", `mkdir -p "$(dirname "$1")" && cat >"$1" && chmod "$2" "$1"`, "sh", path, strconv.FormatUint(uint64(mode.Perm()), 8))
	cmd.Stdin = strings.NewReader(content)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("in %s: write %s: %w: %s", h.Name, path, err, out)
	}
	return nil
}
