// Package report holds the diagnosis result — the JSON contract of
// DESIGN.md — and renders it as text, JSON or SARIF.
package report

import (
	"slices"
	"sort"
	"time"
)

// Schema is the version of the JSON report. Fields are only ever added.
const Schema = 1

// Severity of a finding.
type Severity string

const (
	// Error causes 502/504 now, or will at the next restart.
	Error Severity = "error"
	// Warning is a real risk that is not failing requests now.
	Warning Severity = "warning"
	// Info is worth knowing.
	Info Severity = "info"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 0
	case Warning:
		return 1
	}
	return 2
}

// Evidence kinds.
const (
	KindConfig = "config"
	KindLog    = "log"
	KindFact   = "fact"
)

// Evidence is one fact that proves a finding: a config line, a log line, or
// something observed on the live host.
type Evidence struct {
	Kind string `json:"kind"`
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Text string `json:"text"`
}

// Fix says how to repair a finding and whether `fpmdoctor fix` can do it.
type Fix struct {
	Summary   string `json:"summary"`
	Automatic bool   `json:"automatic"`
}

// Finding is one diagnosed problem.
type Finding struct {
	ID       string     `json:"id"`
	Cause    string     `json:"cause"`
	Severity Severity   `json:"severity"`
	Title    string     `json:"title"`
	Detail   string     `json:"detail"`
	Site     string     `json:"site,omitempty"`
	Pool     string     `json:"pool,omitempty"`
	Evidence []Evidence `json:"evidence"`
	Fix      *Fix       `json:"fix,omitempty"`
	// Logs summarises the log entries behind a finding, when there are some.
	Logs *LogSummary `json:"logs,omitempty"`
	// Slow is what the pool's slowlog says in the window, on findings
	// about busy or slow workers.
	Slow *SlowRequests `json:"slow_requests,omitempty"`
	// PHPErrors are PHP's own fatal errors behind the finding, per place.
	PHPErrors []PHPError `json:"php_errors,omitempty"`
	// Affected lists every pool and site a finding concerns when it is
	// more than its Pool: one stopped master with thousands of pools is one
	// finding, and scripts still get every name.
	Affected *Affected `json:"affected,omitempty"`

	// Step is the usual 502 checklist's step the finding belongs to; it orders
	// findings of equal weight the way an engineer would look at them.
	Step Step `json:"-"`
	// Live is set when the evidence was observed (a failed connect, a log
	// line, a missing process) rather than inferred from config alone.
	Live bool `json:"-"`
	// Address is the fastcgi_pass address a finding about one target of
	// Site concerns when no pool stands behind it, so that later passes
	// (failover) can find the target again.
	Address string `json:"-"`
}

// Affected lists the pools (IDs) and sites (keys) one finding concerns.
type Affected struct {
	Pools []string `json:"pools"`
	Sites []string `json:"sites"`
}

// ConcernsPool reports whether f is about the pool with ID id.
func (f *Finding) ConcernsPool(id string) bool {
	return id != "" && (f.Pool == id || f.Affected != nil && slices.Contains(f.Affected.Pools, id))
}

// LogSummary counts the log entries behind a finding.
type LogSummary struct {
	Count int `json:"count"`
	// Retried is how many of Count were failed tries that nginx followed
	// with a try of another server (the request did not fail there).
	Retried int        `json:"retried,omitempty"`
	First   time.Time  `json:"first_seen"`
	Last    time.Time  `json:"last_seen"`
	TopURLs []URLCount `json:"top_urls,omitempty"`
}

// SlowRequests summarises a pool's slowlog (request_slowlog_timeout)
// in the window.
type SlowRequests struct {
	Slowlog string    `json:"slowlog"`
	Count   int       `json:"count"`
	First   time.Time `json:"first_seen"`
	Last    time.Time `json:"last_seen"`
	// DumpFailed counts entries whose trace php-fpm could not read.
	DumpFailed int `json:"dump_failed,omitempty"`
	// NginxFailures counts nginx's 502/504 on the same pool while the
	// slow requests ran.
	NginxFailures int           `json:"nginx_failures"`
	Scripts       []ScriptCount `json:"scripts"`
	Frames        []SlowFrame   `json:"top_frames"`
}

// ScriptCount is a script and how many slow requests ran it; "other"
// sums the scripts past the top few.
type ScriptCount struct {
	Script string `json:"script"`
	Count  int    `json:"count"`
}

// SlowFrame is where slow requests were waiting: Function, called at
// File:Line from Caller, in Script.
type SlowFrame struct {
	Script   string `json:"script,omitempty"`
	Function string `json:"function"`
	Caller   string `json:"caller,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	Count    int    `json:"count"`
}

// PHPError counts one fatal error of PHP's at one place.
type PHPError struct {
	// Kind: memory-exhausted, max-execution-time, uncaught-exception, fatal.
	Kind    string `json:"kind"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Count   int    `json:"count"`
	Message string `json:"message"`
	// Status is what nginx answered for these requests when its log says
	// (500: it read PHP's error from the response); 0 when unknown.
	Status int `json:"status,omitempty"`
}

