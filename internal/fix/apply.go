package fix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
)

// Options say how to apply a plan.
type Options struct {
	// StateDir holds the journal and backups ("": StateDir()).
	StateDir   string
	Controller Controller // nil: Auto{} (systemd for its units, else signals)
	Verifier   Verifier   // nil: Live{}
	// Out receives one line per step as it happens (nil: discarded).
	Out io.Writer
	// Settle is how long verification retries while servers come up
	// (0: 10s).
	Settle time.Duration
	// AfterWrite runs once every file is written, before the config
	// tests. Returning ErrInterrupted stops the run on the spot, journal
	// left behind, as if the process had been killed (for tests).
	AfterWrite func() error
}

// ErrInterrupted stops Apply without cleaning up (see Options.AfterWrite).
var ErrInterrupted = errors.New("interrupted")

// ErrLeftover means an earlier run's journal is still there: roll it back
// first (Recover).
var ErrLeftover = errors.New("an interrupted fpmdoctor fix left a journal: run fpmdoctor fix --rollback")

func (o Options) dir() string {
	if o.StateDir != "" {
		return o.StateDir
	}
	return StateDir()
}

func (o Options) ctl() Controller {
	if o.Controller != nil {
		return o.Controller
	}
	return Auto{}
}

func (o Options) verifier() Verifier {
	if o.Verifier != nil {
		return o.Verifier
	}
	return Live{}
}

func (o Options) settle() time.Duration {
	if o.Settle > 0 {
		return o.Settle
	}
	return 10 * time.Second
}

func (o Options) say(format string, args ...any) {
	if o.Out != nil {
		fmt.Fprintf(o.Out, format+"\n", args...)
	}
}

// Result is what Apply did.
type Result struct {
	// Fixed: everything was applied and verified.
	Fixed bool
	// RolledBack: a step failed and every file and service was put back;
	// Err says which step. Restored is false when the rollback itself
	// could not complete (then Err says what is left to do by hand).
	RolledBack bool
	Restored   bool
	Err        error
	// Backups lists every file changed and where its original is.
	Backups []JournalFile
	// Checks are the verifications after the change.
	Checks []CheckResult
	// NotVerified lists the applied actions whose cause no check
	// exercised (--no-replay, or no replayable request logged), each with
	// why: Fixed then means applied and answering, not proven.
	NotVerified []string
	// AppliedAt is when the last change took effect (files, ACLs,
	// accounts written, services operated): a failure logged before it is
	// history of what the run repaired.
	AppliedAt time.Time
}

// CheckResult is one verification.
type CheckResult struct {
	Check   Check
	Before  Verdict
	After   Verdict
	Allowed bool // a failure that is no worse than before is allowed
}

