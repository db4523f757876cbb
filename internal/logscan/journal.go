package logscan

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// journalRecord holds the fields of `journalctl -o json` that matter here.
// MESSAGE is a JSON string, or an array of byte values when the message is
// not valid UTF-8, or null.
type journalRecord struct {
	Message   json.RawMessage `json:"MESSAGE"`
	Realtime  string          `json:"__REALTIME_TIMESTAMP"`
	Unit      string          `json:"_SYSTEMD_UNIT"`
	UnitAbout string          `json:"UNIT"` // systemd's own messages about a unit
	Ident     string          `json:"SYSLOG_IDENTIFIER"`
	Transport string          `json:"_TRANSPORT"`
	PID       string          `json:"_PID"`
}

// ParseJournal parses one line of `journalctl -o json` and classifies its
// MESSAGE with the parser that fits its origin: kernel messages as kernel
// lines, nginx's as nginx lines, systemd's as service state changes, and
// anything else as php-fpm output. Time comes from the message when it has
// one, else from __REALTIME_TIMESTAMP. ok is false for lines that are not
// a journal record with a message.
func ParseJournal(line []byte, loc *time.Location) (e Entry, ok bool) {
	if loc == nil {
		loc = time.Local
	}
	var r journalRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return e, false
	}
	msg, good := journalMessage(r.Message)
	if !good {
		return e, false
	}
	var t time.Time
	if us, err := strconv.ParseInt(r.Realtime, 10, 64); err == nil {
		t = time.UnixMicro(us).In(loc)
	}
	unit := r.Unit
	switch {
	case r.Transport == "kernel" || r.Ident == "kernel":
		e, ok = ParseKernel(msg, loc, t)
	case strings.HasPrefix(r.Ident, "nginx") || strings.HasPrefix(r.Unit, "nginx"):
		e, ok = ParseNginx(msg, loc)
	case r.Ident == "systemd" || (r.Unit == "init.scope" && r.UnitAbout != ""):
		e, ok = parseSystemd(msg)
		if r.UnitAbout != "" {
			unit = r.UnitAbout
		}
	default:
		e, ok = ParseFPM(msg, loc)
	}
	if !ok {
		e = Entry{Source: SourceFPM, Raw: msg, Message: msg}
		if r.Ident == "kernel" || r.Transport == "kernel" {
			e.Source = SourceKernel
		}
	}
	if e.Time.IsZero() {
		e.Time = t
	}
	e.Unit = unit
	if e.PID == 0 {
		e.PID, _ = atoi(r.PID)
	}
	return e, true
}

func journalMessage(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] == 'n' {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	}
	var bs []byte // an array of numbers, not base64: decode element by element
	var nums []int
	if json.Unmarshal(raw, &nums) != nil {
		return "", false
	}
	for _, n := range nums {
		bs = append(bs, byte(n))
	}
	return string(bs), true
}

// parseSystemd classifies systemd's messages about a unit failing:
// "php8.2-fpm.service: Main process exited, code=killed, status=9/KILL",
// "php8.2-fpm.service: Failed with result 'exit-code'.",
// "Failed to start php8.2-fpm.service - The PHP 8.2 FastCGI Process Manager."
func parseSystemd(msg string) (Entry, bool) {
	e := Entry{Source: SourceSystemd, Raw: msg, Message: msg}
	switch {
	case strings.Contains(msg, "Main process exited, code="):
		if !strings.Contains(msg, "status=0/SUCCESS") {
			e.Kind = KindServiceFailed
		}
		if i := strings.Index(msg, "status="); i >= 0 {
			e.ExitCode, _, _ = leadingInt(msg[i+7:])
		}
	case strings.Contains(msg, "Failed with result"), strings.HasPrefix(msg, "Failed to start "):
		e.Kind = KindServiceFailed
	}
	return e, true
}
