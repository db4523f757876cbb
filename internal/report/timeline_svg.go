package report

import (
	"fmt"
	"html"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SVGOptions shape the timeline chart. Zero values give a chart that fits a
// report page (720×240) titled for the log window it shows.
type SVGOptions struct {
	Width, Height int
	// Title is the chart's accessible name (its <title>); plain text, escaped.
	Title string
	// ID prefixes the ids of the <title> and <desc> elements, so a page can
	// hold several charts (default "timeline").
	ID string
	// MinMinutes is the shortest window drawn (default 30): a burst of one
	// minute shows as a bar in its hour, not as a wall.
	MinMinutes int
	// MaxBars caps the number of bars: a window longer than MaxBars minutes
	// is drawn with one bar per several minutes (0: one bar per 3 pixels).
	MaxBars int
}

// Series colours. Tests look for them in screenshots, so they are exported.
const (
	Color502 = "#d62728" // nginx 502
	Color504 = "#ff7f0e" // nginx 504
	ColorFPM = "#1f77b4" // php-fpm events
	// ColorRetried: failed tries nginx made good on another server; grey,
	// as they cost a failed connect but no failed request.
	ColorRetried = "#9e9e9e"
)

// TimelineSVG draws the per-minute timeline as one self-contained inline SVG
// element: nginx's 502s and 504s as stacked bars growing up from the time
// axis, php-fpm's events as bars growing down from it, so a burst of 502s
// sits right above the crash or max_children warning beside it. Missing
// minutes count as quiet. Long windows are summed into bins of several
// minutes (the legend says how many), so the output stays small for weeks of
// logs. The output is deterministic and every text in it is escaped; it is
// safe to embed as template.HTML.
func TimelineSVG(buckets []Bucket, opts SVGOptions) string {
	w, h := opts.Width, opts.Height
	if w < 200 {
		w = 720
	}
	if h < 120 {
		h = 240
	}
	minMinutes := opts.MinMinutes
	if minMinutes <= 0 {
		minMinutes = 30
	}
	bins := binTimeline(buckets, opts.MaxBars, w, minMinutes)
	title := opts.Title
	if title == "" {
		title = "nginx 502/504 and php-fpm events per minute"
	}
	id := opts.ID
	if id == "" {
		id = "timeline"
	}
	id = html.EscapeString(id)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" viewBox="0 0 %d %d" width="%d" height="%d" aria-labelledby="%s-title %s-desc" font-family="sans-serif" font-size="11">`, w, h, w, h, id, id)
	fmt.Fprintf(&b, `<title id="%s-title">%s</title>`, id, html.EscapeString(title))
	fmt.Fprintf(&b, `<desc id="%s-desc">%s</desc>`, id, html.EscapeString(bins.describe()))
	if bins.n == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" fill="#555">No nginx 502/504 or php-fpm event in the log window.</text></svg>`, w/2, h/2)
		return b.String()
	}

	// Layout: legend on top, nginx above the axis, php-fpm below it, time
	// labels under the plot.
	const left, right, top, bottom = 44, 10, 24, 20
	plotW := float64(w - left - right)
	axisY := top + (h-top-bottom)*3/5 // nginx gets the larger half
	upH := float64(axisY - top - 2)
	downH := float64(h - bottom - axisY - 14)
	step := plotW / float64(bins.n)
	barW := min(step*0.8, 24)
	if step < 2 {
		barW = step // no gaps when bars are thinner than two pixels
	}

	legend := []struct{ color, label string }{{Color502, "nginx 502"}, {Color504, "nginx 504"}, {ColorFPM, "php-fpm events"}}
	if bins.totalRetried > 0 {
		legend = append(legend, struct{ color, label string }{ColorRetried, "retried on another server"})
	}
	x := left
	for _, l := range legend {
		fmt.Fprintf(&b, `<rect x="%d" y="6" width="10" height="10" fill="%s"/><text x="%d" y="15">%s</text>`, x, l.color, x+14, l.label)
		x += 14 + 7*len(l.label) + 16
	}
	if bins.per > 1 {
		fmt.Fprintf(&b, `<text x="%d" y="15" text-anchor="end" fill="#555">one bar per %d minutes</text>`, w-right, bins.per)
	}

	// Axes and the maxima each half is scaled to.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>`, left, axisY, w-right, axisY)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, left, top, left, h-bottom-14)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%d</text>`, left-4, top+8, bins.maxUp)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">0</text>`, left-4, axisY+4)
	if bins.maxDown > 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%d</text>`, left-4, h-bottom-14, bins.maxDown)
	}

	for i := 0; i < bins.n; i++ {
		x := float64(left) + float64(i)*step + (step-barW)/2
		up := 0.0
		if bins.maxUp > 0 {
			up = upH / float64(bins.maxUp)
		}
		h502 := float64(bins.n502[i]) * up
		h504 := float64(bins.n504[i]) * up
		if h502 > 0 {
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %d× 502</title></rect>`,
				num(x), num(float64(axisY)-h502), num(barW), num(h502), Color502, bins.label(i), bins.n502[i])
		}
		if h504 > 0 {
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %d× 504</title></rect>`,
				num(x), num(float64(axisY)-h502-h504), num(barW), num(h504), Color504, bins.label(i), bins.n504[i])
		}
		if bins.retried[i] > 0 {
			hr := float64(bins.retried[i]) * up
			fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %d failed tries nginx retried on another server (no 502)</title></rect>`,
				num(x), num(float64(axisY)-h502-h504-hr), num(barW), num(hr), ColorRetried, bins.label(i), bins.retried[i])
		}
		if bins.fpm[i] > 0 {
			hd := float64(bins.fpm[i]) * downH / float64(bins.maxDown)
			fmt.Fprintf(&b, `<rect x="%s" y="%d" width="%s" height="%s" fill="%s"><title>%s: %d php-fpm event(s)</title></rect>`,
				num(x), axisY+1, num(barW), num(hd), ColorFPM, bins.label(i), bins.fpm[i])
		}
	}

	// About six time labels, at bin starts, never overlapping.
	ticks := 6
	if bins.n < ticks {
		ticks = bins.n
	}
	every := (bins.n + ticks - 1) / ticks
	for i := 0; i < bins.n; i += every {
		x := float64(left) + float64(i)*step
		fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#333"/>`, num(x), h-bottom-12, num(x), h-bottom-8)
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="start">%s</text>`, num(x), h-bottom+4, bins.tick(i))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// num prints a coordinate with at most one decimal: enough for a screen,
// short, and the same on every run.
func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// timelineBins is the timeline summed into n bins of per minutes each.
type timelineBins struct {
	start          time.Time
	per, n         int
	n502, n504     []int
	retried        []int
	fpm            []int
	maxUp, maxDown int
	total502       int
	total504       int
	totalFPM       int
	totalRetried   int
}

// binTimeline sorts and sums the buckets into at most maxBars bins; it
// allocates per bin, never per minute, so a window of years costs what an
// hour does.
func binTimeline(buckets []Bucket, maxBars, width, minMinutes int) timelineBins {
	var bins timelineBins
	if len(buckets) == 0 {
		return bins
	}
	if maxBars <= 0 {
		maxBars = width / 3
	}
	bs := make([]Bucket, len(buckets))
	copy(bs, buckets)
	sort.SliceStable(bs, func(i, j int) bool { return bs[i].Minute.Before(bs[j].Minute) })
	first := bs[0].Minute.Truncate(time.Minute)
	last := bs[len(bs)-1].Minute.Truncate(time.Minute)
	minutes := int64(last.Sub(first)/time.Minute) + 1 // Sub saturates: no overflow
	if minutes < int64(minMinutes) {
		// Short windows end at the last minute and reach back.
		first = last.Add(-time.Duration(minMinutes-1) * time.Minute)
		minutes = int64(minMinutes)
	}
	per := (minutes + int64(maxBars) - 1) / int64(maxBars)
	if per < 1 {
		per = 1
	}
	bins.start, bins.per = first, int(per)
	bins.n = int((minutes + per - 1) / per)
	bins.n502, bins.n504, bins.fpm = make([]int, bins.n), make([]int, bins.n), make([]int, bins.n)
	bins.retried = make([]int, bins.n)
	for _, bk := range bs {
		i := int(int64(bk.Minute.Truncate(time.Minute).Sub(first)/time.Minute) / per)
		if i < 0 || i >= bins.n {
			continue
		}
		bins.n502[i] += max(bk.Nginx502, 0)
		bins.n504[i] += max(bk.Nginx504, 0)
		bins.fpm[i] += max(bk.FPM, 0)
		bins.retried[i] += max(bk.Retried, 0)
	}
	for i := 0; i < bins.n; i++ {
		bins.maxUp = max(bins.maxUp, bins.n502[i]+bins.n504[i]+bins.retried[i])
		bins.maxDown = max(bins.maxDown, bins.fpm[i])
		bins.total502 += bins.n502[i]
		bins.total504 += bins.n504[i]
		bins.totalFPM += bins.fpm[i]
		bins.totalRetried += bins.retried[i]
	}
	return bins
}

// sameDay: the window fits one calendar day, so times of day suffice.
func (t timelineBins) sameDay() bool {
	end := t.start.Add(time.Duration(t.n*t.per-1) * time.Minute)
	return t.start.Year() == end.Year() && t.start.YearDay() == end.YearDay()
}

func (t timelineBins) at(i int) time.Time {
	return t.start.Add(time.Duration(i*t.per) * time.Minute)
}

func (t timelineBins) tick(i int) string {
	if t.sameDay() {
		return t.at(i).Format("15:04")
	}
	return t.at(i).Format("01-02 15:04")
}

// label names bin i in a bar's tooltip: its minute, or its span.
func (t timelineBins) label(i int) string {
	layout := "2006-01-02 15:04"
	if t.per == 1 {
		return t.at(i).Format(layout)
	}
	return t.at(i).Format(layout) + "–" + t.at(i+1).Add(-time.Minute).Format("15:04")
}

// describe is the chart's text alternative: what a screen reader says and
// what a text-only reader of the page gets.
func (t timelineBins) describe() string {
	if t.n == 0 {
		return "No nginx 502/504 or php-fpm event in the log window."
	}
	end := t.at(t.n).Add(-time.Minute)
	retried := ""
	if t.totalRetried > 0 {
		retried = fmt.Sprintf(" (and %d failed tries nginx retried on another server, no 502)", t.totalRetried)
	}
	return fmt.Sprintf("From %s to %s: %d nginx 502, %d nginx 504%s, %d php-fpm events.",
		t.start.Format("2006-01-02 15:04"), end.Format("2006-01-02 15:04"), t.total502, t.total504, retried, t.totalFPM)
}
