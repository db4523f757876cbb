package report

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

// svgCheck parses out as XML (an SVG a browser accepts inline must be well
// formed) and counts the bars of each series colour.
func svgCheck(t *testing.T, out string) map[string]int {
	t.Helper()
	bars := map[string]int{}
	dec := xml.NewDecoder(strings.NewReader(out))
	depth := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, out)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			depth++
			if e.Name.Local == "rect" {
				for _, a := range e.Attr {
					if a.Name.Local == "fill" {
						bars[a.Value]++
					}
				}
			}
		case xml.EndElement:
			depth--
		}
	}
	if depth != 0 {
		t.Fatalf("unbalanced elements (depth %d)", depth)
	}
	return bars
}

func TestTimelineSVG(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	tl := []Bucket{
		{Minute: t0.Add(5 * time.Minute), FPM: 1},
		{Minute: t0, Nginx502: 3},
		{Minute: t0.Add(2 * time.Minute), Nginx502: 7, Nginx504: 2},
	}
	out := TimelineSVG(tl, SVGOptions{Title: `502s <script>alert("x")</script> & co`, MinMinutes: 1})
	bars := svgCheck(t, out)
	// Unsorted input, one gap: 2 bars of 502, 1 of 504, 1 of php-fpm (each
	// bar also draws a legend square).
	if bars[Color502] != 2+1 || bars[Color504] != 1+1 || bars[ColorFPM] != 1+1 {
		t.Errorf("bars per colour = %v", bars)
	}
	if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;") {
		t.Errorf("title not escaped:\n%s", out)
	}
	for _, want := range []string{
		"From 2026-12-04 10:00 to 2026-12-04 10:05: 10 nginx 502, 2 nginx 504, 1 php-fpm events.",
		">10:00<", "2026-12-04 10:02: 7× 502", `role="img"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
	if again := TimelineSVG(tl, SVGOptions{Title: `502s <script>alert("x")</script> & co`, MinMinutes: 1}); again != out {
		t.Error("output differs between two runs")
	}
}

// A burst within one minute is drawn in a window of MinMinutes that ends
// with it, as a bar, not as a wall across the chart.
func TestTimelineSVGShortWindow(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	out := TimelineSVG([]Bucket{{Minute: t0, Nginx502: 4}}, SVGOptions{})
	svgCheck(t, out)
	for _, want := range []string{"From 2026-12-04 09:31 to 2026-12-04 10:00", ">09:31<", `width="17.8"`} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
}

func TestTimelineSVGEmpty(t *testing.T) {
	for _, tl := range [][]Bucket{nil, {}} {
		out := TimelineSVG(tl, SVGOptions{})
		svgCheck(t, out)
		if !strings.Contains(out, "No nginx 502/504 or php-fpm event") {
			t.Errorf("empty timeline says nothing:\n%s", out)
		}
	}
}

// A year of logs, or two buckets decades apart, draws at most MaxBars bars
// and keeps every count.
func TestTimelineSVGHuge(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var tl []Bucket
	for i := 0; i < 365*24*60; i += 7 {
		tl = append(tl, Bucket{Minute: t0.Add(time.Duration(i) * time.Minute), Nginx502: 1, FPM: i % 2})
	}
	out := TimelineSVG(tl, SVGOptions{MaxBars: 200})
	bars := svgCheck(t, out)
	if n := bars[Color502] - 1; n < 150 || n > 200 {
		t.Errorf("%d bars of 502 for a year at 200 bars max", n)
	}
	if !strings.Contains(out, "one bar per") || !strings.Contains(out, "75086 nginx 502") {
		t.Errorf("downsampled chart lost its scale note or totals:\n%.600s", out)
	}
	if len(out) > 200_000 {
		t.Errorf("chart of %d bytes", len(out))
	}
	far := []Bucket{{Minute: time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), Nginx502: 1}, {Minute: time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC), Nginx504: 1}}
	svgCheck(t, TimelineSVG(far, SVGOptions{Width: 1, Height: 1}))
	svgCheck(t, TimelineSVG([]Bucket{{Nginx502: -5}}, SVGOptions{}))
}

// Failed tries nginx made good on another server are drawn grey, apart
// from the 502s, and said in the text alternative; without any, the chart
// has no such series.
func TestTimelineSVGRetried(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	out := TimelineSVG([]Bucket{{Minute: t0, Retried: 12}, {Minute: t0.Add(time.Minute), Nginx502: 2, Retried: 4}}, SVGOptions{MinMinutes: 1})
	bars := svgCheck(t, out)
	if bars[ColorRetried] != 2+1 || bars[Color502] != 1+1 {
		t.Errorf("bars per colour = %v", bars)
	}
	for _, want := range []string{"2 nginx 502, 0 nginx 504 (and 16 failed tries nginx retried on another server, no 502)", "12 failed tries nginx retried", "retried on another server<"} {
		if !strings.Contains(out, want) {
			t.Errorf("want %q in:\n%s", want, out)
		}
	}
	if out := TimelineSVG([]Bucket{{Minute: t0, Nginx502: 1}}, SVGOptions{}); strings.Contains(out, ColorRetried) || strings.Contains(out, "retried") {
		t.Errorf("a series of retried tries without any:\n%s", out)
	}
}
