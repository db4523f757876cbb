// Package rootfs maps a host's paths into an offline copy of the host
// (--root) with chroot semantics: symlinks are resolved inside the root,
// absolute targets re-rooted and ".." clamped at it, so that nothing
// outside the root is ever read, whatever links the copy holds. The copy
// may come from anywhere (a repository, an archive): it is not trusted.
//
// A Tree may also mount directories of a repository onto host paths
// (nginx/ → /etc/nginx): a repository of configs is rarely laid out like
// "/", yet includes and links must resolve as on the server. Mounts are
// part of the same walk, so links inside a mounted directory get the same
// chroot semantics.
package rootfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// Mount puts the local directory Dir where the host has Host (an absolute,
// clean path other than "/").
type Mount struct {
	Host string
	Dir  string
}

// Tree is an offline host: Root read as "/", with Mounts over it. The
// longest mount containing a path wins, as with mount points.
type Tree struct {
	Root   string
	Mounts []Mount
	dirs   *dirCache // WithCache
}

// local returns the local path of host path p (absolute, clean) without
// following links: under the mount that holds it, else under Root.
func (t Tree) local(p string) string {
	best := -1
	for i, m := range t.Mounts {
		if (p == m.Host || strings.HasPrefix(p, m.Host+"/")) && (best < 0 || len(m.Host) > len(t.Mounts[best].Host)) {
			best = i
		}
	}
	if best < 0 {
		return under(t.Root, p)
	}
	m := t.Mounts[best]
	return under(m.Dir, strings.TrimPrefix(p, m.Host))
}

// under is filepath.Join(dir, rest) for the rest of a host path ("" or
// absolute), without the cleaning and its allocations when both are
// clean already, as they almost always are: a config load maps ten
// thousand paths.
func under(dir, rest string) string {
	if isCleanAbs(dir) && dir != "/" {
		switch {
		case rest == "" || rest == "/":
			return dir
		case isCleanAbs(rest):
			return dir + rest
		}
	}
	return filepath.Join(dir, filepath.FromSlash(rest))
}

// isCleanAbs reports whether p is absolute and path.Clean would leave it
// as it is: no empty, "." or ".." element, no trailing slash.
func isCleanAbs(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	if p == "/" {
		return true
	}
	start := 1 // of the current element
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		if e := p[start:i]; e == "" || e == "." || e == ".." {
			return false
		}
		start = i + 1
	}
	return true
}

