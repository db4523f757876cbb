package fpmconf

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
)

type optionKind int

const (
	kindString optionKind = iota
	kindInt
	kindTime
	kindBool
	kindPM
	kindLogLevel
	kindRlimitCore
	kindFacility
)

type option struct {
	kind optionKind
	def  string // php-fpm's effective default, "" for none
}

// globalOptions is ini_fpm_global_options of php-fpm 8.2 as Debian builds
// it (with syslog and systemd support).
var globalOptions = sync.OnceValue(func() map[string]option {
	return map[string]option{
		"pid":                         {kindString, ""},
		"error_log":                   {kindString, "log/php-fpm.log"},
		"syslog.ident":                {kindString, "php-fpm"},
		"syslog.facility":             {kindFacility, "daemon"},
		"log_buffering":               {kindBool, "1"},
		"log_level":                   {kindLogLevel, "notice"},
		"log_limit":                   {kindInt, "1024"},
		"emergency_restart_threshold": {kindInt, "0"},
		"emergency_restart_interval":  {kindTime, "0"},
		"process_control_timeout":     {kindTime, "0"},
		"process.max":                 {kindInt, "0"},
		"process.priority":            {kindInt, ""},
		"daemonize":                   {kindBool, "1"},
		"rlimit_files":                {kindInt, "0"},
		"rlimit_core":                 {kindRlimitCore, "0"},
		"events.mechanism":            {kindString, "epoll"},
		"systemd_interval":            {kindTime, "10"},
	}
})

// poolOptions is ini_fpm_pool_options of php-fpm 8.2 on Linux with ACL and
// AppArmor support (Debian); listen.setfib exists only on FreeBSD.
var poolOptions = sync.OnceValue(func() map[string]option {
	return map[string]option{
		"prefix":                      {kindString, ""},
		"user":                        {kindString, ""},
		"group":                       {kindString, ""},
		"listen":                      {kindString, ""},
		"listen.backlog":              {kindInt, "-1"},
		"listen.acl_users":            {kindString, ""},
		"listen.acl_groups":           {kindString, ""},
		"listen.owner":                {kindString, ""},
		"listen.group":                {kindString, ""},
		"listen.mode":                 {kindString, "0660"},
		"listen.allowed_clients":      {kindString, ""},
		"process.priority":            {kindInt, ""},
		"process.dumpable":            {kindBool, "0"},
		"pm":                          {kindPM, ""},
		"pm.max_children":             {kindInt, "0"},
		"pm.start_servers":            {kindInt, "0"},
		"pm.min_spare_servers":        {kindInt, "0"},
		"pm.max_spare_servers":        {kindInt, "0"},
		"pm.max_spawn_rate":           {kindInt, "32"},
		"pm.process_idle_timeout":     {kindTime, "10"},
		"pm.max_requests":             {kindInt, "0"},
		"pm.status_path":              {kindString, ""},
		"pm.status_listen":            {kindString, ""},
		"ping.path":                   {kindString, ""},
		"ping.response":               {kindString, ""},
		"access.log":                  {kindString, ""},
		"access.format":               {kindString, ""},
		"slowlog":                     {kindString, ""},
		"request_slowlog_timeout":     {kindTime, "0"},
		"request_slowlog_trace_depth": {kindInt, "20"},
		"request_terminate_timeout":   {kindTime, "0"},
		"request_terminate_timeout_track_finished": {kindBool, "0"},
		"rlimit_files":              {kindInt, "0"},
		"rlimit_core":               {kindRlimitCore, "0"},
		"chroot":                    {kindString, ""},
		"chdir":                     {kindString, ""},
		"catch_workers_output":      {kindBool, "0"},
		"decorate_workers_output":   {kindBool, "1"},
		"clear_env":                 {kindBool, "1"},
		"security.limit_extensions": {kindString, ".php .phar"},
		"apparmor_hat":              {kindString, ""},
	}
})

// arrayOptions are the only names php-fpm accepts as name[key]; it compares
// them case-sensitively.
var arrayOptions = sync.OnceValue(func() map[string]bool {
	return map[string]bool{
		"env": true, "php_value": true, "php_admin_value": true,
		"php_flag": true, "php_admin_flag": true, "access.suppress_path": true,
	}
})

// Default access.format (fpm_conf_process_all_pools).
const defaultAccessFormat = `%R - %u %t "%m %r" %s`

func lookupOption(global bool, lowerName string) (option, bool) {
	if global {
		o, ok := globalOptions()[lowerName]
		return o, ok
	}
	o, ok := poolOptions()[lowerName]
	return o, ok
}

// defaultValue returns php-fpm's effective default for an unset key.
func (s *Section) defaultValue(k string) string {
	if s.global {
		return globalOptions()[k].def
	}
	switch k {
	case "pm.start_servers", "pm.min_spare_servers", "pm.max_spare_servers":
		pm, err := parsePM(s.Value("pm"))
		switch {
		case err != nil:
		case pm == pmOndemand:
			return "0" // php-fpm forces them to 0
		case pm == pmDynamic:
			if k == "pm.start_servers" {
				min, max := s.Int("pm.min_spare_servers"), s.Int("pm.max_spare_servers")
				return strconv.Itoa(min + (max-min)/2)
			}
		}
	case "ping.response":
		if s.Value("ping.path") != "" {
			return "pong"
		}
		return ""
	case "access.format":
		if s.Value("access.log") != "" {
			return defaultAccessFormat
		}
		return ""
	}
	return poolOptions()[k].def
}

