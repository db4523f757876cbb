// Package fix repairs what diagnose found: it turns findings into a plan of
// minimal file edits, config tests, service operations and verifications,
// shows it as unified diffs, applies it with a journal and backups, proves
// the site answers again, and rolls everything back on any failure.
//
// Each cause that can be repaired safely has a Remedy in its own file (like
// internal/checks). Remedies only describe what to change; this package
// owns every write, signal and rollback, so a new remedy cannot forget a
// backup or a config test.
package fix

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// Remedy repairs one cause.
type Remedy struct {
	// Cause is the DESIGN.md cause it repairs.
	Cause string
	// Plan returns the action that repairs f. An error means there is no
	// safe automatic repair for this finding; its text says why, and the
	// finding is listed with its manual next step instead.
	Plan func(p *Planner, f report.Finding) (*Action, error)
	// Info says the remedy is planned for info findings too: findings of
	// its cause are always info (a change worth making that explains no
	// failure), and fix offers it as a change of its own.
	Info bool
}

// remedies lists every remedy; add yours here (one file per cause).
func remedies() []Remedy {
	return []Remedy{
		listenMismatch,
		socketPermission,
		allowedClients,
		fpmDown,
		staleSocket,
		configNotApplied,
		fpmConfigInvalid,
		requestTimeout,
		headerTooBig,
		poolExhausted,
		backlogOverflow,
		memoryOvercommit,
		slowlogDisabled,
		notFastCGI,
	}
}

// RemedyCauses lists the causes fix has a remedy for, in its order.
func RemedyCauses() []string {
	var out []string
	for _, r := range remedies() {
		out = append(out, r.Cause)
	}
	return out
}

func remedyFor(cause string) (Remedy, bool) {
	for _, r := range remedies() {
		if r.Cause == cause {
			return r, true
		}
	}
	return Remedy{}, false
}

// Action is what repairs one finding.
type Action struct {
	Finding report.Finding
	// Summary says what the action does; Why why this way (which side of a
	// mismatch, why a restart rather than a reload).
	Summary string
	Why     string
	Edits   []Edit
	Grants  []Grant // ACL entries added to directories
	// Accounts are system users or groups created (chosen with --choose).
	Accounts []Account
	Ops      []Op
	Checks   []Check
	// Also are further findings this same action repairs (every pool of a
	// stopped php-fpm is one fpm-down finding; one start fixes them all).
	Also []report.Finding
	// Unverified says why no check of this action exercises its cause
	// (replay turned off, or the failing request is not in the log): the
	// run then ends "applied, not verified", never "verified".
	Unverified string
}

// Edit replaces the bytes [Start, End) of File (as the config names it)
// with New. Old is what the snapshot read there; the edit is refused when
// the file no longer has it. Start == End inserts.
type Edit struct {
	File       string
	Start, End int
	Old, New   string
}

// OpKind is a service operation.
type OpKind int

// Service operations, gentlest first. For one php-fpm only the strongest
// planned operation is run: a restart also applies what a reload would.
const (
	NginxReload OpKind = iota
	FPMReload
	FPMRestart
	FPMStart
)

func (k OpKind) String() string {
	switch k {
	case NginxReload:
		return "reload nginx"
	case FPMReload:
		return "reload php-fpm"
	case FPMRestart:
		return "restart php-fpm"
	case FPMStart:
		return "start php-fpm"
	}
	return "?"
}

// Op is one service operation; exactly one of Nginx and FPM is set.
type Op struct {
	Kind  OpKind
	Nginx *snapshot.Nginx
	FPM   *snapshot.FPM
}

func (o Op) conf() string {
	if o.Nginx != nil {
		return o.Nginx.Conf
	}
	return o.FPM.Conf
}

