// Package logscan reads nginx error logs, php-fpm logs, kernel OOM messages
// and systemd journal exports, and classifies the lines that matter when
// nginx answers 502 or 504 in front of PHP-FPM.
//
// Reading is built for big files: a time window is found by binary search
// over byte offsets, lines are handled as bytes until they turn out to be
// relevant, and memory stays bounded whatever the input looks like.
package logscan

// Kind names what a classified log entry means. The string values are
// stable: reports and users' scripts rely on them.
type Kind string

// nginx error-log kinds.
const (
	KindOther            Kind = ""                  // not classified (only delivered with Options.All)
	KindConnectENOENT    Kind = "connect-enoent"    // connect() failed (2): no socket file
	KindConnectEACCES    Kind = "connect-eacces"    // connect() failed (13): permission denied
	KindConnectRefused   Kind = "connect-refused"   // connect() failed (111): nothing listens (unix or TCP)
	KindConnectEAGAIN    Kind = "connect-eagain"    // connect() failed (11) on a unix socket: backlog full
	KindConnectFailed    Kind = "connect-failed"    // connect() failed with another errno (101, 113, ...)
	KindRecvReset        Kind = "recv-reset"        // recv()/readv() failed (104): worker died mid-request
	KindRecvFailed       Kind = "recv-failed"       // recv() failed with another errno
	KindSendFailed       Kind = "send-failed"       // writev()/send() failed while sending the request
	KindPrematureClose   Kind = "premature-close"   // upstream prematurely closed connection
	KindTooBigHeader     Kind = "too-big-header"    // upstream sent too big header
	KindInvalidResponse  Kind = "invalid-response"  // bad FastCGI records, e.g. protocol version 72 (an HTTP server)
	KindUpstreamTimeout  Kind = "upstream-timeout"  // upstream timed out (110): 504; Action tells the phase
	KindNoLiveUpstreams  Kind = "no-live-upstreams" // every peer of a group failed recently
	KindUpstreamDisabled Kind = "upstream-disabled" // [warn] upstream server temporarily disabled
	KindFastCGIStderr    Kind = "fastcgi-stderr"    // FastCGI sent in stderr (no PHP fatal inside)
	KindScriptUnknown    Kind = "script-unknown"    // FastCGI sent in stderr: "Primary script unknown" (php-fpm found no such file: 404)
	KindHostNotFound     Kind = "host-not-found"    // host not found in upstream "x" (configuration time)
	KindResolveFailed    Kind = "resolve-failed"    // no resolver defined / could not be resolved (runtime, 502)
	KindConfigError      Kind = "config-error"      // nginx: emerg with "in FILE:LINE"; php-fpm: configuration refused
	KindEmerg            Kind = "emerg"             // other nginx emerg lines (bind() failed, ...)
)

// Kinds found in PHP output, from nginx's "FastCGI sent in stderr" or from
// php-fpm's captured worker output. Entry.Source says which.
const (
	KindPHPFatal        Kind = "php-fatal"        // PHP Fatal error (not memory)
	KindMemoryExhausted Kind = "memory-exhausted" // Allowed memory size of N bytes exhausted
)

// php-fpm log kinds.
const (
	KindMaxChildren          Kind = "max-children-reached"  // server reached [pm.]max_children setting (N)
	KindSeemsBusy            Kind = "seems-busy"            // seems busy (you may need to increase pm.start_servers ...)
	KindChildExitedSignal    Kind = "child-exited-signal"   // child N exited on signal S (NAME)
	KindChildExitedCode      Kind = "child-exited-code"     // child N exited with code C (0 is normal)
	KindChildStarted         Kind = "child-started"         // child N started
	KindExecutionTimedOut    Kind = "execution-timed-out"   // request_terminate_timeout fired: terminating
	KindSlow                 Kind = "slow"                  // request_slowlog_timeout: executing too slow
	KindConnectionDisallowed Kind = "connection-disallowed" // listen.allowed_clients dropped a client
	KindBindFailed           Kind = "bind-failed"           // unable to bind / listen on an address
	KindAddressInUse         Kind = "address-in-use"        // bind failed with errno 98, or another FPM already listens
	KindMultipleAddresses    Kind = "multiple-addresses"    // Found multiple addresses for X, Y ignored
	KindInheritedSocket      Kind = "inherited-socket"      // using inherited socket fd=N (a reload kept it)
	KindProcessMax           Kind = "process-max-reached"   // process.max reached
	KindEmergencyRestart     Kind = "emergency-restart"     // failed processes threshold reached
	KindReady                Kind = "ready"                 // ready to handle connections
	KindStarted              Kind = "started"               // fpm is running, pid N
	KindReloading            Kind = "reloading"             // Reloading in progress ...
	KindStopping             Kind = "stopping"              // Terminating ... / Finishing ...
	KindExiting              Kind = "exiting"               // exiting, bye-bye!
)

// Kernel and systemd kinds.
const (
	KindOOMKilled     Kind = "oom-killed"     // the OOM killer killed a process (Killed process N (name))
	KindOOMInfo       Kind = "oom-info"       // the lines around a kill: invoked oom-killer, oom-kill:..., oom_reaper
	KindServiceFailed Kind = "service-failed" // systemd: a unit's main process failed or the unit failed to start
)

// Status is the HTTP status nginx answered because of an entry of this kind,
// before looking at the phase: 502, 504, or 0 when the kind says nothing
// about a status. Entry.Status refines it per entry.
func (k Kind) Status() int {
	switch k {
	case KindConnectENOENT, KindConnectEACCES, KindConnectRefused, KindConnectEAGAIN, KindConnectFailed,
		KindRecvReset, KindRecvFailed, KindSendFailed, KindPrematureClose, KindTooBigHeader,
		KindInvalidResponse, KindNoLiveUpstreams, KindResolveFailed:
		return 502
	case KindUpstreamTimeout:
		return 504
	}
	return 0
}

// Source says which program wrote an entry.
type Source string

const (
	SourceNginx   Source = "nginx"
	SourceFPM     Source = "php-fpm"
	SourceKernel  Source = "kernel"
	SourceSystemd Source = "systemd"
	// SourceSlowlog is a pool's slowlog (request_slowlog_timeout), read
	// with ScanSlowlog: its entries are SlowEntry, not Entry.
	SourceSlowlog Source = "php-fpm-slowlog"
)
