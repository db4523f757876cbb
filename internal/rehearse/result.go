package rehearse

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// Cause is one diagnosed cause attached to a site.
type Cause struct {
	Cause    string          `json:"cause"`
	Severity report.Severity `json:"severity"`
	Title    string          `json:"title"`
}

// SiteResult is one site's line of the lab's result.
type SiteResult struct {
	Answer
	Causes []Cause `json:"causes"`
}

// Result is what `fpmdoctor lab` prints.
type Result struct {
	Dir      string    `json:"dir"`
	Kept     bool      `json:"kept"`
	Stop     string    `json:"stop_command,omitempty"`
	Nginx    string    `json:"nginx_binary"`
	FPM      []string  `json:"php_fpm_binaries"`
	Mappings []Mapping `json:"mappings"`
	// Start lists what failed to start (php-fpm refusing its config).
	Start []string     `json:"start_errors,omitempty"`
	Sites []SiteResult `json:"sites"`
	// Timings say where the time went, in milliseconds: "up and
	// answered" is copy + start + answer.
	Timings Timings        `json:"timings_ms"`
	Report  *report.Report `json:"report,omitempty"`
}

// Timings of a run's phases, in milliseconds.
type Timings struct {
	Copy     int64 `json:"copy"`
	Start    int64 `json:"start"`
	Answer   int64 `json:"answer"`
	Diagnose int64 `json:"diagnose"`
	Stop     int64 `json:"stop"`
}

// ExitCode: 0 when every PHP site answered without 502/503/504 (also
// when there is none: the text says so), else 1.
func (r *Result) ExitCode() int {
	for _, s := range r.Sites {
		if s.Failed() {
			return 1
		}
	}
	return 0
}

// Attach turns a diagnosis of the running lab into per-site causes: the
// findings about the site itself, about its pool, and, for a site that
// failed, the findings about no site or pool (php-fpm down, an invalid
// config). Evidence paths are turned back into the tree's paths.
func (l *Lab) Attach(answers []Answer, r *report.Report) []SiteResult {
	pools := map[string]string{} // lab pass position → pool
	if r != nil {
		for _, s := range r.Sites {
			pools[fmt.Sprintf("%s:%d", s.PassFile, s.PassLine)] = s.Pool
		}
	}
	var out []SiteResult
	for _, a := range answers {
		sr := SiteResult{Answer: a, Causes: []Cause{}}
		if r != nil {
			pool := pools[a.passPos]
			for _, f := range r.Findings {
				// Pools are named "www" or, where several configs
				// have one, "www (/etc/php/…/php-fpm.conf)".
				samePool := pool != "" && (f.Pool == pool || strings.HasPrefix(f.Pool, pool+" ("))
				mine := strings.HasSuffix(f.Site, " "+a.passPos) ||
					f.Site == "" && samePool ||
					f.Site == "" && f.Pool == "" && a.Failed() && f.Severity == report.Error
				if mine {
					sr.Causes = append(sr.Causes, Cause{Cause: f.Cause, Severity: f.Severity, Title: l.hostText(f.Title)})
				}
			}
		}
		out = append(out, sr)
	}
	if r != nil {
		for i := range r.Findings {
			f := &r.Findings[i]
			f.Title, f.Detail, f.Pool, f.Site = l.hostText(f.Title), l.hostText(f.Detail), l.hostText(f.Pool), l.hostText(f.Site)
			if f.Fix != nil {
				f.Fix.Summary = l.hostText(f.Fix.Summary)
			}
			for j := range f.Evidence {
				e := &f.Evidence[j]
				e.File = l.HostPath(e.File)
				if e.Kind != report.KindLog { // log lines stay as written
					e.Text = l.hostText(e.Text)
				}
			}
		}
		for i := range r.Sites {
			r.Sites[i].File = l.HostPath(r.Sites[i].File)
			r.Sites[i].PassFile = l.HostPath(r.Sites[i].PassFile)
			r.Sites[i].PoolFile = l.HostPath(r.Sites[i].PoolFile)
		}
	}
	return out
}

