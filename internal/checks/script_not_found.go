package checks

import (
	"fmt"
	"path"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/logscan"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// scriptNotFound: php-fpm cannot see the script nginx names in
// SCRIPT_FILENAME, so every PHP request ends in 404 "File not found." and
// nginx logs FastCGI sent in stderr: "Primary script unknown". Not a 502,
// but the next thing every split setup hits: nginx and php-fpm in two
// containers with different document roots, or a pool with chroot, where
// php-fpm looks for nginx's path inside its chroot.
//
// Two kinds of evidence, either enough: the pool's chroot does not hold
// nginx's document root (config and files, offline too); or php-fpm said
// "Primary script unknown" for a request whose script exists under
// nginx's root here (a request for a missing script says the same and is
// not counted).
var scriptNotFound = Check{
	ID:    "script-not-found",
	Cause: "script-not-found",
	Step:  report.StepPass,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		unknown := logGroups(s, logscan.KindScriptUnknown)
		for _, site := range s.Sites {
			if f, ok := scriptFinding(s, site, unknown); ok {
				out = append(out, f)
			}
		}
		return out
	},
}

func scriptFinding(s *snapshot.Snapshot, site *snapshot.Site, unknown []logscan.Group) (report.Finding, bool) {
	var pool *snapshot.Pool
	for _, t := range site.Targets {
		if t.Pool != nil {
			pool = t.Pool
			break
		}
	}
	var groups []logscan.Group
	for _, g := range unknown {
		if targetOfSite(site, g.Target) {
			groups = append(groups, g)
		}
	}
	var chroot string
	if pool != nil {
		chroot = pool.Pool.Value("chroot")
	}
	// Most sites have neither: spare a hosting host's thousands of sites
	// the effective settings.
	if chroot == "" && len(groups) == 0 {
		return report.Finding{}, false
	}
	set := site.Pass.Settings()
	param, ok := set.Param("SCRIPT_FILENAME")
	if !ok {
		return report.Finding{}, false
	}
	root := set.Root
	if !path.IsAbs(root) && site.Nginx.Prefix != "" {
		root = path.Join(site.Nginx.Prefix, root)
	}
	usesRoot := strings.HasPrefix(param.Value, "$document_root") || strings.HasPrefix(param.Value, "$realpath_root")
	f := report.Finding{Severity: report.Error, Site: site.Key()}
	rootEv := settingEvidenceOr(set, "root", fact("nginx's document root for %s: %s", site.Name, root))
	if pool != nil {
		f.Pool = pool.ID()
	}
	chrootMissing := false
	if chroot != "" && usesRoot && path.IsAbs(root) {
		inside := path.Join(chroot, root)
		if st := s.Host.Stat(inside); !st.Exists {
			chrootMissing = true
			f.Title = fmt.Sprintf("pool %s runs chrooted in %s, where nginx's document root %s does not exist: every script is \"Primary script unknown\"", pool.Name, chroot, root)
			f.Detail = fmt.Sprintf("nginx sends SCRIPT_FILENAME = %s, a path of its own filesystem. php-fpm's workers are chrooted to %s and look for %s, which is not there, so php-fpm answers 404 \"File not found.\" to every PHP request.", param.Value, chroot, inside)
			f.Evidence = append(f.Evidence, rootEv, directiveEvidence(param.Directive))
			f.Evidence = append(f.Evidence, poolSettings(pool, "chroot")...)
			f.Evidence = append(f.Evidence, fact("%s does not exist", inside))
			f.Fix = &report.Fix{Summary: fmt.Sprintf("make the scripts visible inside the chroot (move or bind-mount %s to %s), or send the path as php-fpm sees it: root inside the chroot, or fastcgi_param SCRIPT_FILENAME with the chroot prefix removed", root, inside)}
		}
	}
	// What php-fpm said, for requests whose script exists for nginx.
	var seen, present int
	var example *logscan.Group
	var script string
	checked := false // whether php-fpm's side was looked at for it
	for _, g := range groups {
		seen += g.Count
		for _, u := range g.TopURLs {
			p := path.Join(root, path.Clean("/"+u.URL))
			if !usesRoot || !path.IsAbs(root) || !s.Host.Stat(p).Exists {
				continue // a request for a script that exists nowhere
			}
			sees, known := fpmSees(s, pool, p)
			if known && sees {
				continue // php-fpm sees it now: the lines are from before a repair
			}
			present += u.Count
			if example == nil {
				gg := g
				example, script, checked = &gg, p, known
			}
		}
	}
	if example == nil && !chrootMissing {
		return report.Finding{}, false
	}
	if example != nil {
		f.Live = s.Live
		f.Evidence = append(f.Evidence, logEvidence(example.Example), fact("%s exists for nginx; php-fpm answered \"Primary script unknown\" for it (%d of %d such answers in the window were for scripts that exist here)", script, present, seen))
		if checked && pool != nil && pool.FPM.Master != nil && pool.Pool.Value("chroot") == "" {
			f.Evidence = append(f.Evidence, fact("php-fpm master pid %d has no %s in its own filesystem (/proc/%d/root)", pool.FPM.Master.PID, script, pool.FPM.Master.PID))
		}
		f.Logs = summary(*example)
		if !chrootMissing {
			where := "php-fpm"
			remote := false
			for _, t := range site.Targets {
				if t.Kind == nginxconf.TargetTCP && !anyLocal(s, t.IPs) {
					where, remote = "php-fpm at "+t.Target.Address()+" (another host or container)", true
				}
			}
			f.Title = fmt.Sprintf("%s cannot see the scripts nginx sends it: %s exists under nginx's root %s, php-fpm answers \"Primary script unknown\"", where, script, root)
			if !checked {
				// php-fpm's own filesystem could not be looked at (another
				// host, or no pool of its config matched): the lines say
				// what was, not what is.
				f.Title = fmt.Sprintf("%s could not see the scripts nginx sent it: %s exists under nginx's root %s, php-fpm answered \"Primary script unknown\", last at %s", where, script, root, example.Last.Format("15:04:05"))
				f.Evidence = append(f.Evidence, fact("whether php-fpm sees %s now cannot be checked from here (its filesystem is not this host's, or no pool of the configs read serves this site); the lines above are nginx's record of what it answered", script))
			}
			f.Detail = fmt.Sprintf("nginx builds SCRIPT_FILENAME from its own document root (%s = %s). php-fpm opens that path on its side and finds nothing, so every PHP request is answered 404 \"File not found.\".", param.Value, root)
			if remote {
				f.Detail += " php-fpm runs elsewhere: the code must be at the same path there (the same volume mounted at the same place), or SCRIPT_FILENAME must name php-fpm's path."
			}
			f.Evidence = append([]report.Evidence{rootEv, directiveEvidence(param.Directive)}, f.Evidence...)
			if pool != nil {
				f.Evidence = append(f.Evidence, poolSettings(pool, "chroot", "chdir")...)
			}
			f.Fix = &report.Fix{Summary: fmt.Sprintf("mount the application at %s on the php-fpm side too, or set fastcgi_param SCRIPT_FILENAME to php-fpm's document root followed by $fastcgi_script_name", root)}
		}
	}
	return f, true
}

