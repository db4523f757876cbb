package snapshot

import (
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
)

// LogSource is one log file the configs write to, as a long-running
// watcher follows it: the same list gatherLogs reads a window of.
type LogSource struct {
	Path   string
	Source logscan.Source // SourceNginx or SourceFPM
	// FPM is the php-fpm whose pools the entries name (php-fpm logs only).
	FPM *FPM
}

// LogSources lists the nginx and php-fpm log files s's configs name, in
// the order and with the exclusions of the diagnosis (stderr, syslog,
// /dev and /proc targets are not files to follow; journal sources are
// left out: a journal is not a file).
func (s *Snapshot) LogSources() []LogSource {
	var out []LogSource
	for _, j := range logJobs(s) {
		if j.ident != "" || j.format == logscan.FormatJournal {
			continue
		}
		out = append(out, LogSource{Path: j.path, Source: j.source, FPM: j.fpm})
	}
	return out
}

// LogTie ties single log entries, read one at a time by a follower, to
// the pool and site they concern exactly as the diagnosis ties the entries
// of its window: an nginx entry by its upstream address, a php-fpm entry
// by the pool name it logs in the config whose log it is. Build it once
// per snapshot; it is safe for concurrent use once built.
type LogTie struct {
	// No *Snapshot here: a watcher keeps the tie for a whole interval and
	// must not keep the snapshot's log entries alive with it.
	poolByID     map[string]*Pool
	byTarget     map[string]*Pool
	sitesByTgt   map[string][]*Site
	fpmByLogPath map[string]*FPM
	retries      *RetryRules
}

// NewLogTie builds the lookups of s.
func (s *Snapshot) NewLogTie() *LogTie {
	s.buildIndex()
	t := &LogTie{poolByID: s.poolByID, byTarget: poolsByTarget(s), sitesByTgt: map[string][]*Site{}, fpmByLogPath: map[string]*FPM{}, retries: retryRules(s)}
	for _, site := range s.Sites {
		for _, tg := range site.Targets {
			if tg.Kind != nginxconf.TargetUnix && tg.Kind != nginxconf.TargetTCP {
				continue
			}
			if k, _ := logscan.NormalizeUpstream(tg.Target.Address(), false); k != "" {
				t.sitesByTgt[k] = append(t.sitesByTgt[k], site)
			}
		}
	}
	for _, src := range s.LogSources() {
		if src.FPM != nil && t.fpmByLogPath[src.Path] == nil {
			t.fpmByLogPath[src.Path] = src.FPM
		}
	}
	return t
}

// Tie sets e.Pool to the pool ID the entry concerns (as gatherLogs does)
// and returns the pool and the site, each nil when unknown. file is the
// log path the entry was read from. When several sites pass to the logged
// address, the one whose server_name nginx logged is chosen; with no such
// name the site stays unknown rather than guessed.
func (t *LogTie) Tie(e *logscan.Entry, file string) (*Pool, *Site) {
	// A followed file is never a journal: tieToPool needs no snapshot.
	j := logJob{path: file, source: e.Source, fpm: t.fpmByLogPath[file]}
	tieToPool(nil, e, j, t.byTarget)
	var pool *Pool
	if e.Pool != "" {
		pool = t.poolByID[e.Pool]
	}
	if e.Source != logscan.SourceNginx || e.Target == "" {
		return pool, nil
	}
	sites := t.sitesByTgt[e.Target]
	switch {
	case len(sites) == 1:
		return pool, sites[0]
	case e.Server != "":
		for _, site := range sites {
			if site.Server == nil {
				continue
			}
			for _, n := range site.Server.Names {
				if strings.EqualFold(n, e.Server) {
					return pool, site
				}
			}
		}
	}
	return pool, nil
}

// Tries is how many servers nginx may try for the request whose failure
// e logs, as the diagnosis reads it (RetryRules.Tries): a follower feeds
// it to its logscan.Attempts.
func (t *LogTie) Tries(e *logscan.Entry) int { return t.retries.Tries(e) }
