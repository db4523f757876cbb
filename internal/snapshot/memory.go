package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
)

// Skipped-check names of this file's collectors; the checks using the
// facts carry the same IDs.
const (
	SkipMemory = "memory-overcommit"
	SkipQueue  = "backlog-overflow-queue"
)

// maxMeasuredWorkers bounds the smaps_rollup reads per pool: the kernel
// walks every mapping of the process for each read, and a sample of a
// large pool gives the same average and a near maximum.
const maxMeasuredWorkers = 32

// MemoryFacts is the memory PHP can use on the live host.
type MemoryFacts struct {
	Host host.MemInfo
	// Cgroups holds the memory cgroup of each running php-fpm master, by
	// master pid; missing when unreadable.
	Cgroups map[int]*host.CgroupMemory
}

// Cgroup returns the memory cgroup f's master runs in, nil when unknown.
func (m *MemoryFacts) Cgroup(f *FPM) *host.CgroupMemory {
	if m == nil || f == nil || f.Master == nil {
		return nil
	}
	return m.Cgroups[f.Master.PID]
}

// QueueFacts is what the kernel says about listen queues in general.
type QueueFacts struct {
	// Somaxconn caps every listen() backlog (net.core.somaxconn); 0 when
	// unknown.
	Somaxconn int
}

// WorkerStats sums a pool's measured workers.
type WorkerStats struct {
	Running  int    `json:"running"`  // workers of the pool seen in /proc
	Measured int    `json:"measured"` // of them, how many were measured
	AvgPSS   uint64 `json:"avg_pss"`
	MinPSS   uint64 `json:"min_pss"`
	MaxPSS   uint64 `json:"max_pss"`
	TotalPSS uint64 `json:"total_pss"` // over the measured workers
	AvgRSS   uint64 `json:"avg_rss"`
}

// WorkerStats summarises p.Workers; Running counts the pool's processes.
func (p *Pool) WorkerStats() WorkerStats {
	st := WorkerStats{Running: len(p.WorkerProcs()), Measured: len(p.Workers)}
	if st.Measured == 0 {
		return st
	}
	var rss uint64
	st.MinPSS = p.Workers[0].PSS
	for _, w := range p.Workers {
		st.TotalPSS += w.PSS
		rss += w.RSS
		st.MinPSS = min(st.MinPSS, w.PSS)
		st.MaxPSS = max(st.MaxPSS, w.PSS)
	}
	st.AvgPSS = st.TotalPSS / uint64(st.Measured)
	st.AvgRSS = rss / uint64(st.Measured)
	return st
}

// InUse estimates what the pool's running workers hold now: the measured
// ones exactly, the rest (beyond the sample) at the measured average.
func (st WorkerStats) InUse() uint64 {
	return st.TotalPSS + uint64(st.Running-st.Measured)*st.AvgPSS
}

// WorkerProcs are the running worker processes of the pool: children of
// its master titled "php-fpm: pool NAME".
func (p *Pool) WorkerProcs() []host.Process {
	if p.FPM == nil || p.FPM.Master == nil {
		return nil
	}
	return p.FPM.workersByPool()[p.Name]
}

// workersByPool groups the master's workers by the pool in their title,
// once: looking them up pool by pool would cost pools × workers.
func (f *FPM) workersByPool() map[string][]host.Process {
	f.byPoolOnce.Do(func() {
		f.byPool = map[string][]host.Process{}
		for _, w := range f.Workers {
			if w.Role() == host.RoleFPMWorker {
				f.byPool[w.FPMPool()] = append(f.byPool[w.FPMPool()], w)
			}
		}
	})
	return f.byPool
}

// gatherMemory measures what memory-overcommit and tune need: each pool's
// workers (PSS from smaps_rollup), the host's MemAvailable and the memory
// cgroup of every running master.
func gatherMemory(ctx context.Context, s *Snapshot) {
	// Pools with no running worker (ondemand, idle) cannot be measured;
	// a hosting host has thousands, so they are named once, together.
	var idle []string
	defer func() {
		if len(idle) == 0 {
			return
		}
		names := idle
		if len(names) > 5 {
			names = append(names[:5:5], fmt.Sprintf("and %d more", len(idle)-5))
		}
		s.skip(FactMemory, fmt.Sprintf("%d pools have no running workers, so their worker size cannot be measured and they are left out of the sum: %s", len(idle), strings.Join(names, ", ")))
	}()
	if !s.Live {
		s.Lack(FactMemory, "offline mode (--root): worker memory is not measured; only configured pm.max_children are known")
		return
	}
	mi, err := host.ReadMemInfo(host.ProcRoot)
	if err != nil {
		s.Lack(FactMemory, "cannot read the host's memory: "+err.Error())
		return
	}
	s.Memory = &MemoryFacts{Host: mi, Cgroups: map[int]*host.CgroupMemory{}}
	for _, f := range s.FPM {
		if f.Master == nil {
			continue
		}
		if cg, err := host.ReadCgroupMemory(host.ProcRoot, host.CgroupRoot, f.Master.PID); err == nil {
			s.Memory.Cgroups[f.Master.PID] = &cg
		}
		for _, p := range f.Pools {
			if ctx.Err() != nil {
				return
			}
			procs := p.WorkerProcs()
			if len(procs) == 0 {
				idle = append(idle, p.Name+" (pm = "+p.Pool.PM()+")")
				continue
			}
			// Sample the oldest workers: they have served the most
			// requests and grown the most.
			sort.Slice(procs, func(i, j int) bool { return procs[i].Start.Before(procs[j].Start) })
			denied := 0
			for _, w := range procs[:min(len(procs), maxMeasuredWorkers)] {
				m, err := host.ReadProcMem(host.ProcRoot, w.PID)
				switch {
				case err == nil:
					p.Workers = append(p.Workers, m)
				case errors.Is(err, os.ErrPermission):
					denied++
				}
			}
			if len(p.Workers) == 0 && denied > 0 {
				s.skip(FactMemory, fmt.Sprintf("pool %s: cannot read its workers' /proc/PID/smaps_rollup (needs root)", p.ID()))
			}
		}
	}
}

