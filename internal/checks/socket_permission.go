package checks

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// socketPermission decides, as the kernel would, whether nginx's worker
// user may connect to each unix socket target: search on every directory
// above it and write on the socket, for the worker's uid and all its
// groups, with POSIX ACLs. It names the exact element that blocks.
//
// When the socket itself blocks but the pool's listen.owner/group/mode on
// disk would allow the worker, the config was changed and only reloaded
// (php-fpm keeps the inherited socket): that is config-not-applied.
var socketPermission = Check{
	ID:    "socket-permission",
	Cause: "socket-permission",
	Step:  report.StepPermission,
	Live:  true,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		seen := map[string]bool{}
		for _, site := range s.Sites {
			n := site.Nginx
			if n.Cred == nil {
				continue
			}
			for _, t := range site.Targets {
				if t.Kind != nginxconf.TargetUnix || !t.Socket.Exists || t.Listener == nil || seen[t.Path] {
					continue
				}
				seen[t.Path] = true
				blocker, err := host.ConnectCheck(s.Host, t.Path, *n.Cred)
				if err != nil {
					if !errors.Is(err, os.ErrNotExist) {
						out = append(out, report.Finding{Severity: report.Info, Site: site.Key(), Title: "cannot check permissions on " + t.Path, Detail: err.Error(), Evidence: []report.Evidence{directiveEvidence(t.Directive)}})
					}
					continue
				}
				if blocker == nil {
					continue
				}
				if t.Pool != nil && blocker.File.Path == t.Path && poolConfigAllows(s, t.Pool, *n.Cred) {
					continue // configNotApplied reports it
				}
				out = append(out, permissionFinding(s, site, t, blocker))
			}
		}
		return out
	},
}

func permissionFinding(s *snapshot.Snapshot, site *snapshot.Site, t *snapshot.Target, b *host.Blocker) report.Finding {
	n := site.Nginx
	who := s.Users.DescribeCred(*n.Cred)
	what := fmt.Sprintf("%s is %s; %s cannot %s it (%s)", b.File.Path, host.Describe(b.File, s.Users), who, b.Want, b.Reason)
	ev := []report.Evidence{directiveEvidence(t.Directive), fact("%s", what)}
	credEv := fact("nginx workers run as %s (%s)", who, n.CredSource)
	if n.CredFile != "" {
		credEv = report.Evidence{Kind: report.KindConfig, File: n.CredFile, Line: n.CredLine, Text: "user " + n.Model.User + "; → " + who}
	}
	ev = append(ev, credEv)
	f := report.Finding{
		Severity: report.Error,
		Live:     true,
		Site:     site.Key(),
		Title:    fmt.Sprintf("nginx (%s) cannot connect to %s: %s", s.Users.UserName(n.Cred.UID), t.Path, b.File.Path+" blocks "+b.Want),
		Detail:   "connect() to a unix socket needs search permission on every directory above it and write permission on the socket. nginx logs (13: Permission denied) and answers 502.",
		Evidence: ev,
	}
	user := s.Users.UserName(n.Cred.UID)
	if b.File.Path == t.Path && t.Pool != nil {
		f.Pool = t.Pool.ID()
		f.Evidence = append(f.Evidence, poolSettings(t.Pool, "listen.owner", "listen.group", "listen.mode", "listen.acl_users", "listen.acl_groups")...)
		if t.Pool.Pool.Get("listen.owner") == nil && t.Pool.Pool.Get("listen.group") == nil {
			f.Evidence = append(f.Evidence, report.Evidence{Kind: report.KindConfig, File: t.Pool.Pool.File, Line: t.Pool.Pool.Line, Text: "[" + t.Pool.Name + "] sets no listen.owner/listen.group: php-fpm creates the socket as its master's user (root)"})
		}
		f.Fix = &report.Fix{Summary: fmt.Sprintf("in pool %s set listen.owner = %s, listen.group = %s, listen.mode = 0660, then restart php-fpm (a reload keeps the old socket)", t.Pool.Name, user, s.Users.GroupName(n.Cred.GID))}
	} else {
		f.Fix = &report.Fix{Summary: fmt.Sprintf("let %s %s %s (e.g. chmod o+x, or setfacl -m u:%s:x %s), or move the socket to a directory nginx can reach such as /run/php", user, b.Want, b.File.Path, user, b.File.Path)}
	}
	return f
}

// poolConfigAllows: would a socket created with the pool's listen.* as
// written on disk let cred connect? (The directories are not the question.)
func poolConfigAllows(s *snapshot.Snapshot, p *snapshot.Pool, c host.Cred) bool {
	want, ok := expectedSocket(s, p)
	if !ok {
		return false
	}
	allowed, _ := host.Allowed(want, c, 2)
	return allowed
}

// expectedSocket is the owner, group and mode php-fpm gives a new socket
// for pool p: listen.owner/group (default: the master's user and group),
// listen.mode (default 0660). ACL settings are not modelled: false.
func expectedSocket(s *snapshot.Snapshot, p *snapshot.Pool) (host.FileInfo, bool) {
	if s.Users == nil || p.Pool.Get("listen.acl_users") != nil || p.Pool.Get("listen.acl_groups") != nil {
		return host.FileInfo{}, false
	}
	fi := host.FileInfo{Path: p.Listen.Path, Exists: true, Mode: 0o660}
	if p.FPM.Master != nil {
		fi.UID, fi.GID = p.FPM.Master.UID, p.FPM.Master.GID
	}
	if st := p.Pool.Get("listen.owner"); st != nil && st.Value != "" {
		u, ok := lookupUser(s, st.Value)
		if !ok {
			return fi, false
		}
		fi.UID = u
	}
	if st := p.Pool.Get("listen.group"); st != nil && st.Value != "" {
		g, ok := lookupGroup(s, st.Value)
		if !ok {
			return fi, false
		}
		fi.GID = g
	}
	if st := p.Pool.Get("listen.mode"); st != nil && st.Value != "" {
		m, err := strconv.ParseUint(st.Value, 8, 32)
		if err != nil {
			return fi, false
		}
		fi.Mode = os.FileMode(m & 0o777)
	}
	return fi, true
}

func lookupUser(s *snapshot.Snapshot, v string) (int, bool) {
	if n, err := strconv.Atoi(v); err == nil {
		return n, true
	}
	u, ok := s.Users.Lookup(v)
	return u.UID, ok
}

func lookupGroup(s *snapshot.Snapshot, v string) (int, bool) {
	if n, err := strconv.Atoi(v); err == nil {
		return n, true
	}
	g, ok := s.Users.LookupGroup(v)
	return g.GID, ok
}
