// Package host gathers live facts about the machine: processes, listening
// sockets, file ownership and permissions, users and groups. Everything
// fpmdoctor learns about the running system goes through a Host, so the
// same checks run on the live machine and on an offline copy (--root).
package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/ident"
	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// ErrOffline is returned for live facts when reading an offline tree.
var ErrOffline = errors.New("offline mode (--root): no live host to inspect")

// Host is where facts come from.
type Host interface {
	// Live reports whether this is the running machine (not an offline tree).
	Live() bool
	// Path maps a path as the host sees it to where it can be read here.
	// Offline, symlinks in the tree are resolved inside it (rootfs), so
	// the path returned never leads out of the tree; an error is a link
	// loop or an unreadable link.
	Path(p string) (string, error)
	// Processes lists processes; ErrOffline when not live.
	Processes(ctx context.Context) ([]Process, error)
	// Listeners lists listening unix and TCP sockets; ErrOffline when not live.
	Listeners(ctx context.Context) ([]Listener, error)
	// Stat describes path (following symlinks), with ACLs when set.
	Stat(path string) FileInfo
	// Users reads the user and group databases.
	Users() (*Users, error)
	// Now is the host's clock.
	Now() time.Time
}

// New returns the live host when root is "" or "/", else an offline tree.
func New(root string) Host {
	if root == "" || root == "/" {
		return liveHost{}
	}
	// A host serves one diagnosis (or one fix): directories do not turn
	// into links meanwhile, and thousands of sockets share a directory.
	return offlineHost{tree: rootfs.Tree{Root: filepath.Clean(root)}.WithCache()}
}

// NewTree returns an offline host read from t: a --root tree with
// repository directories mounted over it (fpmdoctor check).
func NewTree(t rootfs.Tree) Host {
	if len(t.Mounts) == 0 {
		return New(t.Root)
	}
	t.Root = filepath.Clean(t.Root)
	return offlineHost{tree: t.WithCache()}
}

type liveHost struct{}

func (liveHost) Live() bool                    { return true }
func (liveHost) Path(p string) (string, error) { return p, nil }
func (liveHost) Now() time.Time                { return time.Now() }
func (liveHost) Stat(path string) FileInfo     { return statPath(path, path) }
func (liveHost) Users() (*Users, error)        { return ident.LoadUsers("/etc/passwd", "/etc/group") }
func (liveHost) Processes(ctx context.Context) ([]Process, error) {
	return readProcesses(ctx, "/proc")
}
func (liveHost) Listeners(ctx context.Context) ([]Listener, error) {
	return readListeners(ctx, "/proc")
}

// offlineHost reads files under root as if root were "/". It has no
// processes or sockets: those checks are skipped, never guessed.
type offlineHost struct{ tree rootfs.Tree }

func (offlineHost) Live() bool { return false }

func (h offlineHost) Path(p string) (string, error) {
	return h.tree.Resolve(filepath.Clean("/" + p))
}

func (offlineHost) Now() time.Time { return time.Now() }

func (h offlineHost) Stat(path string) FileInfo {
	local, err := h.Path(path)
	if err != nil {
		return FileInfo{Path: path, Err: err}
	}
	if h.tree.Missing(filepath.Clean("/" + path)) {
		// What statPath says of ENOENT, without asking: the sockets of a
		// repository's thousands of pools are in a directory it lacks.
		return FileInfo{Path: path}
	}
	return statPath(path, local)
}

func (h offlineHost) Users() (*Users, error) {
	passwd, err := h.Path("/etc/passwd")
	if err != nil {
		return nil, err
	}
	group, err := h.Path("/etc/group")
	if err != nil {
		return nil, err
	}
	return ident.LoadUsers(passwd, group)
}

func (offlineHost) Processes(context.Context) ([]Process, error)  { return nil, ErrOffline }
func (offlineHost) Listeners(context.Context) ([]Listener, error) { return nil, ErrOffline }

// Exists reports whether path exists on h.
func Exists(h Host, path string) bool {
	local, err := h.Path(path)
	if err != nil {
		return false
	}
	_, err = os.Stat(local)
	return err == nil
}

// Glob expands pattern on h and returns host paths.
func Glob(h Host, pattern string) []string {
	if c, ok := h.(*cachedHost); ok {
		h = c.Host
	}
	if o, ok := h.(offlineHost); ok && len(o.tree.Mounts) > 0 {
		// Mounts show only in a listing of their parents.
		matches, _ := o.tree.Glob(pattern)
		return matches
	}
	local, err := h.Path(pattern)
	if err != nil {
		return nil
	}
	matches, _ := filepath.Glob(local)
	if !h.Live() {
		prefix, _ := h.Path("/")
		for i, m := range matches {
			matches[i] = "/" + strings.TrimPrefix(strings.TrimPrefix(m, prefix), "/")
		}
	}
	return matches
}
