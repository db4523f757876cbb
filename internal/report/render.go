package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Format is an output format name.
type Format string

// The formats every inspecting command accepts.
const (
	FormatText  Format = "text"
	FormatJSON  Format = "json"
	FormatSARIF Format = "sarif"
	FormatHTML  Format = "html"
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case FormatText, FormatJSON, FormatSARIF, FormatHTML:
		return Format(s), nil
	}
	return "", fmt.Errorf("unknown format %q (want text, json, sarif or html)", s)
}

// Render writes r in format f. color applies to text only.
func Render(w io.Writer, r *Report, f Format, color bool) error {
	switch f {
	case FormatJSON:
		return writeJSON(w, r)
	case FormatSARIF:
		return WriteSARIF(w, r, RepoOptions{})
	case FormatHTML:
		return WriteHTML(w, r, "")
	default:
		return RenderText(w, r, TextOptions{Color: color})
	}
}

// TextOptions shape the text report for where it is read.
type TextOptions struct {
	Color bool
	// Width is the terminal's width in columns; 0 means 80, for a pipe.
	// Prose and step marks wrap to it; evidence lines do not, so paths and
	// log lines stay copy-pasteable.
	Width int
	// MaxSites is how many sites are listed one by one before the healthy
	// rest is collapsed into a count (0: DefaultMaxSites). Broken sites
	// come first.
	MaxSites int
}

// DefaultMaxSites is a screenful of site blocks (four lines each) on a
// 24-line terminal, rounded up: beyond it the healthy sites of a hosting
// host would push the findings off the screen.
const DefaultMaxSites = 20

// RenderText writes the text report with opts.
func RenderText(w io.Writer, r *Report, opts TextOptions) error {
	if opts.Width <= 0 {
		opts.Width = 80
	}
	// Narrower than this, nothing reads well; the terminal wraps the rest.
	opts.Width = max(opts.Width, 40)
	if opts.MaxSites <= 0 {
		opts.MaxSites = DefaultMaxSites
	}
	return writeText(w, r, opts)
}

type palette struct{ red, yellow, green, dim, bold, reset string }

func newPalette(color bool) palette {
	if !color {
		return palette{}
	}
	return palette{red: "\x1b[31m", yellow: "\x1b[33m", green: "\x1b[32m", dim: "\x1b[2m", bold: "\x1b[1m", reset: "\x1b[0m"}
}