// Check is something verified after the operations: a site through nginx
// (HTTP) and the pool behind it (FastCGI). Site or Pool may be nil.
type Check struct {
	Site *snapshot.Site
	Pool *snapshot.Pool
	// Addr is where the pool is probed when the fix moves it ("" : where
	// the snapshot saw it listen).
	Addr string
	// NoWorse: the check guards a site the finding is not about; it must
	// not get worse (a site failing before for another reason may go on
	// failing), rather than answer.
	NoWorse bool
	// Replay, when set, is the logged failing request, sent again through
	// nginx to Site instead of the harmless missing-script request: it
	// proves a request-specific cause (a too big header, a killed slow
	// request) is gone.
	Replay Replay
}

// Replay is one logged request sent again: only GET and HEAD, which
// change nothing by HTTP's rules, with the logged Host and URI, bounded
// by Timeout.
type Replay struct {
	Method, Host, URI string
	Timeout           time.Duration
}

// Set reports whether there is a request to replay.
func (r Replay) Set() bool { return r.Method != "" }

func (r Replay) String() string { return r.Method + " http://" + r.Host + r.URI }

func (c Check) probeAddr() string {
	if c.Addr != "" {
		return c.Addr
	}
	return c.Pool.NginxAddress()
}

// Manual is a finding without a safe automatic repair.
type Manual struct {
	Finding report.Finding
	Reason  string
}

// FileChange is one file the plan rewrites.
type FileChange struct {
	// Path is the file as the config names it; Real is the file written
	// (symlinks resolved: a sites-enabled link stays a link).
	Path, Real string
	Orig, New  []byte
	Diff       string
	// Link is set when Path is (or passes through) a symlink.
	Link  bool
	Nginx *snapshot.Nginx // the installation whose config it is
	FPM   *snapshot.FPM
}

// ConfigTest is a server's own config test, run on the edited files
// before anything is reloaded.
type ConfigTest struct {
	Nginx *snapshot.Nginx
	FPM   *snapshot.FPM
}

// Args is the command line of the test.
func (t ConfigTest) Args() []string {
	if t.Nginx != nil {
		bin := t.Nginx.Binary
		if bin == "" {
			bin = "nginx"
		}
		args := []string{bin, "-t", "-q", "-c", t.Nginx.Conf}
		if t.Nginx.Prefix != "" {
			args = append(args, "-p", t.Nginx.Prefix)
		}
		return args
	}
	bin := t.FPM.Binary
	if bin == "" {
		bin = "php-fpm"
	}
	args := []string{bin, "-t", "-y", t.FPM.Conf}
	if t.FPM.Prefix != "" {
		args = append(args, "--prefix", t.FPM.Prefix)
	}
	return args
}

// Plan is everything fix will do, in order: write Files, run Tests, run
// Ops, verify Checks.
type Plan struct {
	Actions  []*Action
	Manual   []Manual
	Files    []*FileChange
	Grants   []*GrantChange
	Accounts []Account
	Tests    []ConfigTest
	Ops      []Op
	Checks   []Check
	// Notes are actions dropped from the plan and why (two remedies
	// editing the same bytes differently).
	Notes []string
	// Live is false for an offline tree: such a plan is shown, never applied.
	Live bool
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	return len(p.Files) == 0 && len(p.Ops) == 0 && len(p.Grants) == 0 && len(p.Accounts) == 0
}

// Annotate marks the findings fpmdoctor fix can repair (Fix.Automatic).
// It is what diagnose calls: the remedy is planned for real, so
// "automatic" is only claimed when a plan exists. It also warns about an
// interrupted fix whose journal is still on disk.
func Annotate(r *report.Report, s *snapshot.Snapshot) {
	p := newPlanner(s)
	p.noReplay = true // diagnose sends no application request
	for i := range r.Findings {
		f := &r.Findings[i]
		rem, ok := remedyFor(f.Cause)
		if !ok || f.Fix == nil {
			continue
		}
		if a, err := rem.Plan(p, *f); err == nil && a != nil {
			f.Fix.Automatic = true
		}
	}
	if s.Live {
		if j, err := readJournal(StateDir()); err == nil && j != nil {
			r.Findings = append(r.Findings, interruptedFinding(j))
		}
	}
}