// Apply carries out the plan: journal, backups, atomic writes, config
// tests, service operations, verification; on any failure it restores
// every file byte for byte and brings the services back.
func Apply(ctx context.Context, plan *Plan, opts Options) (*Result, error) {
	if !plan.Live {
		return nil, errors.New("an offline plan (--root) is shown, never applied")
	}
	dir := opts.dir()
	if j, err := readJournal(dir); err != nil {
		return nil, err
	} else if j != nil {
		return nil, ErrLeftover
	}
	if plan.Empty() {
		return &Result{Fixed: true, Restored: true}, nil
	}
	unlock, err := lockState(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if j, err := readJournal(dir); err != nil || j != nil {
		return nil, errors.Join(err, ErrLeftover)
	}

	// Nothing may have changed since the plan read the files.
	j := &Journal{Version: 1, PID: os.Getpid(), Started: time.Now()}
	stamp := time.Now().Format("20060102-150405") + "-" + strconv.Itoa(os.Getpid())
	backupDir := filepath.Join(dir, "backups", stamp)
	for i, fc := range plan.Files {
		cur, err := os.ReadFile(fc.Real)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", fc.Real, err)
		}
		if sum(cur) != sum(fc.Orig) {
			return nil, fmt.Errorf("refusing to write %s: %w (run fix again to plan on its current content)", fc.Path, ErrChanged)
		}
		meta, err := statMeta(fc.Real)
		if err != nil {
			return nil, err
		}
		j.Files = append(j.Files, JournalFile{Path: fc.Path, Real: fc.Real, Backup: filepath.Join(backupDir, fmt.Sprintf("%02d-%s", i, filepath.Base(fc.Real))),
			Orig: sum(fc.Orig), New: sum(fc.New), Mode: meta.Mode, UID: meta.UID, GID: meta.GID})
	}
	for _, g := range plan.Grants {
		if err := g.unchanged(); err != nil {
			return nil, err
		}
		j.ACLs = append(j.ACLs, JournalACL{Dir: g.Dir, Mode: g.Mode, Orig: g.Orig, New: g.New})
	}
	for _, a := range plan.Accounts {
		j.Accounts = append(j.Accounts, JournalAccount{Account: a, Existed: a.exists()})
	}
	for _, op := range plan.Ops {
		sv, err := serviceFor(ctx, op)
		if err != nil {
			return nil, err
		}
		j.Services = append(j.Services, sv)
	}
	res := &Result{Backups: j.Files}

	// How the sites answer now: after a failed fix they must answer so again.
	vf := opts.verifier()
	before := make([]Verdict, len(plan.Checks))
	for i, c := range plan.Checks {
		if c.Replay.Set() {
			// The logged request failed: sending it again now would only
			// kill another worker or log another 502 in the user's
			// window (a count fix itself inflated), and nothing depends
			// on its answer before the change.
			before[i] = Verdict{Detail: "not sent before the change: the logged request failed"}
			continue
		}
		before[i] = vf.Verify(ctx, c)
	}

	// Journal first: from here on, a killed run is recoverable.
	if err := writeJournal(dir, j); err != nil {
		return nil, err
	}
	fail := func(step error) (*Result, error) {
		opts.say("FAILED: %v", step)
		opts.say("rolling back")
		res.RolledBack, res.Err = true, step
		if err := rollback(ctx, dir, j, opts); err != nil {
			res.Err = fmt.Errorf("%w; rollback incomplete: %w", step, err)
			return res, nil
		}
		res.Restored = true
		for i, c := range plan.Checks {
			if !before[i].OK {
				continue
			}
			if v := settle(ctx, vf, c, opts.settle()); !v.OK {
				res.Restored = false
				res.Err = fmt.Errorf("%w; after the rollback %s does not answer as before: %s", step, describeCheck(c), v.Detail)
			}
		}
		return res, nil
	}

	if err := os.MkdirAll(backupDir, 0o700); err != nil {
		return fail(fmt.Errorf("create %s: %w", backupDir, err))
	}
	for i, fc := range plan.Files {
		if err := copyFile(fc.Real, j.Files[i].Backup, fc.Orig); err != nil {
			return fail(err)
		}
	}
	if err := syncDir(backupDir); err != nil {
		return fail(err)
	}
	for i, fc := range plan.Files {
		jf := j.Files[i]
		if err := writeAtomic(fc.Real, fc.New, jf.Mode, jf.UID, jf.GID); err != nil {
			return fail(err)
		}
		opts.say("wrote %s (backup %s)", fc.Real, jf.Backup)
	}
	for i := range j.ACLs {
		j.ACLs[i].Done = true
		if err := writeJournal(dir, j); err != nil {
			return fail(err)
		}
		if err := applyGrant(j.ACLs[i]); err != nil {
			return fail(err)
		}
		opts.say("granted %s (ACL of %s was %s)", plan.Grants[i].Command(), j.ACLs[i].Dir, aclText(j.ACLs[i].Orig, j.ACLs[i].Mode))
	}
	for i := range j.Accounts {
		ja := &j.Accounts[i]
		if ja.Existed {
			opts.say("%s exists already: not created", ja.Name)
			continue
		}
		ja.Done = true
		if err := writeJournal(dir, j); err != nil {
			return fail(err)
		}
		if err := runAccountCmd(ctx, ja.Args()); err != nil {
			return fail(err)
		}
		opts.say("created: %s", shellJoin(ja.Args()))
	}
	if opts.AfterWrite != nil {
		if err := opts.AfterWrite(); errors.Is(err, ErrInterrupted) {
			return nil, err
		} else if err != nil {
			return fail(err)
		}
	}
	for _, t := range plan.Tests {
		if err := runTest(ctx, t); err != nil {
			return fail(err)
		}
		opts.say("config test ok: %s", shellJoin(t.Args()))
	}
	ctl := opts.ctl()
	for _, sv := range j.Services {
		sv.Done = true
		if err := writeJournal(dir, j); err != nil {
			return fail(err)
		}
		if err := doOp(ctx, ctl, sv); err != nil {
			return fail(err)
		}
		opts.say("%s: ok", describeService(sv))
	}
	res.AppliedAt = time.Now()
	// A check that passes proves the sites answer; it is called verified
	// only when no change of the run is left unproven (--no-replay), so
	// that "verified" never stands above "applied but not verified".
	checkedWord := "verified"
	for _, a := range plan.Actions {
		if a.Unverified != "" {
			checkedWord = "checked"
		}
	}
	for i, c := range plan.Checks {
		v := settle(ctx, vf, c, opts.settle())
		cr := CheckResult{Check: c, Before: before[i], After: v, Allowed: !v.OK && c.NoWorse && !before[i].OK}
		res.Checks = append(res.Checks, cr)
		if cr.Allowed {
			opts.say("%s failed before and still does (another finding): %s", describeCheck(c), v.Detail)
			continue
		}
		if !v.OK {
			return fail(fmt.Errorf("verification failed: %s: %s", describeCheck(c), v.Detail))
		}
		opts.say("%s %s: %s", checkedWord, describeCheck(c), v.Detail)
	}
	if err := removeJournal(dir); err != nil {
		return nil, err
	}
	res.Fixed, res.Restored = true, true
	for _, a := range plan.Actions {
		if a.Unverified != "" {
			res.NotVerified = append(res.NotVerified, a.Finding.Cause+": "+a.Summary+" (not verified: "+a.Unverified+")")
		}
	}
	// What the replays proved is kept for later diagnoses, which see only
	// the old lines and the new config (repairs.go). The run is done
	// either way: failing to record only loses that proof.
	if rs := provenRepairs(plan, res, j); len(rs) > 0 {
		if err := recordRepairs(dir, rs); err != nil {
			opts.say("the proven repair is not recorded for later diagnoses: %v", err)
		}
	}
	return res, nil
}

