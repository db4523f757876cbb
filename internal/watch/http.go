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

// timelineSVG draws the report's per-minute timeline with the report
// package's chart, the one the HTML report uses.
func timelineSVG(buckets []report.Bucket) template.HTML {
	if len(buckets) == 0 {
		return template.HTML("<p>Nothing in the log window.</p>")
	}
	// TimelineSVG escapes every text it writes: safe to embed.
	return template.HTML(report.TimelineSVG(buckets, report.SVGOptions{Title: "nginx 502/504 and php-fpm events per minute"}))
}
