package snapshot

import "github.com/fpmdoctor/fpmdoctor/internal/report"

// Fact names one kind of live fact the snapshot gathers. When a fact cannot
// be gathered the snapshot records why under its name in Skipped; checks
// declare the facts they need (checks.Check.Needs) so that a check never
// runs on a fact that is missing, and the step it belongs to is never
// marked as checked when it was not. The values are the "check" strings of
// the report's skipped list, a contract: never rename one.
type Fact string

// The facts. Those named like a step (service, socket, permission,
// applied, logs) also mark that step as skipped on every site.
const (
	FactUsers       Fact = "users"      // the user database (names of uids and gids)
	FactProcesses   Fact = "processes"  // the process list in /proc
	FactService     Fact = "service"    // whether nginx and php-fpm run (offline: never)
	FactSocket      Fact = "socket"     // socket files and listeners (offline: never)
	FactPermission  Fact = "permission" // socket and directory modes (offline: never)
	FactApplied     Fact = "applied"    // running configs against files (offline: never)
	FactSockets     Fact = "sockets"    // the kernel's listening sockets
	FactPools       Fact = "pools"      // a php-fpm config to read pools from
	FactProbe       Fact = "probe"      // FastCGI exchanges with the pools
	FactLogs        Fact = "logs"       // the nginx and php-fpm logs
	FactKernelLog   Fact = "kernel-log" // the kernel's log (OOM kills)
	FactMemory      Fact = SkipMemory   // worker memory and the host's
	FactListenQueue Fact = SkipQueue    // the kernel's accept queues
)

// skip records that part of fact f could not be gathered: a log file of
// many, the workers of one pool. Checks needing f still run on the rest.
func (s *Snapshot) skip(f Fact, reason string) {
	s.Skipped = append(s.Skipped, report.Skipped{Check: string(f), Reason: reason})
}

// Lack records that fact f could not be gathered at all; checks needing
// it do not run (Lacks).
func (s *Snapshot) Lack(f Fact, reason string) {
	s.skip(f, reason)
	if s.lacking == nil {
		s.lacking = map[Fact]bool{}
	}
	s.lacking[f] = true
}

// Lacks reports whether fact f could not be gathered at all.
func (s *Snapshot) Lacks(f Fact) bool { return s.lacking[f] }

// Describe names the fact for a sentence: "not checked: it needs the
// process list".
func (f Fact) Describe() string {
	switch f {
	case FactUsers:
		return "the user database"
	case FactProcesses:
		return "the process list"
	case FactService, FactSocket, FactPermission, FactApplied:
		return "the live host"
	case FactSockets:
		return "the kernel's listening sockets"
	case FactPools:
		return "a php-fpm config"
	case FactProbe:
		return "FastCGI probes"
	case FactLogs:
		return "the logs"
	case FactKernelLog:
		return "the kernel log"
	case FactMemory:
		return "worker and host memory"
	case FactListenQueue:
		return "the kernel's accept queues"
	}
	return string(f)
}
