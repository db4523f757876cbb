package host

import (
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
)

// Cached wraps a Host and remembers Stat results for the lifetime of one
// diagnosis. Thousands of sockets share a few directories, and every
// permission walk stats each directory above its socket: without the cache
// a hosting host costs tens of thousands of stat and getxattr calls.
func Cached(h Host) Host {
	if _, ok := h.(*cachedHost); ok {
		return h
	}
	return &cachedHost{Host: h, stats: map[string]FileInfo{}, dirs: map[string]resolved{}}
}

type cachedHost struct {
	Host
	mu    sync.Mutex
	stats map[string]FileInfo
	dirs  map[string]resolved // symlink resolution of directories
}

type resolved struct {
	path string
	err  error
}

// evalSymlinks remembers filepath.EvalSymlinks: thousands of sockets share
// a few directories, and ConnectCheck resolves each socket's directory.
func (c *cachedHost) evalSymlinks(dir string) (string, error) {
	c.mu.Lock()
	r, ok := c.dirs[dir]
	c.mu.Unlock()
	if ok {
		return r.path, r.err
	}
	r.path, r.err = filepath.EvalSymlinks(dir)
	c.mu.Lock()
	c.dirs[dir] = r
	c.mu.Unlock()
	return r.path, r.err
}

// evalSymlinks is filepath.EvalSymlinks, remembered when h is Cached.
func evalSymlinks(h Host, dir string) (string, error) {
	if c, ok := h.(*cachedHost); ok {
		return c.evalSymlinks(dir)
	}
	return filepath.EvalSymlinks(dir)
}

// ResolveSocket names a socket the way the kernel reaches it: symlinks in
// its directory resolved (/var/run → /run) on the live host, so two
// spellings of one socket compare equal. Offline paths are only cleaned.
func ResolveSocket(h Host, path string) string {
	path = filepath.Clean(path)
	if !h.Live() {
		return path
	}
	if dir, err := evalSymlinks(h, filepath.Dir(path)); err == nil {
		return filepath.Join(dir, filepath.Base(path))
	}
	return path
}

func (c *cachedHost) Stat(path string) FileInfo {
	c.mu.Lock()
	fi, ok := c.stats[path]
	c.mu.Unlock()
	if ok {
		return fi
	}
	fi = c.Host.Stat(path)
	c.mu.Lock()
	c.stats[path] = fi
	c.mu.Unlock()
	return fi
}

// StatAll stats paths a few at a time, so that a Cached host answers the
// Stat calls that follow from memory. A hosting host has thousands of
// sockets and config files whose stat and getxattr calls are most of what
// a diagnosis does after reading the configs; one after the other they
// leave cores idle. On a host that is not Cached it does nothing.
func StatAll(h Host, paths []string) {
	c, ok := h.(*cachedHost)
	if !ok {
		return
	}
	c.mu.Lock()
	if len(c.stats) == 0 {
		// Sized once instead of grown through a dozen rehashes.
		c.stats = make(map[string]FileInfo, len(paths))
	}
	c.mu.Unlock()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(max(2, runtime.GOMAXPROCS(0)), len(paths)/16+1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(paths); i = int(next.Add(1) - 1) {
				c.Stat(paths[i])
			}
		}()
	}
	wg.Wait()
}
