package snapshot

import "context"

// gatherExtra collects the facts beyond configs, processes and sockets.
// Each collector is one function in its own file; add yours here.
func gatherExtra(ctx context.Context, s *Snapshot, opts Options) {
}
