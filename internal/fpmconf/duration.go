package fpmconf

import "time"

// ParseDuration reads a php-fpm time value (request_terminate_timeout,
// pm.process_idle_timeout, …) exactly as php-fpm does: N seconds, or N
// with s, m, h or d.
func ParseDuration(v string) (time.Duration, error) {
	secs, err := parseTime(v)
	if err != nil {
		return 0, err
	}
	return time.Duration(secs) * time.Second, nil
}