// URLCount is a request path and how often it failed.
type URLCount struct {
	URL   string `json:"url"`
	Count int    `json:"count"`
}

// Bucket is one minute of the timeline.
type Bucket struct {
	Minute   time.Time `json:"minute"`
	Nginx502 int       `json:"nginx_502"`
	Nginx504 int       `json:"nginx_504"`
	// Retried counts nginx's failed tries of a server that it followed
	// with a try of another server of the upstream: no 502 came of them.
	Retried int `json:"nginx_retried,omitempty"`
	FPM     int `json:"php_fpm_events"`
}

// Skipped records a check that could not run, and why.
type Skipped struct {
	Check  string `json:"check"`
	Reason string `json:"reason"`
}

// Step is one step of the hand procedure fpmdoctor automates.
type Step int

// The steps, in the order the usual 502 checklist takes them.
const (
	StepConfig Step = iota // the configs parse and pass the servers' own rules
	StepService
	StepPass
	StepListen
	StepSocket
	StepPermission
	StepLogs
	StepLimits
	StepApplied
)

// String is the short label shown per site in the text report.
func (s Step) String() string {
	switch s {
	case StepConfig:
		return "config"
	case StepService:
		return "service"
	case StepPass:
		return "fastcgi_pass"
	case StepListen:
		return "listen"
	case StepSocket:
		return "socket"
	case StepPermission:
		return "permission"
	case StepLogs:
		return "logs"
	case StepLimits:
		return "limits"
	case StepApplied:
		return "applied"
	}
	return "other"
}

// Site is one PHP site as nginx routes it: server block → location →
// fastcgi_pass target → pool → socket.
type Site struct {
	Name     string `json:"name"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	Location string `json:"location,omitempty"`
	Pass     string `json:"fastcgi_pass"`
	PassFile string `json:"fastcgi_pass_file"`
	PassLine int    `json:"fastcgi_pass_line"`
	Pool     string `json:"pool,omitempty"`
	// Pools lists every pool the pass reaches, in upstream order, when it
	// reaches more than one (an upstream block); Pool is the first.
	Pools    []string     `json:"pools,omitempty"`
	PoolFile string       `json:"pool_file,omitempty"`
	Listen   string       `json:"listen,omitempty"`
	Steps    []StepResult `json:"steps"`
}

// StepResult is the mark a site gets for one step.
type StepResult struct {
	Step   string `json:"step"`
	Status string `json:"status"` // ok, fail, warn, skip
}

// Report is the whole diagnosis.
type Report struct {
	Schema   int       `json:"schema"`
	Findings []Finding `json:"findings"`
	Skipped  []Skipped `json:"skipped"`
	Sites    []Site    `json:"sites"`
	// Timeline counts, per minute of the log window, nginx's 502 and 504
	// failures against php-fpm's events; empty when the logs were quiet.
	Timeline []Bucket `json:"timeline,omitempty"`
	// LogsRead says which logs were read and how much of them.
	LogsRead []LogRead `json:"logs_read,omitempty"`
	// Services says, on a live host, whether each nginx and php-fpm found
	// runs, and how to start one that does not.
	Services []Service `json:"services,omitempty"`
}

// Service is one nginx or php-fpm installation on the live host.
type Service struct {
	Name    string `json:"name"` // "nginx" or "php-fpm"
	Config  string `json:"config"`
	Running bool   `json:"running"`
	PID     int    `json:"pid,omitempty"`
	// Start is the command that starts it, when it does not run.
	Start string `json:"start,omitempty"`
}

// LogRead is one log that was read: seeking by time keeps BytesRead far
// below Size on big logs.
type LogRead struct {
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	BytesRead int64  `json:"bytes_read"`
	Entries   int64  `json:"entries"`
}

// New returns an empty report of the current schema.
func New() *Report {
	return &Report{Schema: Schema, Findings: []Finding{}, Skipped: []Skipped{}, Sites: []Site{}}
}

// Sort orders findings likeliest root cause first: errors before warnings,
// live evidence before static risk, then the checklist's step order.
func (r *Report) Sort() {
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Severity.rank() != b.Severity.rank() {
			return a.Severity.rank() < b.Severity.rank()
		}
		if a.Live != b.Live {
			return a.Live
		}
		return a.Step < b.Step
	})
}

// Skip records a check that could not run.
func (r *Report) Skip(check, reason string) {
	for _, s := range r.Skipped {
		if s.Check == check && s.Reason == reason {
			return
		}
	}
	r.Skipped = append(r.Skipped, Skipped{Check: check, Reason: reason})
}

// FindingsOf returns the findings of cause, in the report's order.
func (r *Report) FindingsOf(cause string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Cause == cause {
			out = append(out, f)
		}
	}
	return out
}

// HasErrors reports whether any finding is an error.
func (r *Report) HasErrors() bool {
	for _, f := range r.Findings {
		if f.Severity == Error {
			return true
		}
	}
	return false
}

// ExitCode is the documented exit status: 0 no error findings, 1 errors.
// (2, the tool could not do its job, is decided by the caller.)
func (r *Report) ExitCode() int {
	if r.HasErrors() {
		return 1
	}
	return 0
}
