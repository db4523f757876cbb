// Package snapshot gathers everything fpmdoctor knows about a host into one
// value: the discovered servers, their parsed configs, the live facts, and
// the PHP sites linking them (server block → location → fastcgi_pass
// target → pool → socket). Checks read only the Snapshot, so the same checks
// serve the live host, an offline tree (--root) and the watcher.
package snapshot

import (
	"net"
	"strings"
	"sync"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/discover"
	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/probe"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// Snapshot is one consistent picture of a host.
type Snapshot struct {
	Host  host.Host
	Users *host.Users
	Now   time.Time
	// Live is false for an offline tree: processes, sockets and probes are
	// not looked at, and the checks that need them are listed in Skipped.
	Live bool
	// Root is the offline tree, "" on the live host.
	Root string
	// mounts are Options.Mounts, for the config readers.
	mounts []rootfs.Mount
	// Listeners are the host's listening sockets (nil when not live or
	// unreadable).
	Listeners []host.Listener
	Nginx     []*Nginx
	FPM       []*FPM
	Sites     []*Site
	Skipped   []report.Skipped
	// lacking holds the facts that could not be gathered at all (facts.go).
	lacking map[Fact]bool
	Memory  *MemoryFacts // memory.go: nil when not live or unreadable
	Queues  *QueueFacts  // memory.go: nil when not live
	// Logs is what the logs say in the window (nil before they are read).
	Logs *Logs
	// Declared are facts stated for an offline tree (zero on a live host).
	Declared Declared
	// Network is what network.go learnt: the firewall, the namespaces.
	Network NetworkFacts
	// Repairs are fpmdoctor fix's proven repairs whose files still hold
	// what it wrote (repairs.go); set by the caller, nil when none.
	Repairs []Repair

	// Lookups by the keys findings carry; built on first use, after
	// gathering is done.
	indexOnce sync.Once
	siteByKey map[string]*Site
	poolByID  map[string]*Pool
}

// Declared are facts about the production host that a repository of
// configs cannot show: offline checks use them instead of measurements.
type Declared struct {
	// Memory is the RAM PHP may use (fpmdoctor check --memory), 0 when not
	// declared; WorkerMemory the size of one worker (--worker-memory).
	Memory, WorkerMemory uint64
}

// Nginx is one nginx installation with its parsed config.
type Nginx struct {
	*discover.Nginx
	Config  *nginxconf.Config
	Model   *nginxconf.Model
	LoadErr error
	// Cred is the workers' credentials, from running workers when there are
	// some, else from the user directive; nil when unknown.
	Cred *host.Cred
	// CredSource says where Cred came from, for evidence.
	CredSource string
	// CredFile/CredLine point at the user directive when it decided.
	CredFile string
	CredLine int
	// Test is nginx's own verdict (nginx -t -q), run on a live host only
	// when the parser found a problem, to confirm it.
	Test *ConfigTest
}

// FPM is one php-fpm installation with its parsed config.
type FPM struct {
	*discover.FPM
	Config   *fpmconf.Config
	LoadErr  error
	Problems []fpmconf.Problem // parse and validation problems
	Pools    []*Pool
	// Test is php-fpm's own verdict (php-fpm -t), run only when the
	// validator found a fatal problem, to confirm it.
	Test *ConfigTest

	byPoolOnce sync.Once
	byPool     map[string][]host.Process
	byNameOnce sync.Once
	byName     map[string]*Pool
}

// ConfigTest is the result of a server's own config test.
type ConfigTest struct {
	Command string
	Output  string
	OK      bool
}

// Running reports whether a master of this installation runs.
func (f *FPM) Running() bool { return f.Master != nil }

// Pool is one php-fpm pool and what is known of its socket.
type Pool struct {
	FPM    *FPM
	Pool   *fpmconf.Pool
	Name   string
	Listen fpmconf.Address
	// ListenErr is set when the listen value cannot be parsed.
	ListenErr error
	Setting   *fpmconf.Setting // the listen line; nil when missing
	// Socket is the unix socket file (Exists false when absent).
	Socket host.FileInfo
	// Listener is the live listening socket serving this pool, nil when
	// none was found (or not live).
	Listener *host.Listener
	Queue    *host.Queue    // memory.go: the listener's accept queue (sock_diag), nil when unknown
	Workers  []host.ProcMem // memory.go: measured workers (a sample of at most 32)
	// Sites are the sites nginx routes to this pool.
	Sites []*Site
	id    string
}

// ID names the pool uniquely across installations: "www (/etc/php/8.2/fpm/php-fpm.conf)".
func (p *Pool) ID() string {
	if p.id == "" { // pools built outside Gather (tests)
		return p.Name + " (" + p.FPM.Conf + ")"
	}
	return p.id
}

// PoolNamed finds a pool by the name php-fpm logs, comparing names as
// php-fpm does (ASCII case-insensitively). The index is built once: every
// php-fpm log entry is tied to its pool through it.
func (f *FPM) PoolNamed(name string) *Pool {
	f.byNameOnce.Do(func() {
		f.byName = make(map[string]*Pool, len(f.Pools))
		for _, p := range f.Pools {
			if k := strings.ToLower(p.Name); f.byName[k] == nil {
				f.byName[k] = p
			}
		}
	})
	return f.byName[strings.ToLower(name)]
}

// Site is one fastcgi_pass: the PHP site nginx routes through it.
type Site struct {
	Nginx   *Nginx
	Server  *nginxconf.Server
	Pass    *nginxconf.FastCGIPass
	Name    string // first server_name, or "_" when there is none
	Targets []*Target
	key     string
}

// Key identifies a site in findings.
func (s *Site) Key() string {
	if s.key == "" {
		s.key = s.Name + " " + s.Pass.Directive.Pos()
	}
	return s.key
}

// Target is one address nginx connects to for a site: the fastcgi_pass
// itself, or each server of the upstream it names.
type Target struct {
	nginxconf.Target
	// Directive is where the address is written (fastcgi_pass, or the
	// upstream's server line).
	Directive *nginxconf.Directive
	// IPs are the addresses nginx connects to for a TCP target (a literal,
	// or a name resolved as nginx does at load: the hosts file, then, on
	// the live host, DNS through the system resolver, every A and AAAA).
	IPs []net.IP
	// ResolvedBy says where IPs came from: "literal", "hosts file", "DNS".
	ResolvedBy string
	// Unresolved is set when a host name has no address: not in the hosts
	// file and (live) not in DNS, or (offline) not in the tree's hosts
	// file, where DNS is not asked. ResolveErr says what DNS answered.
	Unresolved bool
	ResolveErr string
	// Pool is the pool listening there, nil when none is configured to.
	Pool *Pool
	// Socket is the unix socket file as found on disk.
	Socket host.FileInfo
	// Listener is the live listening socket at the address, if any.
	Listener *host.Listener
	// Probe is the live FastCGI exchange with the address, nil when not
	// probed (offline, --no-probe, over the limit).
	Probe *probe.Result
	// Probes are the exchanges with each of IPs, in their order (Probe is
	// the first): nginx tries every address of a name, so each is asked.
	Probes []*probe.Result
	// Owners are the processes holding the listening socket at the
	// address, looked up when something there does not speak FastCGI.
	Owners []host.SocketOwner
}

// SiteByKey finds the site a finding names in its Site field.
func (s *Snapshot) SiteByKey(key string) *Site {
	s.buildIndex()
	return s.siteByKey[key]
}

// PoolByID finds the pool a finding names in its Pool field.
func (s *Snapshot) PoolByID(id string) *Pool {
	s.buildIndex()
	return s.poolByID[id]
}

// buildIndex maps keys to sites and pools once, after gathering: checks
// and fix look them up per finding, and a hosting host has thousands of
// each.
func (s *Snapshot) buildIndex() {
	s.indexOnce.Do(func() {
		s.siteByKey = make(map[string]*Site, len(s.Sites))
		for _, site := range s.Sites {
			if _, dup := s.siteByKey[site.Key()]; !dup {
				s.siteByKey[site.Key()] = site
			}
		}
		s.poolByID = map[string]*Pool{}
		for _, f := range s.FPM {
			for _, p := range f.Pools {
				if _, dup := s.poolByID[p.ID()]; !dup {
					s.poolByID[p.ID()] = p
				}
			}
		}
	})
}
