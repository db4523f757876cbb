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
	r := checks.Run(s)
	fix.Annotate(r, s)
	if s.Live && os.Geteuid() != 0 {
		r.Skip("root", "not running as root: sockets, directories and processes of other users may be unreadable; such checks are listed as they fail")
	}
	return r, s, nil
}