// gatherQueues reads every pool's listening socket queue and backlog from
// the kernel (netlink sock_diag), and net.core.somaxconn.
func gatherQueues(ctx context.Context, s *Snapshot) {
	if !s.Live {
		s.Lack(FactListenQueue, "offline mode (--root): listen queues are not read; net.core.somaxconn is the live host's")
		return
	}
	s.Queues = &QueueFacts{}
	if n, err := host.Somaxconn(host.ProcRoot); err == nil {
		s.Queues.Somaxconn = n
	} else {
		s.Lack(FactListenQueue, "cannot read net.core.somaxconn: "+err.Error())
	}
	qs, err := host.QueueStats(ctx)
	if err != nil {
		s.Lack(FactListenQueue, "cannot read listen queues from the kernel: "+err.Error())
		return
	}
	byInode := make(map[uint64]host.Queue, len(qs))
	for _, q := range qs {
		byInode[q.Inode] = q
	}
	for _, f := range s.FPM {
		for _, p := range f.Pools {
			if p.Listener == nil {
				continue
			}
			q, ok := byInode[p.Listener.Inode]
			if !ok {
				q, ok = qs[p.Listener.String()]
			}
			if ok {
				p.Queue = &q
			}
		}
	}
}

// MemoryGroup is a set of pools drawing on one memory budget: the host's,
// or a cgroup limit that binds the masters they belong to.
type MemoryGroup struct {
	// Cgroup is the limited cgroup the pools run under, nil for the host.
	Cgroup *host.CgroupMemory
	// Pools are the pools of running masters whose workers were measured;
	// Unmeasured those that could not be (no running worker, no access).
	Pools      []*Pool
	Unmeasured []*Pool
	// InUse is what the measured pools' workers hold now: a budget for
	// them counts it as available, since they would reuse it.
	InUse uint64
	// HostRoom is MemAvailable + InUse; CgroupRoom is the cgroup's limit
	// minus its usage plus InUse (0 without a limit). Budget is the
	// smaller of the two that apply.
	HostRoom, CgroupRoom, Budget uint64
}

// Limited reports whether the cgroup limit, not the host, sets the budget.
func (g *MemoryGroup) Limited() bool { return g.Cgroup != nil && g.CgroupRoom < g.HostRoom }

// MemoryGroups splits the running pools by the memory limit they share.
// It returns nil when memory was not measured (offline, unreadable).
func (s *Snapshot) MemoryGroups() []*MemoryGroup {
	if s.Memory == nil {
		return nil
	}
	byLimit := map[string]*MemoryGroup{}
	var out []*MemoryGroup
	for _, f := range s.FPM {
		if f.Master == nil {
			continue
		}
		key := ""
		cg := s.Memory.Cgroup(f)
		if cg != nil && cg.Limit > 0 {
			key = cg.LimitFile
		} else {
			cg = nil
		}
		g := byLimit[key]
		if g == nil {
			g = &MemoryGroup{Cgroup: cg}
			byLimit[key] = g
			out = append(out, g)
		}
		for _, p := range f.Pools {
			if len(p.Workers) == 0 {
				g.Unmeasured = append(g.Unmeasured, p)
				continue
			}
			g.Pools = append(g.Pools, p)
			g.InUse += p.WorkerStats().InUse()
		}
	}
	for _, g := range out {
		g.HostRoom = s.Memory.Host.Available + g.InUse
		g.Budget = g.HostRoom
		if g.Cgroup != nil {
			if g.Cgroup.Limit > g.Cgroup.Current {
				g.CgroupRoom = g.Cgroup.Limit - g.Cgroup.Current
			}
			g.CgroupRoom += g.InUse
			g.Budget = min(g.Budget, g.CgroupRoom)
		}
	}
	return out
}
