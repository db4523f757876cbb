//go:build !linux

package follow

// Wake returns nil (never ready) where inotify does not exist: poll on a
// ticker alone. See the Linux version.
func (f *Follower) Wake() <-chan struct{} { return nil }

func (f *Follower) stopWake() error { return nil }
