package snapshot

import "context"

// gatherExtra collects the facts beyond configs, processes and sockets.
// Each collector is one function in its own file; add yours here.
func gatherExtra(ctx context.Context, s *Snapshot, opts Options) {
	// Memory and kernel queues (memory.go): read before the probes, which
	// would add a connection to the queue they measure.
	gatherMemory(ctx, s)
	gatherQueues(ctx, s)
	// Logs (logs.go): tied to the pools and sites found above.
	gatherLogs(ctx, s, opts)
}
