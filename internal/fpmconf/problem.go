package fpmconf

import "fmt"

// Severity tells whether php-fpm refuses the configuration.
type Severity int

const (
	// Fatal: php-fpm refuses to start (it logs ERROR or ALERT and exits 78).
	Fatal Severity = iota
	// Warning: php-fpm logs a WARNING and goes on, or a risk php-fpm does
	// not check at all (the Rule says which).
	Warning
	// Notice: php-fpm logs a NOTICE (for example the computed
	// pm.start_servers).
	Notice
)

func (s Severity) String() string {
	switch s {
	case Fatal:
		return "fatal"
	case Warning:
		return "warning"
	default:
		return "notice"
	}
}

// Problem is one thing php-fpm (or, where Rule says so, fpmdoctor) objects to.
type Problem struct {
	Pool      string // "" for the global section and file-level problems
	Directive string // the key concerned, "" when none
	File      string // where: the offending setting, or the pool header when it is missing
	Line      int
	// Message is php-fpm's own text, without its "[file:line] " location and
	// log level, e.g. "[pool www] pm.max_children must be a positive value".
	Message string
	// Rule says in plain words what php-fpm requires.
	Rule     string
	Severity Severity
	// StartOnly marks problems `php-fpm -t` does not catch: they fail only
	// when php-fpm really starts (creating sockets, for example).
	StartOnly bool
	// Extra marks checks php-fpm does not make itself (fpmdoctor's advice).
	Extra bool
}

func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", p.File, p.Line)
	}
	if loc == "" {
		return fmt.Sprintf("%s: %s", p.Severity, p.Message)
	}
	return fmt.Sprintf("%s: %s: %s", loc, p.Severity, p.Message)
}

// HasFatal reports whether any problem would stop php-fpm.
func HasFatal(ps []Problem) bool {
	for _, p := range ps {
		if p.Severity == Fatal {
			return true
		}
	}
	return false
}