// settle retries a check until it passes or d passes: servers that were
// just reloaded take a moment.
func settle(ctx context.Context, vf Verifier, c Check, d time.Duration) Verdict {
	deadline := time.Now().Add(d)
	for {
		v := vf.Verify(ctx, c)
		if v.OK || time.Now().After(deadline) || ctx.Err() != nil {
			return v
		}
		select {
		case <-ctx.Done():
			return v
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func serviceFor(ctx context.Context, op Op) (*Service, error) {
	sv := &Service{Op: op.Kind}
	if op.Nginx != nil {
		sv.Kind, sv.Conf, sv.Prefix, sv.Binary = "nginx", op.Nginx.Conf, op.Nginx.Prefix, op.Nginx.Binary
		if op.Nginx.Master != nil {
			sv.PID = op.Nginx.Master.PID
		}
	} else {
		sv.Kind, sv.Conf, sv.Prefix, sv.Binary = "php-fpm", op.FPM.Conf, op.FPM.Prefix, op.FPM.Binary
	}
	// What runs now, not what the snapshot saw: read the master's title,
	// binary and environment before it is stopped (php-fpm rewrites its
	// title, so the binary comes from /proc/PID/exe).
	m, _, err := findMaster(ctx, sv)
	if err != nil {
		return nil, err
	}
	sv.PID, sv.Title = m.PID, m.Title
	if m.PID != 0 {
		if m.Exe != "" {
			sv.Binary = m.Exe
		}
		if sv.Kind == "php-fpm" {
			sv.Env, _ = host.Environ(m.PID)
		}
	}
	switch {
	case sv.Op == FPMStart && sv.PID != 0:
		sv.Op = FPMReload // it was started meanwhile: apply the edits to it
	case sv.Op != FPMStart && sv.PID == 0:
		if sv.Kind == "nginx" {
			return nil, fmt.Errorf("nginx (%s) does not run: fpmdoctor reloads nginx but does not start it", sv.Conf)
		}
		sv.Op = FPMStart
	}
	if sv.Unit = systemdUnit(ctx, sv); sv.Unit != "" {
		sv.Env = nil
	}
	return sv, nil
}

func doOp(ctx context.Context, ctl Controller, sv *Service) error {
	switch sv.Op {
	case NginxReload, FPMReload:
		return ctl.Reload(ctx, sv)
	case FPMRestart:
		return ctl.Restart(ctx, sv)
	case FPMStart:
		return ctl.Start(ctx, sv)
	}
	return fmt.Errorf("unknown operation %d", sv.Op)
}

func describeService(sv *Service) string {
	how := "signals"
	if sv.Unit != "" {
		how = "systemd unit " + sv.Unit
	}
	return fmt.Sprintf("%s %s (%s)", strings.Fields(sv.Op.String())[0], sv, how)
}

func describeCheck(c Check) string {
	switch {
	case c.Site != nil && c.Pool != nil:
		return "site " + c.Site.Name + " (pool " + c.Pool.Name + ")"
	case c.Site != nil:
		return "site " + c.Site.Name
	case c.Pool != nil:
		return "pool " + c.Pool.Name
	}
	return "?"
}

func runTest(ctx context.Context, t ConfigTest) error {
	args := t.Args()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("config test failed: %s: %w: %s", shellJoin(args), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Recover rolls back the run a journal in the state directory records
// (a run that was killed). It returns the journal it restored, nil when
// there was none.
func Recover(ctx context.Context, opts Options) (*Journal, error) {
	dir := opts.dir()
	unlock, err := lockState(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	j, err := readJournal(dir)
	if err != nil || j == nil {
		return nil, err
	}
	if j.PID != os.Getpid() && alive(j.PID) && processIsUs(j.PID) {
		return nil, fmt.Errorf("fpmdoctor fix (pid %d) is still running", j.PID)
	}
	opts.say("restoring the interrupted run of %s (pid %d)", j.Started.Format("2006-01-02 15:04:05"), j.PID)
	return j, rollback(ctx, dir, j, opts)
}

func processIsUs(pid int) bool {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	self, err2 := os.Executable()
	return err == nil && err2 == nil && exe == self
}

// rollback restores every file from its backup (byte for byte, mode and
// owner), then brings back each service the run operated, newest first,
// and removes the journal once files are restored.
func rollback(ctx context.Context, dir string, j *Journal, opts Options) error {
	var errs []error
	for _, f := range j.Files {
		cur, err := os.ReadFile(f.Real)
		if err == nil && sum(cur) == f.Orig {
			continue // never written, or written back already
		}
		orig, err := os.ReadFile(f.Backup)
		if err != nil || sum(orig) != f.Orig {
			errs = append(errs, fmt.Errorf("cannot restore %s: backup %s missing or not the original", f.Real, f.Backup))
			continue
		}
		if err := writeAtomic(f.Real, orig, f.Mode, f.UID, f.GID); err != nil {
			errs = append(errs, err)
			continue
		}
		opts.say("restored %s from %s", f.Real, f.Backup)
	}
	for i := len(j.ACLs) - 1; i >= 0; i-- {
		a := j.ACLs[i]
		if !a.Done {
			continue
		}
		if err := restoreGrant(a); err != nil {
			errs = append(errs, err)
			continue
		}
		opts.say("restored the ACL of %s (%s)", a.Dir, aclText(a.Orig, a.Mode))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	ctl := opts.ctl()
	for i := len(j.Services) - 1; i >= 0; i-- {
		sv := j.Services[i]
		if !sv.Done {
			continue
		}
		if err := restoreService(ctx, ctl, sv); err != nil {
			errs = append(errs, err)
			continue
		}
		opts.say("%s is back as it ran before", sv)
	}
	// Accounts last: a php-fpm the run started (running as the new user)
	// is stopped by now, and userdel refuses a user that runs processes.
	for i := len(j.Accounts) - 1; i >= 0; i-- {
		a := j.Accounts[i]
		if !a.Done || a.Existed || !a.exists() {
			continue
		}
		if err := runAccountCmd(ctx, a.removeArgs()); err != nil {
			errs = append(errs, err)
			continue
		}
		opts.say("removed the account the run created: %s", shellJoin(a.removeArgs()))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return removeJournal(dir)
}

// restoreService brings a service back to how it ran before the run: a
// master that ran runs again on the restored files (reloaded, or
// restarted when the run restarted it); one the run started is stopped.
func restoreService(ctx context.Context, ctl Controller, sv *Service) error {
	m, _, err := findMaster(ctx, sv)
	if err != nil {
		return err
	}
	running := m.PID != 0
	switch {
	case sv.PID == 0 && running:
		return ctl.Stop(ctx, sv)
	case sv.PID == 0:
		return nil
	case !running && sv.Kind == "php-fpm":
		return ctl.Start(ctx, sv)
	case !running:
		return fmt.Errorf("%s no longer runs; start it by hand", sv)
	case sv.Op == FPMRestart:
		return ctl.Restart(ctx, sv)
	default:
		return ctl.Reload(ctx, sv)
	}
}

// lockState makes runs exclusive: two fixes at once would each take the
// other's edits for the original.
func lockState(dir string) (func(), error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("another fpmdoctor fix is running (lock %s): %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}
