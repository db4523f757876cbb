package snapshot

import (
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
)

// ConfigLoadedAt is when the running nginx last read its config, and how
// that is known. A reload keeps the master (and its start time) but
// replaces every worker, and nginx starts workers at no other time but a
// crash, so the oldest running worker started at the last reload or later
// (not counting the old ones still finishing their requests: their title
// says "is shutting down").
// Zero when no master runs.
func (n *Nginx) ConfigLoadedAt() (time.Time, string) {
	if n.Master == nil {
		return time.Time{}, ""
	}
	loaded, how := n.Master.Start, "started"
	var oldest time.Time
	for _, w := range n.Workers {
		if w.ShuttingDown() {
			continue // an old worker finishing its requests after a reload
		}
		if oldest.IsZero() || w.Start.Before(oldest) {
			oldest = w.Start
		}
	}
	if oldest.After(loaded) {
		loaded, how = oldest, "last (re)loaded its config (its oldest worker started)"
	}
	return loaded, how
}

// ConfigLoadedAt is when the running php-fpm f last read its config, and
// how that is known. A reload (SIGUSR2) re-executes the master in place,
// keeping its pid and start time, but php-fpm logs "ready to handle
// connections" at every start and reload: the last such line in its own
// log (within the log window; from the journal, the master's pid must
// match, as masters may share a syslog ident) says when. Zero when no
// master runs.
func (s *Snapshot) ConfigLoadedAt(f *FPM) (time.Time, string) {
	if f.Master == nil {
		return time.Time{}, ""
	}
	loaded, how := f.Master.Start, "started"
	if s.Logs == nil || f.Config == nil {
		return loaded, how
	}
	own, ident := f.LogName()
	for _, e := range s.Logs.Events {
		if ident != "" && e.PID != f.Master.PID {
			continue
		}
		if e.Kind == logscan.KindReady && e.File == own && e.Time.After(loaded) {
			loaded, how = e.Time, "last loaded its config (\"ready to handle connections\" in its log)"
		}
	}
	return loaded, how
}

// FPMRead reports whether some php-fpm log was read: without one, worker
// deaths go unseen and cannot be tied to pools.
func (l *Logs) FPMRead() bool {
	for _, lf := range l.Files {
		if lf.Source == logscan.SourceFPM && lf.Err == nil && lf.Stats.Files > 0 {
			return true
		}
	}
	return false
}