// The value parsers below reproduce fpm_conf_set_*; their error texts are
// php-fpm's.

var (
	errNotNumber      = errors.New("is not a valid number (greater or equal than zero)")
	errTimeEmpty      = errors.New("invalid time value")
	errTimeSuffix     = errors.New("unknown suffix used in time value")
	errBool           = errors.New("invalid boolean value")
	errPM             = errors.New("invalid process manager (static, dynamic or ondemand)")
	errLogLevel       = errors.New("invalid value for 'log_level'")
	errRlimitCore     = errors.New("must be greater than zero or 'unlimited'")
	errFacility       = errors.New("invalid value")
	errPoolUndefined  = errors.New("Can't use '$pool' when the pool is not defined")
	errAccessSuppress = errors.New("Values provided to field 'access.suppress_path' must begin with '/'")
)

// parseInteger is fpm_conf_set_integer: an optional leading '-', digits
// only; the empty string is accepted as 0; the number is read with atoi.
func parseInteger(v string) (int, error) {
	for i := 0; i < len(v); i++ {
		if i == 0 && v[i] == '-' {
			continue
		}
		if v[i] < '0' || v[i] > '9' {
			return 0, errNotNumber
		}
	}
	return atoi(v), nil
}

// atoi is C's atoi on glibc: (int)strtol(s, NULL, 10), which saturates at
// the long range and then truncates to 32 bits.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n uint64
	over := false
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > (math.MaxInt64-9)/10 {
			over = true
			break
		}
		n = n*10 + uint64(s[i]-'0')
	}
	var l int64
	switch {
	case over && neg:
		l = math.MinInt64
	case over:
		l = math.MaxInt64
	case neg:
		l = -int64(n)
	default:
		l = int64(n)
	}
	return int(int32(l))
}

// parseTime is fpm_conf_set_time: N, Ns, Nm, Nh or Nd, in seconds.
func parseTime(v string) (int, error) {
	if v == "" {
		return 0, errTimeEmpty
	}
	mul := 1
	switch v[len(v)-1] {
	case 'm':
		mul = 60
		v = v[:len(v)-1]
	case 'h':
		mul = 3600
		v = v[:len(v)-1]
	case 'd':
		mul = 86400
		v = v[:len(v)-1]
	case 's':
		v = v[:len(v)-1]
	default:
		if c := v[len(v)-1]; c < '0' || c > '9' {
			return 0, errTimeSuffix
		}
	}
	return int(int32(mul * atoi(v))), nil
}

// parseBool is fpm_conf_set_boolean of 8.2.19+: case-sensitive after the
// INI scanner has turned unquoted yes/on/true into "1" and no/off/false/
// none/null into "".
func parseBool(v string) (bool, error) {
	switch v {
	case "1", "yes", "true", "on":
		return true, nil
	case "", "0", "no", "none", "false", "off":
		return false, nil
	}
	return false, errBool
}

type pmStyle int

const (
	pmStatic pmStyle = iota
	pmDynamic
	pmOndemand
)

func (p pmStyle) String() string {
	return [...]string{"static", "dynamic", "ondemand"}[p]
}

func parsePM(v string) (pmStyle, error) {
	switch asciiLower(v) {
	case "static":
		return pmStatic, nil
	case "dynamic":
		return pmDynamic, nil
	case "ondemand":
		return pmOndemand, nil
	}
	return 0, errPM
}

func parseLogLevel(v string) error {
	switch asciiLower(v) {
	case "debug", "notice", "warning", "warn", "error", "alert":
		return nil
	}
	return errLogLevel
}

func parseRlimitCore(v string) (int, error) {
	if asciiEqualFold(v, "unlimited") {
		return -1, nil
	}
	n, err := parseInteger(v)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errRlimitCore
	}
	return n, nil
}

var syslogFacilities = sync.OnceValue(func() map[string]bool {
	return map[string]bool{
		"auth": true, "authpriv": true, "cron": true, "daemon": true, "ftp": true,
		"kern": true, "lpr": true, "mail": true, "news": true, "syslog": true,
		"user": true, "uucp": true, "local0": true, "local1": true, "local2": true,
		"local3": true, "local4": true, "local5": true, "local6": true, "local7": true,
	}
})

// checkValue runs the parser php-fpm uses for an option on its value.
func checkValue(kind optionKind, v string) error {
	var err error
	switch kind {
	case kindInt:
		_, err = parseInteger(v)
	case kindTime:
		_, err = parseTime(v)
	case kindBool:
		_, err = parseBool(v)
	case kindPM:
		_, err = parsePM(v)
	case kindLogLevel:
		err = parseLogLevel(v)
	case kindRlimitCore:
		_, err = parseRlimitCore(v)
	case kindFacility:
		if !syslogFacilities()[asciiLower(v)] {
			err = errFacility
		}
	}
	return err
}