// hostText names mirrored paths (configs, sockets, logs) by the tree's
// paths in a finding's prose; ports stay the lab's (the mapping lists them).
func (l *Lab) hostText(s string) string {
	if l.tree == nil {
		return s
	}
	return strings.ReplaceAll(s, l.tree.mirror+"/", "/")
}

// The patterns compile on first use, not at package init, which every
// fpmdoctor process would pay (docs/probe.md, "Start-up").
var (
	nginxEmerg = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`\[emerg\] (?:\d+#\d+: )?(.*?)(?: in (/\S+):(\d+))?$`)
	})
	fpmAlert = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?:ALERT|ERROR): (.*)$`) })
)

// refusal turns a server's refusal to start on the copy into a finding:
// the server's own first message, at the file:line it names. It comes
// first in the report, ahead of what the static checks inferred (which
// may have missed it: fpmdoctor's nginx parser does not know every
// module's directives).
func (l *Lab) refusal(cause, server string, err error) report.Finding {
	msg := l.hostText(err.Error())
	f := report.Finding{ID: cause + "-lab", Cause: cause, Severity: report.Error, Live: true, Step: report.StepConfig,
		Title:  server + " refuses its configuration: " + msg,
		Detail: "The real " + server + " refused to start on the lab copy, so a reload or restart on the host would fail the same way.",
		Fix:    &report.Fix{Summary: "correct the config at the line shown, then run fpmdoctor lab again"}}
	for _, line := range strings.Split(msg, "\n") {
		re := fpmAlert()
		if server == "nginx" {
			re = nginxEmerg()
		}
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		f.Title = server + " refuses its configuration: " + m[1]
		ev := report.Evidence{Kind: report.KindLog, Text: strings.TrimSpace(line)}
		if len(m) > 3 && m[2] != "" {
			ev.Kind, ev.File = report.KindConfig, m[2]
			ev.Line, _ = strconv.Atoi(m[3])
		}
		f.Evidence = append(f.Evidence, ev)
		break
	}
	if len(f.Evidence) == 0 {
		f.Evidence = []report.Evidence{{Kind: report.KindLog, Text: msg}}
	}
	return f
}

// WriteText prints the result for a person: the mapping, then per site
// the request, the status, nginx's log line and the causes.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "lab %s\n  nginx %s; php-fpm %s\n\n", r.Dir, r.Nginx, strings.Join(r.FPM, ", "))
	b.WriteString("Mapping (original → lab):\n")
	configs := 0
	for _, m := range r.Mappings {
		if m.Kind == "config" {
			configs++
		}
	}
	if configs > 0 {
		// One line, not one per file: a hosting host has thousands; the
		// JSON lists each.
		fmt.Fprintf(&b, "  %-12s %d config files → the same paths under %s/root\n", "config", configs, r.Dir)
	}
	for _, m := range r.Mappings {
		if m.Kind == "config" {
			continue
		}
		to := m.To
		if to == "" {
			to = "-"
		}
		fmt.Fprintf(&b, "  %-12s %s → %s", m.Kind, m.From, to)
		if m.Note != "" {
			fmt.Fprintf(&b, "  (%s)", m.Note)
		}
		if m.Where != "" {
			fmt.Fprintf(&b, "  [%s]", m.Where)
		}
		b.WriteString("\n")
	}
	for _, e := range r.Start {
		fmt.Fprintf(&b, "\nnot started: %s\n", e)
	}
	b.WriteString("\nSites:\n")
	if len(r.Sites) == 0 {
		b.WriteString("  no PHP site (no server block with fastcgi_pass)\n")
	}
	for _, s := range r.Sites {
		status := fmt.Sprint(s.Status)
		if s.Status == 0 {
			status = "no answer: " + s.Error
		} else if s.Probe {
			status += " (the probe ran in php-fpm)"
		}
		mark := "✓"
		if s.Failed() {
			mark = "✗"
		}
		fmt.Fprintf(&b, "  %s %s  GET %s (Host: %s) → %s\n", mark, s.Name, s.URL, s.Host, status)
		fmt.Fprintf(&b, "    fastcgi_pass %s  [%s]\n", s.Pass, s.PassWhere)
		if s.Failed() {
			for _, line := range s.NginxLog {
				fmt.Fprintf(&b, "    nginx: %s\n", line)
			}
		}
		for _, c := range s.Causes {
			fmt.Fprintf(&b, "    cause: %s [%s] %s\n", c.Severity, c.Cause, c.Title)
		}
	}
	b.WriteString("\n")
	if r.Kept {
		fmt.Fprintf(&b, "The lab keeps running. Stop it with:\n  %s\n", r.Stop)
	} else {
		b.WriteString("The lab was stopped and removed.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Diagnoser diagnoses the running lab from its main configs; the CLI
// passes internal/doctor (which this package cannot import: doctor's tests
// use internal/lab, which builds on this package's helpers).
type Diagnoser func(ctx context.Context, nginxConf string, fpmConfs []string) (*report.Report, error)

// Run is the whole rehearsal: create the lab, copy src, start the servers,
// ask every PHP site, diagnose, and stop (unless opts.Keep), also when ctx
// ends. The error is non-nil when the lab could not be set up at all; a
// server that refuses its copied config is a result, not an error.
func Run(ctx context.Context, opts Options, src Source, timeout time.Duration, diagnose Diagnoser) (res *Result, err error) {
	t0 := time.Now()
	since := func() int64 {
		now := time.Now()
		d := now.Sub(t0).Milliseconds()
		t0 = now
		return d
	}
	l, err := New(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		since()
		// An interrupted or failed run leaves nothing, even with Keep:
		// no result names the lab, so nobody would stop it.
		if err != nil || ctx.Err() != nil {
			l.opts.Keep = false
			if res != nil {
				res.Kept, res.Stop = false, ""
			}
		}
		if cerr := l.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if res != nil {
			res.Timings.Stop = since()
		}
	}()
	if err := l.Copy(ctx, src); err != nil {
		return nil, fmt.Errorf("copy the configs into the lab: %w", err)
	}
	copyMS := since()
	res = &Result{Dir: l.Dir, Kept: opts.Keep, Mappings: l.Mappings(), Sites: []SiteResult{}}
	res.Nginx, res.FPM = l.Binaries()
	if opts.Keep {
		res.Stop = l.StopCommand()
	}
	res.Timings.Copy = copyMS
	fpmErrs, nerr := l.Start(ctx)
	res.Timings.Start = since()
	var refused []report.Finding // what the real servers said when they refused the copy
	for _, e := range fpmErrs {
		refused = append(refused, l.refusal("fpm-config-invalid", "php-fpm", e))
	}
	if nerr != nil {
		refused = append(refused, l.refusal("nginx-config-invalid", "nginx", nerr))
	}
	for _, e := range fpmErrs {
		res.Start = append(res.Start, l.hostText(e.Error()))
	}
	var answers []Answer
	if nerr != nil {
		// nginx refused the copy: no site can answer; the diagnosis
		// still says why (nginx-config-invalid).
		res.Start = append(res.Start, l.hostText(nerr.Error()))
		for _, s := range l.tree.sites {
			answers = append(answers, Answer{Site: *s, Error: "not asked: nginx did not start"})
		}
	} else {
		answers = l.Ask(ctx, timeout)
	}
	res.Timings.Answer = since()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if diagnose != nil {
		r, derr := diagnose(ctx, l.NginxConf(), l.FPMConfs())
		if derr != nil {
			res.Start = append(res.Start, "diagnose the lab: "+derr.Error())
		}
		res.Report = r
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if len(refused) > 0 {
		if res.Report == nil {
			res.Report = report.New()
		}
		// The static checks may have said the same: keep theirs alone.
		var add []report.Finding
		for _, f := range refused {
			if !slices.ContainsFunc(res.Report.Findings, func(g report.Finding) bool { return g.Cause == f.Cause && g.Title == f.Title }) {
				add = append(add, f)
			}
		}
		res.Report.Findings = append(add, res.Report.Findings...)
	}
	res.Timings.Diagnose = since()
	if sites := l.Attach(answers, res.Report); sites != nil {
		res.Sites = sites
	}
	return res, nil
}