// readlink is os.Readlink, reading into the stack for a target of the
// usual length.
func readlink(name string) (string, error) {
	var buf [256]byte
	for {
		n, err := syscall.Readlink(name, buf[:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		return os.Readlink(name) // a longer target
	}
}

// child is path.Join(dir, name) for a clean absolute dir and a name
// without "/", in one allocation instead of path.Join's two.
func child(dir, name string) string {
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") || !isCleanAbs(dir) {
		return path.Join(dir, name)
	}
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

// cleanAbs is path.Clean("/" + p), without allocating when p is clean.
func cleanAbs(p string) string {
	if isCleanAbs(p) {
		return p
	}
	return path.Clean("/" + p)
}

// maxHops is the kernel's limit on symlinks in one lookup (MAXSYMLINKS).
const maxHops = 40

// Resolve returns the path under root that the host path p names. A
// missing component is left for the caller's open or stat to report. With
// root "" it returns p unchanged.
func Resolve(root, p string) (string, error) {
	return Tree{Root: root}.Resolve(p)
}

// Resolve returns the local path that the host path p names in t, links
// followed inside t. With neither Root nor Mounts it returns p unchanged.
func (t Tree) Resolve(p string) (string, error) {
	if t.Root == "" && len(t.Mounts) == 0 {
		return p, nil
	}
	var host string
	var err error
	if t.dirs != nil && !strings.Contains(p, "..") {
		// Without "..", cleaning cannot change what p names: resolve its
		// directory once for all its files.
		dir, base := path.Split(cleanAbs(p))
		if base == "" {
			return t.local("/"), nil
		}
		rd, gone, derr := t.dir(path.Clean(dir))
		if derr != nil {
			return "", derr
		}
		// In a directory that does not exist, nothing is a link.
		if gone != 0 {
			host = child(rd, base)
		}
		if gone == 0 || t.mountAt(host) {
			host, _, err = t.walk(p, rd, []string{base}, 0)
		}
	} else {
		host, _, err = t.walk(p, "/", strings.Split(p, "/"), 0)
	}
	if err != nil {
		return "", err
	}
	return t.local(host), nil
}

// walk resolves the components pending from the resolved host directory
// cur and returns the resolved host path; p is for errors, hops the links
// already followed for p. gone is ENOENT or ENOTDIR when the lstat of the
// path's last name said so (the path does not exist), else 0.
func (t Tree) walk(p, cur string, pending []string, hops int) (host string, gone syscall.Errno, err error) {
	for len(pending) > 0 {
		name := pending[0]
		pending = pending[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur, gone = path.Dir(cur), 0
			continue
		}
		next := child(cur, name)
		under := t.local(next)
		var link bool
		if link, gone = lstatLink(under); !link {
			cur = next
			continue
		}
		if hops++; hops > maxHops {
			return "", 0, &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
		}
		target, err := readlink(under)
		if err != nil {
			return "", 0, err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	return cur, gone, nil
}

// mountAt reports whether a mount lies at host path p or below it: then p
// may exist even where its local parent does not.
func (t Tree) mountAt(p string) bool {
	for _, m := range t.Mounts {
		if p == "/" || m.Host == p || strings.HasPrefix(m.Host, p) && m.Host[len(p)] == '/' {
			return true
		}
	}
	return false
}

// Missing reports, from what resolving p has cached and without a system
// call, that p cannot exist: its directory was found missing (ENOENT or
// ENOTDIR) and no mount lies at or below p. False when unknown. A hosting
// host's thousands of sockets share one directory, which a repository of
// configs does not have.
func (t Tree) Missing(p string) bool {
	if t.dirs == nil || strings.Contains(p, "..") || (t.Root == "" && len(t.Mounts) == 0) {
		return false
	}
	dir, base := path.Split(cleanAbs(p))
	if base == "" {
		return false
	}
	t.dirs.mu.Lock()
	e, ok := t.dirs.m[path.Clean(dir)]
	t.dirs.mu.Unlock()
	return ok && e.gone != 0 && !t.mountAt(child(e.host, base))
}

// WithCache returns t remembering how each directory resolves, for one
// reader's lifetime (a config load): five thousand sites in one
// directory then cost one lstat each instead of one per path component.
// The tree must not change meanwhile.
func (t Tree) WithCache() Tree {
	t.dirs = &dirCache{m: map[string]dirEntry{}}
	return t
}

type dirCache struct {
	mu sync.Mutex
	m  map[string]dirEntry // clean host directory → how it resolves
	// links are the local paths a listing showed as symbolic links: Open
	// reads them without first failing to open them. A sites-enabled
	// directory is listed (include sites-enabled/*) and then every link
	// in it opened.
	links map[string]bool
}

// listed remembers the links among the entries of local directory dir.
func (c *dirCache) listed(dir string, ents []fs.DirEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range ents {
		if e.Type()&fs.ModeSymlink != 0 {
			if c.links == nil {
				c.links = map[string]bool{}
			}
			c.links[filepath.Join(dir, e.Name())] = true
		}
	}
}

// listedLink reports whether a listing showed local path p as a link.
func (c *dirCache) listedLink(p string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.links[p]
}

type dirEntry struct {
	host string        // the resolved host directory
	gone syscall.Errno // ENOENT or ENOTDIR: it does not exist; else 0
}

// dir resolves the clean host directory d through the cache. gone says
// that it does not exist: then neither does anything in it, unless a
// mount lies there, and its children are resolved without a system call.
func (t Tree) dir(d string) (host string, gone syscall.Errno, err error) {
	if d == "/" {
		return "/", 0, nil
	}
	t.dirs.mu.Lock()
	e, ok := t.dirs.m[d]
	t.dirs.mu.Unlock()
	if ok {
		return e.host, e.gone, nil
	}
	parent, base := path.Split(d)
	rp, pgone, err := t.dir(path.Clean(parent))
	if err != nil {
		return "", 0, err
	}
	if e.host, e.gone = child(rp, base), pgone; pgone == 0 || t.mountAt(e.host) {
		if e.host, e.gone, err = t.walk(d, rp, []string{base}, 0); err != nil {
			return "", 0, err
		}
	}
	t.dirs.mu.Lock()
	t.dirs.m[d] = e
	t.dirs.mu.Unlock()
	return e.host, e.gone, nil
}

// ReadDir lists the host directory p: the entries of its local directory
// (with the types the listing gives) plus the next component of every
// mount below it, as a directory, so that a mount at /etc/php/8.2/fpm
// shows as "8.2" in /etc/php even when the repository has no etc/php.
// Sorted by name, without duplicates (a real entry wins).
func (t Tree) ReadDir(p string) ([]fs.DirEntry, error) {
	p = path.Clean("/" + p)
	var ents []fs.DirEntry
	local, err := t.Resolve(p)
	if err == nil {
		ents, err = os.ReadDir(local)
	}
	if t.dirs != nil {
		t.dirs.listed(local, ents)
	}
	virtual := false
	for _, m := range t.Mounts {
		rest, ok := strings.CutPrefix(m.Host, strings.TrimSuffix(p, "/")+"/")
		if !ok {
			continue
		}
		first, _, _ := strings.Cut(rest, "/")
		virtual = true
		if !slices.ContainsFunc(ents, func(e fs.DirEntry) bool { return e.Name() == first }) {
			ents = append(ents, mountEntry(first))
		}
	}
	if err != nil && !virtual {
		return nil, err
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

// mountEntry is a directory that exists because a mount lies below it.
type mountEntry string

func (m mountEntry) Name() string             { return string(m) }
func (mountEntry) IsDir() bool                { return true }
func (mountEntry) Type() fs.FileMode          { return fs.ModeDir }
func (mountEntry) Info() (fs.FileInfo, error) { return nil, fs.ErrNotExist }

// ReadDirNames is ReadDir's names.
func (t Tree) ReadDirNames(p string) ([]string, error) {
	ents, err := t.ReadDir(p)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// Glob expands an absolute host pattern (path.Match syntax per component)
// and returns the host paths that exist in t, sorted. Components are
// listed with ReadDirNames, so mounts take part and links are followed
// only inside t.
func (t Tree) Glob(pattern string) ([]string, error) {
	if !path.IsAbs(pattern) {
		return nil, errors.New("glob " + pattern + ": not an absolute path")
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	cands := []string{"/"}
	for _, c := range strings.Split(pattern, "/") {
		if c == "" {
			continue
		}
		var next []string
		if !strings.ContainsAny(c, `*?[\`) {
			for _, d := range cands {
				next = append(next, path.Join(d, c))
			}
		} else {
			for _, d := range cands {
				names, err := t.ReadDirNames(d)
				if err != nil {
					continue
				}
				for _, n := range names {
					if ok, _ := path.Match(c, n); ok {
						next = append(next, path.Join(d, n))
					}
				}
			}
		}
		cands = next
	}
	var out []string
	for _, c := range cands {
		if local, err := t.Resolve(c); err == nil {
			if _, err := os.Stat(local); err == nil {
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// lstatLink reports whether the local path p is a symbolic link, or that
// it does not exist (gone is ENOENT or ENOTDIR): os.Lstat's answer
// without the FileInfo it allocates (a config load lstats ten thousand
// paths).
func lstatLink(p string) (link bool, gone syscall.Errno) {
	var st syscall.Stat_t
	for {
		err := syscall.Lstat(p, &st)
		switch err {
		case nil:
			return st.Mode&syscall.S_IFMT == syscall.S_IFLNK, 0
		case syscall.EINTR:
			continue
		case syscall.ENOENT, syscall.ENOTDIR:
			return false, err.(syscall.Errno)
		}
		return false, 0
	}
}

// Open opens a local file for reading, like os.Open but without asking
// the runtime's poller to take a regular file (which it refuses, after
// three fcntl and an epoll_ctl): a config load opens ten thousand files.
// The error is os.Open's: a *fs.PathError with Op "open".
func Open(name string) (*os.File, error) {
	fd, err := open(name, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

func open(name string, flags int) (int, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|flags, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return fd, nil
	}
}

// File is a file opened by Tree.Open for one read: a bare descriptor.
// Unlike an *os.File it costs no fcntl (os.NewFile asks whether the
// descriptor is non-blocking), no allocation of a FileInfo per Stat and
// no finalizer, which a config load of ten thousand files notices. It
// must be closed. Errors are those of *os.File: *fs.PathError with Op
// "stat", "read" or "close" and the local path.
type File struct {
	fd   int
	name string
}

// Name is the local path that was opened.
func (f *File) Name() string { return f.name }

// Stat returns the file's size and type (fs.ModeDir, 0 for a regular
// file, fs.ModeIrregular for anything else: only what readers check).
func (f *File) Stat() (size int64, mode fs.FileMode, err error) {
	var st syscall.Stat_t
	for {
		err = syscall.Fstat(f.fd, &st)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return 0, 0, &fs.PathError{Op: "stat", Path: f.name, Err: err}
	}
	switch st.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
	case syscall.S_IFDIR:
		mode = fs.ModeDir
	default:
		mode = fs.ModeIrregular
	}
	return st.Size, mode, nil
}

// Read is io.Reader's: io.EOF at the end.
func (f *File) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	for {
		n, err := syscall.Read(f.fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: err}
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// Close closes the descriptor.
func (f *File) Close() error {
	if err := syscall.Close(f.fd); err != nil {
		return &fs.PathError{Op: "close", Path: f.name, Err: err}
	}
	return nil
}

// Open opens the host file p for reading, links followed inside t as
// Resolve follows them. With the directory cache, the file is opened
// straight away with O_NOFOLLOW: the open itself then says whether the
// last component is a link (ELOOP), instead of an lstat before every
// open; a link is read and its target opened the same way. Errors are
// Resolve's and os.Open's.
func (t Tree) Open(p string) (*File, error) {
	if t.Root == "" && len(t.Mounts) == 0 {
		return openFile(p, 0)
	}
	if t.dirs == nil || strings.Contains(p, "..") {
		local, err := t.Resolve(p)
		if err != nil {
			return nil, err
		}
		return openFile(local, 0)
	}
	orig := p
	for hops := 0; ; hops++ {
		dir, base := path.Split(cleanAbs(p))
		if base == "" {
			return openFile(t.local("/"), 0)
		}
		rd, _, err := t.dir(path.Clean(dir))
		if err != nil {
			if pe, ok := err.(*fs.PathError); ok && hops > 0 && pe.Op == "resolve" {
				// A loop met after a link: Resolve names the path asked for.
				return nil, &fs.PathError{Op: "resolve", Path: orig, Err: pe.Err}
			}
			return nil, err
		}
		local := t.local(child(rd, base))
		var target string
		if t.dirs.listedLink(local) {
			target, _ = readlink(local) // "" if it changed since: open it
		}
		if target == "" {
			f, err := openFile(local, syscall.O_NOFOLLOW)
			if !errors.Is(err, syscall.ELOOP) {
				return f, err
			}
			var rerr error
			if target, rerr = readlink(local); rerr != nil {
				// Not a link: too many links in the local path itself.
				return nil, err
			}
		}
		if hops >= maxHops {
			return nil, &fs.PathError{Op: "resolve", Path: orig, Err: syscall.ELOOP}
		}
		switch {
		case !leadingDotDot(target):
			// ".." after a name: only a walk knows what it climbs from.
			cur := rd
			if path.IsAbs(target) {
				cur = "/"
			}
			host, _, err := t.walk(orig, cur, strings.Split(target, "/"), hops+1)
			if err != nil {
				return nil, err
			}
			return openFile(t.local(host), 0)
		case path.IsAbs(target):
			p = target
		default:
			// rd has no links left, so ".." leading the target is rd's
			// parent, as walk would climb it (clamped at "/").
			p = path.Join(rd, target)
		}
	}
}

// leadingDotDot reports whether target's ".." components all come before
// its first name: then lexical cleaning climbs as resolving would.
func leadingDotDot(target string) bool {
	named := false
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
		case "..":
			if named {
				return false
			}
		default:
			named = true
		}
	}
	return true
}

func openFile(name string, flags int) (*File, error) {
	fd, err := open(name, flags)
	if err != nil {
		return nil, err
	}
	return &File{fd: fd, name: name}, nil
}
