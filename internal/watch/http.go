package watch

import (
	"bytes"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// Handler serves the watcher's pages: /metrics (the given handler),
// /api/findings (the report contract, as diagnose --format json prints
// it), / (a small page for people) and /-/healthy. Every page reads the
// last state; none waits on php-fpm or on a diagnosis.
func (w *Watcher) Handler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /api/findings", w.serveFindings)
	mux.HandleFunc("GET /-/healthy", func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(rw, "Healthy")
	})
	mux.HandleFunc("GET /{$}", w.servePage)
	return mux
}

// NewServer is an http.Server with the timeouts a long-running process
// on a shared host needs (a slow client cannot hold a connection).
func NewServer(addr string, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func (w *Watcher) serveFindings(rw http.ResponseWriter, _ *http.Request) {
	st := w.State()
	if st == nil {
		http.Error(rw, "no diagnosis has finished yet", http.StatusServiceUnavailable)
		return
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Last-Modified", st.Time.UTC().Format(http.TimeFormat))
	rw.Write(st.JSON)
}

type pageData struct {
	State    *State
	Age      time.Duration
	Findings []report.Finding
	Pools    []PoolStatus
	Timeline template.HTML
	Skipped  []report.Skipped
}

func (w *Watcher) servePage(rw http.ResponseWriter, _ *http.Request) {
	st := w.State()
	d := pageData{State: st, Pools: w.PoolStatuses()}
	if st != nil {
		d.Age = time.Since(st.Time).Round(time.Second)
		d.Findings = st.Report.Findings
		d.Skipped = st.Report.Skipped
		d.Timeline = timelineSVG(st.Report.Timeline)
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		w.log.Error("render the page", "err", err)
		http.Error(rw, "cannot render the page", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Write(buf.Bytes())
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fpmdoctor watch</title>
<meta http-equiv="refresh" content="30">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:70em}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd;vertical-align:top}
.error{color:#b00020;font-weight:bold}.warning{color:#a15c00;font-weight:bold}.info{color:#555}
code{font-size:90%}small{color:#666}
</style></head><body>
<h1>fpmdoctor watch</h1>
{{if not .State}}<p>No diagnosis has finished yet.</p>{{else}}
<p><small>Last diagnosis {{.Age}} ago, took {{.State.Duration}}. <a href="/api/findings">JSON</a> · <a href="/metrics">metrics</a></small></p>
<h2>Findings</h2>
{{if not .Findings}}<p>No findings: every PHP site checks out.</p>{{else}}
<table><tr><th>severity</th><th>cause</th><th>finding</th><th>site / pool</th></tr>
{{range .Findings}}<tr><td class="{{.Severity}}">{{.Severity}}</td><td><code>{{.Cause}}</code></td>
<td>{{.Title}}<br><small>{{.Detail}}</small>{{if .Fix}}<br><small>Fix: {{.Fix.Summary}}</small>{{end}}</td>
<td><small>{{.Site}}<br>{{.Pool}}</small></td></tr>{{end}}
</table>{{end}}
<h2>nginx 502/504 and php-fpm events per minute</h2>
{{.Timeline}}
{{end}}
<h2>Pools</h2>
{{if not .Pools}}<p>No pools known.</p>{{else}}
<table><tr><th>pool</th><th>address</th><th>status</th><th>active / idle / max_children</th></tr>
{{range .Pools}}<tr><td>{{.Pool.ID}}</td><td><code>{{.Pool.Address}}</code></td><td>{{.Describe}}</td>
<td>{{with .Status}}{{.ActiveProcesses}} / {{.IdleProcesses}}{{else}}– / –{{end}} / {{.Pool.Config.MaxChildren}}</td></tr>{{end}}
</table>{{end}}
{{if .Skipped}}<h2>Not checked</h2><ul>{{range .Skipped}}<li><code>{{.Check}}</code>: {{.Reason}}</li>{{end}}</ul>{{end}}
</body></html>
`))

// timelineSVG draws the report's per-minute timeline as bars: 502s and
// 504s stacked above the axis, php-fpm events below it, so a burst of
// failures lines up with the events that caused it.
func timelineSVG(buckets []report.Bucket) template.HTML {
	if len(buckets) == 0 {
		return template.HTML("<p>Nothing in the log window.</p>")
	}
	const width, half, pad = 720.0, 80.0, 20.0
	maxUp, maxDown := 1, 1
	for _, b := range buckets {
		maxUp = max(maxUp, b.Nginx502+b.Nginx504)
		maxDown = max(maxDown, b.FPM)
	}
	first, last := buckets[0].Minute, buckets[len(buckets)-1].Minute
	minutes := int(last.Sub(first)/time.Minute) + 1
	bw := max(width/float64(minutes), 1)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" role="img" aria-label="per-minute timeline">`, width+2*pad, 2*half+3*pad)
	mid := pad + half
	fmt.Fprintf(&buf, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#999"/>`, pad, mid, pad+width, mid)
	for _, b := range buckets {
		x := pad + float64(int(b.Minute.Sub(first)/time.Minute))*bw
		h502 := half * float64(b.Nginx502) / float64(maxUp)
		h504 := half * float64(b.Nginx504) / float64(maxUp)
		hf := half * float64(b.FPM) / float64(maxDown)
		title := fmt.Sprintf("%s: %d × 502, %d × 504, %d php-fpm events", b.Minute.Format("15:04"), b.Nginx502, b.Nginx504, b.FPM)
		fmt.Fprintf(&buf, `<g><title>%s</title>`, template.HTMLEscapeString(title))
		if h502 > 0 {
			fmt.Fprintf(&buf, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#c62828"/>`, x, mid-h502, bw*0.9, h502)
		}
		if h504 > 0 {
			fmt.Fprintf(&buf, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#ef6c00"/>`, x, mid-h502-h504, bw*0.9, h504)
		}
		if hf > 0 {
			fmt.Fprintf(&buf, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#1565c0"/>`, x, mid, bw*0.9, hf)
		}
		buf.WriteString(`</g>`)
	}
	fmt.Fprintf(&buf, `<text x="%.0f" y="%.0f" font-size="11">%s</text>`, pad, 2*half+2.5*pad, template.HTMLEscapeString(first.Format("15:04")))
	fmt.Fprintf(&buf, `<text x="%.0f" y="%.0f" font-size="11" text-anchor="end">%s</text>`, pad+width, 2*half+2.5*pad, template.HTMLEscapeString(last.Format("15:04")))
	fmt.Fprintf(&buf, `<text x="%.0f" y="12" font-size="11" fill="#c62828">502 (red) and 504 (orange), max %d/min</text>`, pad, maxUp)
	fmt.Fprintf(&buf, `<text x="%.0f" y="%.0f" font-size="11" fill="#1565c0">php-fpm events, max %d/min</text>`, pad, 2*half+1.6*pad, maxDown)
	buf.WriteString(`</svg>`)
	return template.HTML(buf.String())
}
