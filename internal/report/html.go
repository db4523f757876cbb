package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
)

// The HTML report is one self-contained file: inline CSS, the timeline as
// inline SVG, no script, no font, no image fetched from anywhere, so it
// reads the same offline, attached to a ticket, or printed.

//go:embed html.tmpl
var htmlSource string

// htmlTemplate is parsed on first use, not at package init: parsing it
// costs about 0.9 ms and 1,000 allocations, which every fpmdoctor process
// (a probe, a diagnose without --format html) would otherwise pay at start.
var htmlTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"loc":  htmlLoc,
		"mark": htmlMark,
		"inc":  func(i int) int { return i + 1 },
		"size": htmlSize,
	}).Parse(htmlSource))
})

// htmlSite is a site with a mark on each hop of its path.
type htmlSite struct {
	Site
	Hops []htmlHop
}

// htmlHop is one hop of server → location → fastcgi_pass → pool → socket.
type htmlHop struct {
	Label, Value, Where, Status string
}

type htmlView struct {
	*Report
	Title    string
	Errors   int
	Warnings int
	Sites    []htmlSite
	Timeline template.HTML
}

// hopSteps are the steps whose marks a hop takes (the worst of them). A
// switch, not a package-level map, which every fpmdoctor start would build
// (docs/probe.md, "Start-up").
func hopSteps(hop string) []string {
	switch hop {
	case "server":
		return []string{"config"}
	case "fastcgi_pass":
		return []string{"fastcgi_pass"}
	case "pool":
		return []string{"service", "listen", "limits", "applied"}
	case "socket":
		return []string{"socket", "permission"}
	}
	return nil
}

func worst(steps []StepResult, names []string) string {
	rank := map[string]int{"fail": 4, "warn": 3, "ok": 2, "skip": 1}
	best := ""
	for _, st := range steps {
		for _, n := range names {
			if st.Step == n && rank[st.Status] > rank[best] {
				best = st.Status
			}
		}
	}
	return best
}

// WriteHTML writes r as one self-contained HTML page.
func WriteHTML(w io.Writer, r *Report, title string) error {
	if title == "" {
		title = "fpmdoctor report"
	}
	v := htmlView{Report: r, Title: title}
	for _, f := range r.Findings {
		switch f.Severity {
		case Error:
			v.Errors++
		case Warning:
			v.Warnings++
		}
	}
	for _, s := range r.Sites {
		hs := htmlSite{Site: s}
		pool, socket := s.Pool, s.Listen
		if pool == "" {
			pool = "no pool"
		}
		if socket == "" {
			// No pool: the socket nginx tries is its fastcgi_pass's.
			socket = strings.TrimPrefix(s.Pass, "unix:")
		}
		hs.Hops = []htmlHop{
			{"server", s.Name, htmlLoc(s.File, s.Line), worst(s.Steps, hopSteps("server"))},
			{"location", strings.TrimPrefix(s.Location, "location "), "", ""},
			{"fastcgi_pass", s.Pass, htmlLoc(s.PassFile, s.PassLine), worst(s.Steps, hopSteps("fastcgi_pass"))},
			{"pool", pool, s.PoolFile, worst(s.Steps, hopSteps("pool"))},
			{"socket", socket, "", worst(s.Steps, hopSteps("socket"))},
		}
		v.Sites = append(v.Sites, hs)
	}
	if len(r.Timeline) > 0 {
		v.Timeline = template.HTML(TimelineSVG(r.Timeline, SVGOptions{Width: 960, Height: 260, Title: "nginx 502/504 and php-fpm events per minute"}))
	}
	var b strings.Builder
	if err := htmlTemplate().Execute(&b, v); err != nil {
		return fmt.Errorf("render the HTML report: %w", err)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func htmlLoc(file string, line int) string {
	if file == "" {
		return ""
	}
	if line > 0 {
		return fmt.Sprintf("%s:%d", file, line)
	}
	return file
}

// htmlSize prints a byte count the way ls -h would, to one decimal.
func htmlSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func htmlMark(status string) string {
	switch status {
	case "ok":
		return "✓"
	case "fail":
		return "✗"
	case "warn":
		return "!"
	case "skip":
		return "–"
	}
	return ""
}