func interruptedFinding(j *Journal) report.Finding {
	ev := []report.Evidence{{Kind: report.KindFact, File: journalPath(StateDir()), Text: fmt.Sprintf("fpmdoctor fix (pid %d) started %s and did not finish", j.PID, j.Started.Format("2006-01-02 15:04:05"))}}
	for _, f := range j.Files {
		ev = append(ev, report.Evidence{Kind: report.KindFact, File: f.Real, Text: "backup " + f.Backup})
	}
	return report.Finding{
		ID:       "fix-interrupted",
		Cause:    "config-not-applied",
		Severity: report.Warning,
		Live:     true,
		Title:    "an interrupted fpmdoctor fix left edited config files behind",
		Detail:   "A fix run was stopped between writing files and verifying the result, so the files on disk may not be what runs. fpmdoctor fix restores them before doing anything else.",
		Evidence: ev,
		Fix:      &report.Fix{Summary: "fpmdoctor fix --rollback", Automatic: true},
	}
}

// MakeOptions say how to plan.
type MakeOptions struct {
	// NoReplay: never send a logged request again (neither to measure a
	// response header nor to verify); request-specific fixes then end
	// "applied, not verified".
	NoReplay bool
	// Choose picks one of the choices a remedy offers (a pool whose user
	// does not exist): "N" (1-based) or "user=NAME" / "group=NAME".
	// Without it such findings are manual, with their choices listed.
	Choose string
}

// Make derives the plan from a diagnosis, replaying logged requests.
func Make(s *snapshot.Snapshot, r *report.Report) (*Plan, error) {
	return MakeWith(s, r, MakeOptions{})
}

// MakeWith derives the plan from a diagnosis.
func MakeWith(s *snapshot.Snapshot, r *report.Report, o MakeOptions) (*Plan, error) {
	p := newPlanner(s)
	p.noReplay = o.NoReplay || !s.Live
	p.choose = o.Choose
	plan := &Plan{Live: s.Live}
	planned := map[*Action]bool{}
	for _, f := range r.Findings {
		rem, ok := remedyFor(f.Cause)
		if f.Severity == report.Info && !rem.Info {
			continue
		}
		if !ok {
			plan.Manual = append(plan.Manual, Manual{Finding: f, Reason: "no safe automatic repair for " + f.Cause})
			continue
		}
		a, err := rem.Plan(p, f)
		if err != nil {
			plan.Manual = append(plan.Manual, Manual{Finding: f, Reason: err.Error()})
			continue
		}
		if a == nil {
			continue
		}
		if planned[a] {
			a.Also = append(a.Also, f)
			continue
		}
		planned[a] = true
		a.Finding = f
		if err := p.add(plan, a); err != nil {
			plan.Notes = append(plan.Notes, err.Error())
			plan.Manual = append(plan.Manual, Manual{Finding: f, Reason: err.Error()})
			continue
		}
		plan.Actions = append(plan.Actions, a)
	}
	if err := p.finish(plan); err != nil {
		return nil, err
	}
	return plan, nil
}

// mergeOps orders operations php-fpm first (nginx then reloads onto a pool that is up),
// and for one installation only the strongest operation.
func mergeOps(ops []Op) []Op {
	var out []Op
	for _, o := range ops {
		dup := false
		for i := range out {
			if out[i].conf() == o.conf() && (out[i].Nginx == nil) == (o.Nginx == nil) {
				out[i].Kind = max(out[i].Kind, o.Kind)
				dup = true
			}
		}
		if !dup {
			out = append(out, o)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FPM != nil && out[j].FPM == nil })
	return out
}

func describeOp(o Op) string { return o.Kind.String() + " (" + o.conf() + ")" }

func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}
