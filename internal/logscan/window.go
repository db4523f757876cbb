package logscan

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// bounds is a scan's time window in Unix seconds, the form the scanners
// compare head-line times in (one integer compare per line, no time.Time).
type bounds struct {
	since, until int64
	stopAt       int64 // until + slack: the first head line past it ends the scan
	hasS, hasU   bool
}

func newBounds(opt Options) bounds {
	var b bounds
	if !opt.Window.Since.IsZero() {
		b.hasS, b.since = true, opt.Window.Since.Unix()
	}
	if !opt.Window.Until.IsZero() {
		b.hasU, b.until = true, opt.Window.Until.Unix()
		b.stopAt = b.until + int64(opt.Slack/time.Second)
	}
	return b
}

// windowed reports whether the scan has a window at all.
func (b bounds) windowed() bool { return b.hasS || b.hasU }

// past reports whether ts ends an ordered scan: it is after the window's
// end and the slack that out-of-order lines get.
func (b bounds) past(ts int64) bool { return b.hasU && ts > b.stopAt }

// outside reports whether ts lies outside the window.
func (b bounds) outside(ts int64) bool {
	return (b.hasS && ts < b.since) || (b.hasU && ts > b.until)
}

// lineWalk numbers the lines of one scan, counts the cut ones, and checks
// for cancellation every 65,536 lines: often enough to stop a scan of a
// huge log within milliseconds, rarely enough to cost nothing per line.
type lineWalk struct {
	lr        *lineReader
	ctx       context.Context
	name      string
	st        *Stats
	fromStart bool // line numbers are only known from the file's start
	n         int64
	err       error
}

func newLineWalk(ctx context.Context, lr *lineReader, name string, fromStart bool, st *Stats) lineWalk {
	return lineWalk{lr: lr, ctx: ctx, name: name, st: st, fromStart: fromStart}
}

// cancelled reports, every 65,536 lines, whether the scan was cancelled;
// the scanners call it before each line, so it must stay cheap: one mask
// test, the context looked at only then.
func (w *lineWalk) cancelled() bool {
	return w.n&0xffff == 0 && w.checkContext()
}

func (w *lineWalk) checkContext() bool {
	if err := w.ctx.Err(); err != nil {
		w.err = fmt.Errorf("logscan: %s: %w", w.name, err)
		return true
	}
	return false
}

// counted numbers a line the reader returned and counts it when cut. It
// returns the line number, 0 when numbers are not known. The scanners call
// lr.next themselves and this inlined, so a line costs no extra call.
func (w *lineWalk) counted(cut bool) (ln int64) {
	w.n++
	if cut {
		w.st.Cut++
	}
	if w.fromStart {
		ln = w.n
	}
	return ln
}

// end adds the lines read to the stats and returns the scan's outcome:
// cancellation first, then err from the scanner (ErrStop is a clean end),
// then a read error.
func (w *lineWalk) end(err error) error {
	w.st.Lines += w.n
	switch {
	case w.err != nil:
		return w.err
	case errors.Is(err, ErrStop):
		return nil
	case err != nil:
		return err
	case w.lr.err != nil:
		return readErrf(w.name, w.lr.err)
	}
	return nil
}