// fpmSees reports whether php-fpm's workers see path now: inside the
// pool's chroot, else through the running master's own root
// (/proc/PID/root: a container on this host sees its own filesystem).
// known is false when that cannot be told (php-fpm on another host, not
// running, or its root unreadable).
func fpmSees(s *snapshot.Snapshot, pool *snapshot.Pool, p string) (sees, known bool) {
	if pool == nil {
		return false, false
	}
	if chroot := pool.Pool.Value("chroot"); chroot != "" {
		return s.Host.Stat(path.Join(chroot, p)).Exists, true
	}
	if !s.Live || pool.FPM.Master == nil {
		return false, false
	}
	root := fmt.Sprintf("/proc/%d/root", pool.FPM.Master.PID)
	if !s.Host.Stat(root).Exists {
		return false, false
	}
	return s.Host.Stat(root + p).Exists, true
}

// targetOfSite reports whether a logged upstream target is one of the
// site's addresses: the socket path, the host:port, or an address of it.
func targetOfSite(site *snapshot.Site, target string) bool {
	for _, t := range site.Targets {
		if tg, _ := logscan.NormalizeUpstream(t.Target.Address(), false); tg == target {
			return true
		}
		for _, a := range addrProbes(t) {
			if a.addr == target {
				return true
			}
		}
		if t.Pool != nil && t.Pool.ID() == target {
			return true
		}
	}
	return false
}