// writeText prints one block per site with a mark per step, then every
// finding with its evidence and fix. Lines stay short enough for a phone.
func writeText(w io.Writer, r *Report, opts TextOptions) error {
	p := newPalette(opts.Color)
	// Two columns short of the edge: a terminal that gets a character in
	// its last column wraps early on some emulators.
	textWidth := opts.Width - 2
	wrap := func(first, indent, s string) string { return wrapAt(textWidth, first, indent, s) }
	var b strings.Builder
	writeStopped(&b, r.Services, p, wrap)
	if len(r.Sites) == 0 {
		b.WriteString("No PHP site found (no fastcgi_pass in the nginx config).\n")
	}
	sites, healthyLeft, brokenLeft := sitesToList(r.Sites, opts.MaxSites)
	for _, s := range sites {
		where := fmt.Sprintf("%s:%d", s.File, s.Line)
		if sep := "  "; utf8.RuneCountInString(s.Name)+len(sep)+utf8.RuneCountInString(where) > textWidth {
			fmt.Fprintf(&b, "%s%s%s\n    %s%s%s\n", p.bold, s.Name, p.reset, p.dim, where, p.reset)
		} else {
			fmt.Fprintf(&b, "%s%s%s%s%s%s%s\n", p.bold, s.Name, p.reset, sep, p.dim, where, p.reset)
		}
		chain := s.Location + " → " + s.Pass
		if len(s.Pools) > 1 {
			chain += " → pools " + strings.Join(s.Pools, ", ")
		} else if s.Pool != "" {
			chain += " → pool " + s.Pool
		} else {
			chain += " → no pool"
		}
		b.WriteString(wrap("  ", "    ", chain))
		// Marks wrap like prose; width is counted without colour codes.
		line, width := "  ", 2
		for _, st := range s.Steps {
			item := mark(p, st.Status) + st.Step
			w := 1 + len(st.Step)
			if width > 2 && width+1+w > textWidth {
				b.WriteString(line + "\n")
				line, width = "  ", 2
			}
			if width > 2 {
				line += " "
				width++
			}
			line += item
			width += w
		}
		b.WriteString(line + "\n\n")
	}
	if brokenLeft > 0 {
		b.WriteString(wrap("", "  ", fmt.Sprintf("… and %d more sites with problems (--format json lists every site).", brokenLeft)))
	}
	if healthyLeft > 0 {
		b.WriteString(wrap("", "  ", fmt.Sprintf("%s%d more sites: every step checked is fine.%s", p.green, healthyLeft, p.reset)))
	}
	if brokenLeft+healthyLeft > 0 {
		b.WriteString("\n")
	}
	for i, f := range r.Findings {
		sev := "INFO"
		switch f.Severity {
		case Error:
			sev = p.red + "ERROR" + p.reset
		case Warning:
			sev = p.yellow + "WARN" + p.reset
		}
		head := fmt.Sprintf("%d. %s [%s] ", i+1, sev, f.Cause)
		b.WriteString(wrap(head+p.bold, "   ", f.Title) + p.reset)
		if f.Detail != "" {
			b.WriteString(wrap("   ", "   ", f.Detail))
		}
		for _, e := range f.Evidence {
			loc := ""
			if e.File != "" {
				loc = e.File
				if e.Line > 0 {
					loc += fmt.Sprintf(":%d", e.Line)
				}
				loc += ": "
			}
			fmt.Fprintf(&b, "   %s%s %s%s%s\n", p.dim, e.Kind, loc, p.reset, e.Text)
		}
		if l := f.Logs; l != nil {
			first, last := logSpan(l.First, l.Last)
			fmt.Fprintf(&b, "   %slogs:%s %d× between %s and %s", p.dim, p.reset, l.Count, first, last)
			if l.Retried > 0 {
				fmt.Fprintf(&b, " (%d of them failed tries nginx retried on another server)", l.Retried)
			}
			if len(l.TopURLs) > 0 {
				b.WriteString("; top:")
				for i, u := range l.TopURLs {
					if i == 3 {
						break
					}
					fmt.Fprintf(&b, " %s (%d)", u.URL, u.Count)
				}
			}
			b.WriteString("\n")
		}
		for _, line := range phpLines(f) {
			fmt.Fprintf(&b, "   %s%s%s %s\n", p.dim, line[0], p.reset, line[1])
		}
		if f.Fix != nil {
			auto := ""
			if f.Fix.Automatic {
				auto = " (fpmdoctor fix can do this)"
			}
			b.WriteString(wrap(p.green+"   fix:"+p.reset+" ", "       ", f.Fix.Summary+auto))
		}
		b.WriteString("\n")
	}
	if len(r.Findings) == 0 {
		fmt.Fprintf(&b, "%sNo problems found.%s\n", p.green, p.reset)
	}
	writeTimeline(&b, r.Timeline, p, textWidth)
	if len(r.Skipped) > 0 {
		if len(r.Timeline) > 0 {
			b.WriteString("\n") // the timeline's last row ends right above
		}
		b.WriteString("Not checked:\n")
		for _, s := range r.Skipped {
			b.WriteString(wrap("  - ", "    ", s.Check+": "+s.Reason))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func mark(p palette, status string) string {
	switch status {
	case "ok":
		return p.green + "✓" + p.reset
	case "fail":
		return p.red + "✗" + p.reset
	case "warn":
		return p.yellow + "!" + p.reset
	}
	return p.dim + "-" + p.reset
}

// logSpan formats the first and last time of a log group: times of day
// when both fall on the same day, else dates too, so a window of several
// days does not read as a backwards one.
func logSpan(first, last time.Time) (string, string) {
	if first.Year() == last.Year() && first.YearDay() == last.YearDay() {
		return first.Format("15:04:05"), last.Format("15:04:05")
	}
	return first.Format("2006-01-02 15:04:05"), last.Format("2006-01-02 15:04:05")
}

// writeTimeline draws the last hour as two rows of one character per
// minute: nginx failures (a bar by count, 5 for minutes with 504s only) and
// php-fpm events (x), so a burst of 502s lines up with the crash beside it.
func writeTimeline(b *strings.Builder, tl []Bucket, p palette, width int) {
	if len(tl) == 0 {
		return
	}
	// An hour fits 80 columns after the 17-column row labels; a narrower
	// terminal shows the latest minutes that fit.
	minutes := min(60, width-17)
	first := tl[0].Minute
	last := tl[len(tl)-1].Minute
	if span := last.Sub(first); span > time.Duration(minutes-1)*time.Minute {
		first = last.Add(-time.Duration(minutes-1) * time.Minute)
	}
	n := int(last.Sub(first)/time.Minute) + 1
	fails := make([]int, n)
	only504 := make([]bool, n)
	events := make([]int, n)
	retried := make([]int, n)
	anyRetried := false
	max := 0
	for _, bk := range tl {
		i := int(bk.Minute.Sub(first) / time.Minute)
		if i < 0 || i >= n {
			continue
		}
		fails[i] = bk.Nginx502 + bk.Nginx504
		only504[i] = bk.Nginx502 == 0 && bk.Nginx504 > 0
		events[i] = bk.FPM
		retried[i] = bk.Retried
		anyRetried = anyRetried || bk.Retried > 0
		if fails[i] > max {
			max = fails[i]
		}
	}
	bars := []rune("▁▂▃▄▅▆▇█")
	var row1, row2, row3 strings.Builder
	for i := 0; i < n; i++ {
		switch {
		case fails[i] == 0:
			row1.WriteRune('·')
		case only504[i]:
			row1.WriteRune('5')
		default:
			row1.WriteRune(bars[(fails[i]*(len(bars)-1))/max])
		}
		if events[i] > 0 {
			row2.WriteRune('x')
		} else {
			row2.WriteRune('·')
		}
		if retried[i] > 0 {
			row3.WriteRune('r')
		} else {
			row3.WriteRune('·')
		}
	}
	fmt.Fprintf(b, "\nTimeline %s → %s (one mark per minute):\n", first.Format("15:04"), last.Format("15:04"))
	fmt.Fprintf(b, "  nginx 502/504  %s%s%s\n", p.red, row1.String(), p.reset)
	fmt.Fprintf(b, "  php-fpm events %s\n", row2.String())
	if anyRetried {
		// Failed tries nginx made good on another server: no 502, but a
		// server of the upstream is failing.
		fmt.Fprintf(b, "  nginx retried  %s (a server failed, another answered)\n", row3.String())
	}
}

// wrapAt breaks s at spaces into lines of at most textWidth columns, the
// first starting with first, the others with indent, and ends with a
// newline. A column is a character; colour codes take none. A word longer
// than a line (a path) stays whole.
// Wrap breaks s into lines of at most width columns (words longer than
// a line stay whole), the first line starting with first, the others
// with indent; each line ends with a newline. Other commands' text (fix's
// plan) uses it to fit a terminal as the report does.
func Wrap(width int, first, indent, s string) string { return wrapAt(width, first, indent, s) }

func wrapAt(textWidth int, first, indent, s string) string {
	var b strings.Builder
	line, cols, empty := first, columns(first), true
	for _, w := range strings.Fields(s) {
		n := utf8.RuneCountInString(w)
		if !empty && cols+1+n > textWidth {
			b.WriteString(line + "\n")
			line, cols, empty = indent, columns(indent), true
		}
		if !empty {
			line += " "
			cols++
		}
		line += w
		cols += n
		empty = false
	}
	b.WriteString(line + "\n")
	return b.String()
}

// columns counts the characters of s that show: not the ANSI colour codes
// (ESC [ … m) of the palette.
func columns(s string) int {
	n := 0
	for i := 0; i < len(s); {
		if s[i] == '\x1b' {
			if j := strings.IndexByte(s[i:], 'm'); j >= 0 {
				i += j + 1
				continue
			}
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n++
	}
	return n
}

// maxPHPLines caps what a finding's slowlog and PHP errors add to the
// text report; the JSON carries all of it.
const maxPHPLines = 3

// phpLines says in at most three lines what PHP itself says behind a
// finding: the slow requests (count, top script, where they waited) and
// its fatal errors. Each line is a label and a text.
func phpLines(f Finding) [][2]string {
	var out [][2]string
	if sl := f.Slow; sl != nil {
		text := countWord(sl.Count, "slow request", "slow requests") + " in the window"
		if len(sl.Scripts) > 0 && sl.Scripts[0].Script != "other" {
			text += fmt.Sprintf("; %d in %s", sl.Scripts[0].Count, sl.Scripts[0].Script)
		}
		if len(sl.Frames) > 0 {
			text += ", waiting in " + sl.Frames[0].where()
		}
		if sl.NginxFailures > 0 {
			text += fmt.Sprintf(" (nginx failed %s on this pool meanwhile)", countWord(sl.NginxFailures, "request", "requests"))
		}
		out = append(out, [2]string{"slowlog:", text})
		for _, fr := range sl.Frames[min(1, len(sl.Frames)):] {
			if len(out) == maxPHPLines-1 && len(f.PHPErrors) > 0 {
				break
			}
			if len(out) == maxPHPLines {
				break
			}
			out = append(out, [2]string{"slowlog:", fmt.Sprintf("%d in %s, waiting in %s", fr.Count, fr.Script, fr.where())})
		}
	}
	for _, e := range f.PHPErrors {
		if len(out) == maxPHPLines {
			break
		}
		text := fmt.Sprintf("%d× %s", e.Count, e.Message)
		if e.Status != 0 {
			text += fmt.Sprintf(" (nginx answered %d)", e.Status)
		}
		out = append(out, [2]string{"php:", text})
	}
	return out
}

func (fr SlowFrame) where() string {
	s := fr.Function + "()"
	if fr.Caller != "" {
		s += " in " + fr.Caller + "()"
	}
	if fr.File != "" && fr.File != "unknown" {
		s += " at " + fr.File
		if fr.Line > 0 {
			s += fmt.Sprintf(":%d", fr.Line)
		}
	}
	return s
}

func countWord(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// sitesToList picks the sites the text report lists one by one: broken
// ones first (a failed step, then a warned one), then healthy ones, at
// most maxSites in all. It returns how many healthy and broken sites were
// left out.
func sitesToList(all []Site, maxSites int) (listed []Site, healthyLeft, brokenLeft int) {
	rank := func(s Site) int {
		r := 2
		for _, st := range s.Steps {
			switch st.Status {
			case "fail":
				return 0
			case "warn":
				r = 1
			}
		}
		return r
	}
	sorted := slices.Clone(all)
	slices.SortStableFunc(sorted, func(a, b Site) int { return rank(a) - rank(b) })
	if len(sorted) <= maxSites {
		return sorted, 0, 0
	}
	for _, s := range sorted[maxSites:] {
		if rank(s) == 2 {
			healthyLeft++
		} else {
			brokenLeft++
		}
	}
	return sorted[:maxSites], healthyLeft, brokenLeft
}

// writeStopped opens the report with the servers that do not run, and how
// to start each: on a host where nothing runs that is the news, not the
// sites.
func writeStopped(b *strings.Builder, svcs []Service, p palette, wrap func(first, indent, s string) string) {
	stopped := 0
	for _, sv := range svcs {
		if !sv.Running {
			stopped++
		}
	}
	if stopped == 0 {
		return
	}
	if stopped == len(svcs) {
		b.WriteString(wrap(p.red, "", "Nothing runs: every nginx and php-fpm found is installed but stopped."+p.reset))
	}
	for _, sv := range svcs {
		if !sv.Running {
			b.WriteString(wrap("  "+p.red+"✗"+p.reset+" ", "    ", sv.Name+" ("+sv.Config+") is not running; start it: "+sv.Start))
		}
	}
	b.WriteString("\n")
}

// writeJSON writes the report indented for people, except that each site
// takes one line: a hosting host's 5,000 sites, nine step marks each,
// would otherwise fill megabytes with indentation. The document is the
// same JSON either way.
func writeJSON(w io.Writer, r *Report) error {
	shell := *r
	shell.Sites = []Site{}
	head, err := json.MarshalIndent(&shell, "", "  ")
	if err != nil {
		return err
	}
	// Top-level keys are the only ones indented by exactly two spaces.
	const empty = "\n  \"sites\": []"
	at := bytes.Index(head, []byte(empty))
	if at < 0 || len(r.Sites) == 0 {
		_, err := w.Write(append(head, '\n'))
		return err
	}
	var b bytes.Buffer
	b.Grow(len(head) + 400*len(r.Sites))
	b.Write(head[:at])
	b.WriteString("\n  \"sites\": [")
	for i := range r.Sites {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n    ")
		line, err := json.Marshal(&r.Sites[i])
		if err != nil {
			return err
		}
		b.Write(line)
	}
	b.WriteString("\n  ]")
	b.Write(head[at+len(empty):])
	b.WriteByte('\n')
	_, err = w.Write(b.Bytes())
	return err
}
