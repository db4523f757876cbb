package checks

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// applyFailover: when a connect fails, nginx tries the next server of the
// upstream (fastcgi_next_upstream error, its default). A pool that fails
// while another server of the same upstream answers costs each request
// sent to it a failed connect first, but no 502: its error findings
// become warnings that say where nginx goes instead. A finding stays an
// error when any site reaches the pool with nothing to fail over to: a
// plain fastcgi_pass, an upstream whose other servers fail too, or
// fastcgi_next_upstream off.
func applyFailover(s *snapshot.Snapshot, r *report.Report) {
	failing := map[string]bool{} // pool IDs with an error finding
	for _, f := range r.Findings {
		if f.Severity == report.Error && f.Pool != "" {
			failing[f.Pool] = true
		}
	}
	applyAddressFailover(s, r, failing)
	if len(failing) == 0 {
		return
	}
	type cover struct {
		ok        bool
		upstreams []string
		others    []string // what answers instead: pool names or addresses
	}
	covered := map[string]*cover{}
	for _, site := range s.Sites {
		for _, t := range site.Targets {
			if t.Pool == nil || !failing[t.Pool.ID()] {
				continue
			}
			c := covered[t.Pool.ID()]
			if c == nil {
				c = &cover{ok: true}
				covered[t.Pool.ID()] = c
			}
			others := failoverTo(site, t, failing)
			if len(others) == 0 {
				c.ok = false
				continue
			}
			if u := site.Pass.Target.Upstream.Name; !slices.Contains(c.upstreams, u) {
				c.upstreams = append(c.upstreams, u)
			}
			for _, o := range others {
				if !slices.Contains(c.others, o) {
					c.others = append(c.others, o)
				}
			}
		}
	}
	for i := range r.Findings {
		f := &r.Findings[i]
		c := covered[f.Pool]
		if f.Severity != report.Error || c == nil || !c.ok {
			continue
		}
		softenForFailover(f, c.others, c.upstreams)
	}
}

// applyAddressFailover does for an error about an address no pool stands
// behind (a server of the upstream where nothing of ours listens) what
// applyFailover does for a failing pool: a warning when nginx fails over
// from it to a server that answers.
func applyAddressFailover(s *snapshot.Snapshot, r *report.Report, failing map[string]bool) {
	var sites map[string]*snapshot.Site
	for i := range r.Findings {
		f := &r.Findings[i]
		if f.Severity != report.Error || f.Pool != "" || f.Site == "" || f.Address == "" {
			continue
		}
		if sites == nil {
			sites = make(map[string]*snapshot.Site, len(s.Sites))
			for _, site := range s.Sites {
				sites[site.Key()] = site
			}
		}
		site := sites[f.Site]
		if site == nil {
			continue
		}
		for _, t := range site.Targets {
			if t.Pool != nil || t.Address() != f.Address {
				continue
			}
			if others := failoverTo(site, t, failing); len(others) > 0 {
				softenForFailover(f, others, []string{site.Pass.Target.Upstream.Name})
			}
			break
		}
	}
}

// softenForFailover turns f into the warning a failing server behind an
// upstream deserves, naming where nginx goes instead.
func softenForFailover(f *report.Finding, others, upstreams []string) {
	f.Severity = report.Warning
	// fpm-down's consequence does not hold behind an upstream.
	detail := strings.Replace(f.Detail, ", so every PHP request gets 502", "", 1)
	f.Detail = sentence(detail) + fmt.Sprintf(" Here requests still succeed: nginx fails over from this server to %s of upstream %s, which answers,"+
		" so a request gets 502 only when every server fails; but each request nginx sends here first pays a failed connect"+
		" (until max_fails failures make nginx skip the server for fail_timeout).",
		strings.Join(others, ", "), strings.Join(upstreams, ", "))
}

// failoverTo names the other servers of site's upstream that answer where
// t fails, or nothing when nginx would not fail over from t.
func failoverTo(site *snapshot.Site, t *snapshot.Target, failing map[string]bool) []string {
	pass := site.Pass
	if pass.Target.Kind != nginxconf.TargetUpstream || pass.Target.Upstream == nil || len(site.Targets) < 2 {
		return nil
	}
	if !slices.Contains(pass.Settings().NextUpstream, "error") {
		return nil // fastcgi_next_upstream off, or without error
	}
	servers := pass.Target.Upstream.Servers
	var out []string
	for i, o := range site.Targets {
		if o == t || i < len(servers) && servers[i].Down || !answers(o, failing) {
			continue
		}
		name := o.Address()
		if o.Pool != nil {
			name = "pool " + o.Pool.Name
		}
		out = append(out, name)
	}
	return out
}

// answers: the target is known to work, by a live probe when there is
// one, else by a running php-fpm behind it and no error finding.
func answers(t *snapshot.Target, failing map[string]bool) bool {
	if t.Pool != nil && failing[t.Pool.ID()] {
		return false
	}
	if t.Probe != nil {
		return t.Probe.OK()
	}
	return t.Pool != nil && t.Pool.FPM.Running() && (t.Listener != nil || t.Pool.Listen.Network == "unix" && t.Socket.Exists)
}
