// Package doctor runs a whole diagnosis: gather a Snapshot, run the checks,
// return the report. It is what `fpmdoctor diagnose` and the tests call.
package doctor

import (
	"context"
	"os"

	"github.com/fpmdoctor/fpmdoctor/internal/checks"
	"github.com/fpmdoctor/fpmdoctor/internal/fix"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// Options select what to diagnose.
type Options = snapshot.Options

// Diagnose inspects the host (or the offline tree) and returns the report.
// The error is non-nil only when there is nothing to diagnose.
func Diagnose(ctx context.Context, opts Options) (*report.Report, *snapshot.Snapshot, error) {
	s, err := snapshot.Gather(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	repairsErr := readRepairs(s)
	r := checks.Run(s)
	fix.Annotate(r, s)
	notRoot(r, s)
	skipRepairs(r, repairsErr)
	return r, s, nil
}

// DiagnoseNoPlan is Diagnose without asking fix whether it could repair
// each finding (fix.automatic stays false): the watcher diagnoses every
// interval, and planning a pool-size repair re-validates configs each time,
// which cost it most of its CPU on a host with a saturated pool.
func DiagnoseNoPlan(ctx context.Context, opts Options) (*report.Report, *snapshot.Snapshot, error) {
	s, err := snapshot.Gather(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	repairsErr := readRepairs(s)
	r := checks.Run(s)
	notRoot(r, s)
	skipRepairs(r, repairsErr)
	return r, s, nil
}

// readRepairs gives a live snapshot fix's proven repairs: what a replay
// proved is what lets the checks tell lines logged before a repair as
// history where the log alone cannot.
func readRepairs(s *snapshot.Snapshot) error {
	if !s.Live {
		return nil
	}
	rs, err := fix.ReadRepairs(fix.StateDir())
	s.Repairs = rs
	return err
}

func skipRepairs(r *report.Report, err error) {
	if err != nil {
		r.Skip("repairs", "fpmdoctor fix's record of proven repairs cannot be read ("+err.Error()+"): lines logged before a repair are judged from the log alone")
	}
}

func notRoot(r *report.Report, s *snapshot.Snapshot) {
	if s.Live && os.Geteuid() != 0 {
		r.Skip("root", "not running as root: sockets, directories and processes of other users may be unreadable; such checks are listed as they fail")
	}
}
