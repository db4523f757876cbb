package fix

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DefaultStateDir holds the journal and backups; FPMDOCTOR_STATE_DIR
// overrides it (tests use a temporary directory). Backups live here, not
// beside the configs: nginx's `include conf.d/*.conf` would read a
// foo.conf.bak left next to foo.conf.
const DefaultStateDir = "/var/lib/fpmdoctor"

// StateDir is where the journal and backups are kept.
func StateDir() string {
	if d := os.Getenv("FPMDOCTOR_STATE_DIR"); d != "" {
		return d
	}
	return DefaultStateDir
}

func journalPath(dir string) string { return filepath.Join(dir, "fix-journal.json") }

// Journal records a run that is changing the host, before it changes
// anything: every file with its backup and checksums, every service with
// how it ran before. A run removes it when it finished (fixed or rolled
// back); one left behind means the run was killed, and the next run
// restores from it.
type Journal struct {
	Version  int              `json:"version"`
	PID      int              `json:"pid"`
	Started  time.Time        `json:"started"`
	Files    []JournalFile    `json:"files"`
	ACLs     []JournalACL     `json:"acls,omitempty"`
	Accounts []JournalAccount `json:"accounts,omitempty"`
	Services []*Service       `json:"services"`
}

// JournalFile is one file being rewritten.
type JournalFile struct {
	Path   string      `json:"path"`   // as the config names it
	Real   string      `json:"real"`   // the file written (symlinks resolved)
	Backup string      `json:"backup"` // copy of the original bytes
	Orig   string      `json:"orig_sha256"`
	New    string      `json:"new_sha256"`
	Mode   os.FileMode `json:"mode"`
	UID    int         `json:"uid"`
	GID    int         `json:"gid"`
}

// JournalACL is one directory whose POSIX ACL the run changes: its ACL
// (nil: none) and mode before, and the ACL written. Done is set before
// the write, so a killed run restores it too.
type JournalACL struct {
	Dir  string      `json:"dir"`
	Mode os.FileMode `json:"mode"`
	Orig []byte      `json:"orig_acl"`
	New  []byte      `json:"new_acl"`
	Done bool        `json:"done"`
}

// Service is one nginx or php-fpm the run operates, and how it ran before.
type Service struct {
	Kind   string `json:"kind"` // "nginx" or "php-fpm"
	Conf   string `json:"conf"`
	Prefix string `json:"prefix,omitempty"`
	Binary string `json:"binary,omitempty"`
	// PID is the master before the run (0: it did not run); Title its
	// process title, Env its environment (a php-fpm restart is started
	// with it, so ${VAR} in the config expands as before).
	PID   int      `json:"pid"`
	Title string   `json:"title,omitempty"`
	Env   []string `json:"env,omitempty"`
	// Unit is the systemd unit when systemd runs it ("" : signals).
	Unit string `json:"unit,omitempty"`
	Op   OpKind `json:"op"`
	// Done is set once the operation was attempted: only then does a
	// rollback have to bring the service back.
	Done bool `json:"done"`
	// NewPID is the master started by the run, if any.
	NewPID int `json:"new_pid,omitempty"`
}

func (s *Service) String() string { return s.Kind + " (" + s.Conf + ")" }

func writeJournal(dir string, j *Journal) error {
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := writeAtomic(journalPath(dir), b, 0o600, os.Geteuid(), os.Getegid()); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// readJournal returns the journal left in dir, nil when there is none.
func readJournal(dir string) (*Journal, error) {
	b, err := os.ReadFile(journalPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	var j Journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("journal %s is damaged: %w", journalPath(dir), err)
	}
	return &j, nil
}

func removeJournal(dir string) error {
	if err := os.Remove(journalPath(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove journal: %w", err)
	}
	return syncDir(dir)
}
