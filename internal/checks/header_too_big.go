package checks

import (
	"fmt"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// headerTooBig: "upstream sent too big header while reading response header
// from upstream": the script's response headers (cookies, redirects with
// long URLs, debug headers) do not fit fastcgi_buffer_size; nginx answers
// 502.
var headerTooBig = Check{
	ID:    "header-too-big",
	Cause: "header-too-big",
	Step:  report.StepLogs,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, g := range logGroups(s, logscan.KindTooBigHeader) {
			p := poolFor(s, g.Target)
			f := report.Finding{
				Severity: report.Error,
				Live:     true,
				Pool:     poolID(p),
				Title:    fmt.Sprintf("responses of %s have headers larger than fastcgi_buffer_size: %s got 502", poolName(p, g.Target), countWord(failedRequests(g), "request", "requests")) + retriedNote(g),
				Detail:   "nginx reads the FastCGI response header into one buffer of fastcgi_buffer_size (one memory page, 4k, by default); a bigger header is refused.",
				Evidence: []report.Evidence{logEvidence(g.Example)},
				Logs:     summary(g),
				Fix:      &report.Fix{Summary: "raise fastcgi_buffer_size (e.g. 32k) and fastcgi_buffers (e.g. 16 32k) in the PHP location; and find what sets such headers"},
			}
			if p != nil {
				for _, site := range p.Sites {
					set := site.Pass.Settings()
					if d := set.From["fastcgi_buffer_size"]; d != nil {
						f.Evidence = append(f.Evidence, directiveEvidence(d))
					} else {
						f.Evidence = append(f.Evidence, report.Evidence{Kind: report.KindConfig, File: site.Pass.Directive.File, Line: site.Pass.Directive.Line, Text: fmt.Sprintf("no fastcgi_buffer_size for %s: nginx's default %d bytes applies", site.Name, set.BufferSize)})
					}
					break
				}
			}
			out = append(out, f)
		}
		return out
	},
}
