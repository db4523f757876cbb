package report

import (
	"encoding/json"
	"fmt"
	"io"
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
)

// ParseFormat checks a --format value.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case FormatText, FormatJSON, FormatSARIF:
		return Format(s), nil
	}
	return "", fmt.Errorf("unknown format %q (want text, json or sarif)", s)
}

// Render writes r in format f. color applies to text only.
func Render(w io.Writer, r *Report, f Format, color bool) error {
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case FormatSARIF:
		return WriteSARIF(w, r, RepoOptions{})
	default:
		return writeText(w, r, color)
	}
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
func writeText(w io.Writer, r *Report, color bool) error {
	p := newPalette(color)
	var b strings.Builder
	if len(r.Sites) == 0 {
		b.WriteString("No PHP site found (no fastcgi_pass in the nginx config).\n")
	}
	for _, s := range r.Sites {
		fmt.Fprintf(&b, "%s%s%s  %s%s:%d%s\n", p.bold, s.Name, p.reset, p.dim, s.File, s.Line, p.reset)
		chain := "  " + s.Location + " → " + s.Pass
		if s.Pool != "" {
			chain += " → pool " + s.Pool
		} else {
			chain += " → no pool"
		}
		b.WriteString(chain + "\n")
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
	writeTimeline(&b, r.Timeline, p)
	if len(r.Skipped) > 0 {
		b.WriteString("Not checked:\n")
		for _, s := range r.Skipped {
			fmt.Fprintf(&b, "  - %s: %s\n", s.Check, s.Reason)
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
func writeTimeline(b *strings.Builder, tl []Bucket, p palette) {
	if len(tl) == 0 {
		return
	}
	first := tl[0].Minute
	last := tl[len(tl)-1].Minute
	if span := last.Sub(first); span > 59*time.Minute {
		first = last.Add(-59 * time.Minute)
	}
	n := int(last.Sub(first)/time.Minute) + 1
	fails := make([]int, n)
	only504 := make([]bool, n)
	events := make([]int, n)
	max := 0
	for _, bk := range tl {
		i := int(bk.Minute.Sub(first) / time.Minute)
		if i < 0 || i >= n {
			continue
		}
		fails[i] = bk.Nginx502 + bk.Nginx504
		only504[i] = bk.Nginx502 == 0 && bk.Nginx504 > 0
		events[i] = bk.FPM
		if fails[i] > max {
			max = fails[i]
		}
	}
	bars := []rune("▁▂▃▄▅▆▇█")
	var row1, row2 strings.Builder
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
	}
	fmt.Fprintf(b, "\nTimeline %s → %s (one mark per minute):\n", first.Format("15:04"), last.Format("15:04"))
	fmt.Fprintf(b, "  nginx 502/504  %s%s%s\n", p.red, row1.String(), p.reset)
	fmt.Fprintf(b, "  php-fpm events %s\n", row2.String())
}

// textWidth keeps prose readable on a phone-sized terminal; evidence
// lines are not wrapped, so paths and log lines stay copy-pasteable.
const textWidth = 78

// wrap breaks s at spaces into lines of at most textWidth columns, the
// first starting with first, the others with indent, and ends with a
// newline. A column is a character; colour codes take none.
func wrap(first, indent, s string) string {
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
