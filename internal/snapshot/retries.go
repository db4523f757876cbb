package snapshot

import (
	"net"
	"slices"
	"strconv"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
)

// retryRule is what nginx does after a failed try of one address: how
// many servers it may try per request, and under which
// fastcgi_next_upstream conditions it goes on to the next one.
type retryRule struct {
	tries int
	conds []string
	// connectOnly: fastcgi_next_upstream_timeout may have stopped the
	// retries unlogged after any try slower than a failed connect.
	connectOnly bool
}

// RetryRules tells, for an nginx failure line, how many servers nginx may
// try for that request (logscan.Attempts.Mark's tries). Build it once per
// snapshot; safe for concurrent use once built.
type RetryRules struct {
	byTarget map[string]retryRule
}

// retryRules reads, for every address a site connects to, how many tries
// nginx makes (ngx_http_upstream_tries: one per address of each server
// not marked down, backups included; a name nginx resolved to several
// addresses is several servers even in a plain fastcgi_pass), capped by
// fastcgi_next_upstream_tries. An address several sites reach with
// different rules gets the least of them: counting a failed try as a 502
// is the old, safe mistake; counting a 502 as a failed try is not.
func retryRules(s *Snapshot) *RetryRules {
	rr := &RetryRules{byTarget: map[string]retryRule{}}
	seen := map[string]bool{}
	for _, site := range s.Sites {
		rule := siteRetryRule(site)
		for _, t := range site.Targets {
			var keys []string
			if k, _ := logscan.NormalizeUpstream(t.Target.Address(), false); k != "" {
				keys = append(keys, k)
			}
			for _, ip := range t.IPs {
				if k, _ := logscan.NormalizeUpstream(net.JoinHostPort(ip.String(), strconv.Itoa(t.Port)), false); k != "" {
					keys = append(keys, k)
				}
			}
			for _, k := range keys {
				if !seen[k] {
					seen[k] = true
					rr.byTarget[k] = rule
					continue
				}
				old := rr.byTarget[k]
				merged := retryRule{tries: min(old.tries, rule.tries), connectOnly: old.connectOnly || rule.connectOnly}
				for _, c := range old.conds {
					if slices.Contains(rule.conds, c) {
						merged.conds = append(merged.conds, c)
					}
				}
				rr.byTarget[k] = merged
			}
		}
	}
	return rr
}

// siteRetryRule reads the pass's upstream and fastcgi_next_upstream*.
func siteRetryRule(site *Site) retryRule {
	pass := site.Pass
	next := pass.NextUpstream()
	if slices.Contains(next, "off") {
		return retryRule{tries: 1}
	}
	conds := slices.Clone(next)
	connectOnly := false
	// A time limit on retries may stop them unlogged after a slow try (a
	// timeout, a slow response); a refused or missing connect comes at
	// once, well inside any.
	if d := pass.Inherited("fastcgi_next_upstream_timeout"); d != nil {
		if v, err := nginxconf.ParseDuration(d.Arg(0)); err != nil || v > 0 {
			conds = slices.DeleteFunc(conds, func(c string) bool { return c != "error" })
			connectOnly = true
		}
	}
	tries := 0
	var servers []nginxconf.UpstreamServer
	if pass.Target.Kind == nginxconf.TargetUpstream && pass.Target.Upstream != nil {
		servers = pass.Target.Upstream.Servers
	}
	for i, t := range site.Targets {
		if i < len(servers) && servers[i].Down {
			continue
		}
		tries += max(1, len(t.IPs))
	}
	if d := pass.Inherited("fastcgi_next_upstream_tries"); d != nil {
		n, err := strconv.Atoi(d.Arg(0))
		if err != nil || n < 0 {
			return retryRule{tries: 1}
		}
		if n > 0 {
			tries = min(tries, n)
		}
	}
	return retryRule{tries: tries, conds: conds, connectOnly: connectOnly}
}

// Tries is how many servers nginx may try for the request whose failure
// e logs: 1 when nginx does not go on after such a failure (one server, a
// condition fastcgi_next_upstream leaves out, an address no site names).
func (rr *RetryRules) Tries(e *logscan.Entry) int {
	if rr == nil || e.Source != logscan.SourceNginx {
		return 1
	}
	r, ok := rr.byTarget[e.Target]
	if !ok || !slices.Contains(r.conds, e.RetryCondition()) || r.connectOnly && e.Action != "connecting to upstream" {
		return 1
	}
	return r.tries
}
