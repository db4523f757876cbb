package probe

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Status is php-fpm's pool status page (pm.status_path), in any of its
// formats. Counters are since the master started.
type Status struct {
	Pool               string    `json:"pool"`
	ProcessManager     string    `json:"process_manager"`
	StartTime          time.Time `json:"start_time,omitzero"` // not in ?openmetrics
	StartSince         int64     `json:"start_since"`         // seconds
	AcceptedConn       int64     `json:"accepted_conn"`
	ListenQueue        int64     `json:"listen_queue"` // always 0 for unix sockets on Linux
	MaxListenQueue     int64     `json:"max_listen_queue"`
	ListenQueueLen     int64     `json:"listen_queue_len"`
	IdleProcesses      int64     `json:"idle_processes"`
	ActiveProcesses    int64     `json:"active_processes"` // includes the worker answering the probe
	TotalProcesses     int64     `json:"total_processes"`
	MaxActiveProcesses int64     `json:"max_active_processes"`
	MaxChildrenReached int64     `json:"max_children_reached"`
	SlowRequests       int64     `json:"slow_requests"`
}

// ParseStatus parses a status page body in the text, JSON, XML or
// OpenMetrics format, with or without ?full (per-process blocks are
// ignored). The format is recognised from the body itself.
func ParseStatus(body []byte) (*Status, error) {
	b := bytes.TrimSpace(body)
	var (
		s   *Status
		err error
	)
	switch {
	case bytes.HasPrefix(b, []byte("{")):
		s, err = parseStatusJSON(b)
	case bytes.HasPrefix(b, []byte("<?xml")) || bytes.HasPrefix(b, []byte("<status")):
		s, err = parseStatusXML(b)
	case bytes.HasPrefix(b, []byte("# HELP")) || bytes.HasPrefix(b, []byte("# TYPE")) || bytes.HasPrefix(b, []byte("phpfpm_")):
		s, err = parseStatusOpenMetrics(b)
	default:
		s, err = parseStatusText(b)
	}
	if err != nil {
		return nil, fmt.Errorf("php-fpm status page: %w", err)
	}
	if s.Pool == "" || s.TotalProcesses == 0 && s.AcceptedConn == 0 {
		return nil, fmt.Errorf("php-fpm status page: no pool name or counters in %q", trim(string(b), 80))
	}
	return s, nil
}

// statusRecord is the pool block of the json and xml formats: the same
// fields, named with spaces in json and dashes in xml (read by
// parseStatusXML in statusxml.go; the xml tags are what the tests hand
// encoding/xml to check it).
type statusRecord struct {
	Pool               string `json:"pool" xml:"pool"`
	ProcessManager     string `json:"process manager" xml:"process-manager"`
	StartTime          int64  `json:"start time" xml:"start-time"`
	StartSince         int64  `json:"start since" xml:"start-since"`
	AcceptedConn       int64  `json:"accepted conn" xml:"accepted-conn"`
	ListenQueue        int64  `json:"listen queue" xml:"listen-queue"`
	MaxListenQueue     int64  `json:"max listen queue" xml:"max-listen-queue"`
	ListenQueueLen     int64  `json:"listen queue len" xml:"listen-queue-len"`
	IdleProcesses      int64  `json:"idle processes" xml:"idle-processes"`
	ActiveProcesses    int64  `json:"active processes" xml:"active-processes"`
	TotalProcesses     int64  `json:"total processes" xml:"total-processes"`
	MaxActiveProcesses int64  `json:"max active processes" xml:"max-active-processes"`
	MaxChildrenReached int64  `json:"max children reached" xml:"max-children-reached"`
	SlowRequests       int64  `json:"slow requests" xml:"slow-requests"`
}

func (r statusRecord) status() *Status {
	return &Status{
		Pool: r.Pool, ProcessManager: r.ProcessManager, StartTime: unixTime(r.StartTime), StartSince: r.StartSince,
		AcceptedConn: r.AcceptedConn, ListenQueue: r.ListenQueue, MaxListenQueue: r.MaxListenQueue,
		ListenQueueLen: r.ListenQueueLen, IdleProcesses: r.IdleProcesses, ActiveProcesses: r.ActiveProcesses,
		TotalProcesses: r.TotalProcesses, MaxActiveProcesses: r.MaxActiveProcesses,
		MaxChildrenReached: r.MaxChildrenReached, SlowRequests: r.SlowRequests,
	}
}

func parseStatusJSON(b []byte) (*Status, error) {
	var r statusRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("json: %w", err)
	}
	return r.status(), nil
}

// parseStatusText reads the default "key:   value" format. With ?full, the
// pool block is followed by an empty line and per-process blocks.
func parseStatusText(b []byte) (*Status, error) {
	s := &Status{}
	ints := map[string]*int64{
		"start since": &s.StartSince, "accepted conn": &s.AcceptedConn, "listen queue": &s.ListenQueue,
		"max listen queue": &s.MaxListenQueue, "listen queue len": &s.ListenQueueLen,
		"idle processes": &s.IdleProcesses, "active processes": &s.ActiveProcesses,
		"total processes": &s.TotalProcesses, "max active processes": &s.MaxActiveProcesses,
		"max children reached": &s.MaxChildrenReached, "slow requests": &s.SlowRequests,
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			break // end of the pool block
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("text: line %q has no colon", trim(line, 60))
		}
		value = strings.TrimSpace(value)
		switch key {
		case "pool":
			s.Pool = value
		case "process manager":
			s.ProcessManager = value
		case "start time":
			t, err := time.Parse("02/Jan/2006:15:04:05 -0700", value)
			if err != nil {
				return nil, fmt.Errorf("text: start time: %w", err)
			}
			s.StartTime = t
		default:
			if p, known := ints[key]; known {
				n, err := strconv.ParseInt(value, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("text: %s: %w", key, err)
				}
				*p = n
			}
		}
	}
	return s, sc.Err()
}

// parseStatusOpenMetrics reads ?openmetrics. The pool name and process
// manager are only in phpfpm_up's help text ("Could pool www using a static
// PM on PHP-FPM be reached?"); there is no start time.
func parseStatusOpenMetrics(b []byte) (*Status, error) {
	s := &Status{}
	ints := map[string]*int64{
		"phpfpm_start_since": &s.StartSince, "phpfpm_accepted_connections": &s.AcceptedConn,
		"phpfpm_listen_queue": &s.ListenQueue, "phpfpm_max_listen_queue": &s.MaxListenQueue,
		"phpfpm_listen_queue_length": &s.ListenQueueLen, "phpfpm_idle_processes": &s.IdleProcesses,
		"phpfpm_active_processes": &s.ActiveProcesses, "phpfpm_total_processes": &s.TotalProcesses,
		"phpfpm_max_active_processes": &s.MaxActiveProcesses, "phpfpm_max_children_reached": &s.MaxChildrenReached,
		"phpfpm_slow_requests": &s.SlowRequests,
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "# HELP phpfpm_up Could pool "); ok {
			pool, pm, _ := strings.Cut(rest, " using a ")
			s.Pool = pool
			s.ProcessManager, _, _ = strings.Cut(pm, " PM")
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if p, known := ints[name]; ok && known {
			f, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return nil, fmt.Errorf("openmetrics: %s: %w", name, err)
			}
			*p = int64(f)
		}
	}
	return s, nil
}

func unixTime(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
