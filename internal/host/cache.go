package host

import "sync"

// Cached wraps a Host and remembers Stat results for the lifetime of one
// diagnosis. Thousands of sockets share a few directories, and every
// permission walk stats each directory above its socket: without the cache
// a hosting host costs tens of thousands of stat and getxattr calls.
func Cached(h Host) Host {
	if _, ok := h.(*cachedHost); ok {
		return h
	}
	return &cachedHost{Host: h, stats: map[string]FileInfo{}}
}

type cachedHost struct {
	Host
	mu    sync.Mutex
	stats map[string]FileInfo
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
