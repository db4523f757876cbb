package logscan

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// LogFile is one member of a rotated log family.
type LogFile struct {
	Path       string
	ModTime    time.Time
	Size       int64
	Compressed bool
}

// Rotated lists path and its rotated siblings, oldest first: dateext
// copies (error.log-20261126[.gz]) by date, then numbered ones
// (error.log.3.gz, error.log.2.gz, error.log.1) from the highest number
// down, then path itself. Missing path is not an error if siblings exist.
func Rotated(path string) ([]LogFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("logscan: list rotations of %s: %w", path, err)
	}
	type cand struct {
		LogFile
		num  int    // .N suffix, or -1
		date string // dateext suffix
	}
	var cands []cand
	var live *LogFile
	for _, de := range ents {
		name := de.Name()
		if !strings.HasPrefix(name, base) || de.IsDir() {
			continue
		}
		suffix := name[len(base):]
		c := cand{num: -1}
		rest, gz := strings.CutSuffix(suffix, ".gz")
		switch {
		case suffix == "":
		case strings.HasPrefix(rest, "."):
			n, err := strconv.Atoi(rest[1:])
			if err != nil || n < 0 {
				continue
			}
			c.num = n
		case strings.HasPrefix(rest, "-") && len(rest) >= 9 && isDigits(rest[1:9]):
			c.date = rest[1:]
		default:
			continue
		}
		if suffix != "" && de.Type()&fs.ModeSymlink != 0 {
			// Rotation never makes a link, and in an offline copy of a
			// host (--root) one could lead out of it: not followed.
			continue
		}
		info, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // rotated away while listing
			}
			return nil, fmt.Errorf("logscan: stat %s: %w", filepath.Join(dir, name), err)
		}
		c.LogFile = LogFile{Path: filepath.Join(dir, name), ModTime: info.ModTime(), Size: info.Size(), Compressed: gz}
		if suffix == "" {
			lf := c.LogFile
			live = &lf
			continue
		}
		cands = append(cands, c)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		if (a.date != "") != (b.date != "") {
			return a.date != ""
		}
		if a.date != "" {
			return a.date < b.date
		}
		return a.num > b.num
	})
	out := make([]LogFile, 0, len(cands)+1)
	for _, c := range cands {
		out = append(out, c.LogFile)
	}
	if live != nil {
		out = append(out, *live)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("logscan: %s: %w", path, fs.ErrNotExist)
	}
	return out, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ScanRotated scans path and its rotated siblings in time order, skipping
// files that cannot overlap the window: those last written before Since,
// and those whose first entry is after Until.
func ScanRotated(ctx context.Context, path string, opt Options, fn Func) (Stats, error) {
	startsLate := func(lf LogFile, o Options, total *Stats) bool {
		if o.Window.Until.IsZero() {
			return false
		}
		first, ok, n := firstTime(lf, o)
		total.BytesRead += n
		return ok && first.After(o.Window.Until.Add(o.Slack))
	}
	return scanFamily(path, opt, startsLate, func(name string) (Stats, error) { return Scan(ctx, name, opt, fn) })
}

// scanFamily runs scan over path and its rotated siblings, oldest first.
// It skips files last written before the window and those startsLate
// (when not nil) rules out, and stops after a scan that ended past the
// window: the files after it are newer still.
func scanFamily(path string, opt Options, startsLate func(LogFile, Options, *Stats) bool, scan func(name string) (Stats, error)) (Stats, error) {
	var total Stats
	files, err := Rotated(path)
	if err != nil {
		return total, err
	}
	o := opt.withDefaults()
	for _, lf := range files {
		if old, err := beforeWindow(o, path, lf); err != nil {
			return total, err
		} else if old {
			continue
		}
		if startsLate != nil && startsLate(lf, o, &total) {
			continue
		}
		st, err := scan(lf.Path)
		total.add(st)
		if err != nil {
			return total, err
		}
		if st.Stopped {
			break
		}
	}
	return total, nil
}

// beforeWindow reports whether lf, a file of path's family, was last
// written before the window and so is skipped unread. The live file is
// still opened and closed when skipped: a log nobody wrote to (nginx's
// error.log on a quiet host, created empty by logrotate at midnight) keeps
// an old time, and without the open one this user may not read
// (www-data:adm 0640) would pass for read and empty instead of being
// reported. Rotated copies that predate the window hold nothing in it:
// their access does not matter.
func beforeWindow(o Options, path string, lf LogFile) (bool, error) {
	if o.Window.Since.IsZero() || !lf.ModTime.Before(o.Window.Since.Add(-o.Slack)) {
		return false, nil
	}
	if lf.Path != path {
		return true, nil
	}
	f, err := os.Open(lf.Path)
	if err != nil {
		return true, fmt.Errorf("logscan: open %s: %w", lf.Path, err)
	}
	return true, f.Close()
}

// firstTime reads the time of the first head line of a file (decompressing
// the start of a .gz), and how many bytes that cost.
func firstTime(lf LogFile, o Options) (time.Time, bool, int64) {
	var n int64
	f, err := os.Open(lf.Path)
	if err != nil {
		return time.Time{}, false, 0
	}
	defer f.Close()
	var r io.Reader = countingReader{r: f, n: &n}
	if lf.Compressed {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return time.Time{}, false, n
		}
		defer zr.Close()
		r = zr
	}
	buf := make([]byte, 64<<10)
	k, _ := io.ReadFull(r, buf)
	buf = buf[:k]
	format := o.Format
	if format == FormatAuto {
		format = detectFormatBytes(buf)
	}
	var t time.Time
	found := false
	_ = scanStream(context.Background(), strings.NewReader(string(buf)), lf.Path, 0, true,
		Options{Format: format, Location: o.Location, Slack: o.Slack, MaxEntry: o.MaxEntry, Now: o.Now, All: true},
		func(e *Entry) error {
			if !e.Time.IsZero() && !e.TimeInherited {
				t, found = e.Time, true
				return ErrStop
			}
			return nil
		}, &Stats{})
	return t, found, n
}
