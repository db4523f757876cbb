package fix

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/host"
	"github.com/fpmdoctor/fpmdoctor/internal/nginxconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// socketPermission lets nginx's worker user connect to the pool's socket
// through the pool's own settings: listen.owner/listen.group (or, when the
// pool uses ACLs, which make php-fpm ignore owner and group, an entry in
// listen.acl_users). listen.mode gets owner and group write if it lacks
// them. These apply only when php-fpm creates the socket: a restart, not
// a reload. A directory above the socket that blocks is never chmod-ed
// behind the user's back: that finding stays manual.
var socketPermission = Remedy{
	Cause: "socket-permission",
	Plan: func(p *Planner, f report.Finding) (*Action, error) {
		if f.Pool == "" {
			return directoryGrant(p, f)
		}
		pl, err := p.pool(f)
		if err != nil {
			return nil, err
		}
		site, err := p.site(f)
		if err != nil {
			return nil, err
		}
		cred := site.Nginx.Cred
		if cred == nil || p.S.Users == nil {
			return nil, errors.New("nginx's worker user is unknown")
		}
		user, group := p.S.Users.UserName(cred.UID), p.S.Users.GroupName(cred.GID)
		if user == "" || user == strconv.Itoa(cred.UID) {
			return nil, fmt.Errorf("uid %d has no name php-fpm could use", cred.UID)
		}
		a := &Action{Ops: []Op{{Kind: FPMRestart, FPM: pl.FPM}}, Checks: guardedPoolChecks(pl)}
		a.Why = "listen.* apply only when php-fpm creates the socket, so php-fpm is restarted (a reload keeps the old socket)"
		if st := pl.Pool.Get("listen.acl_users"); st != nil || pl.Pool.Get("listen.acl_groups") != nil {
			val := user
			if st != nil && strings.TrimSpace(st.Value) != "" {
				val = strings.TrimSpace(st.Value) + "," + user
			}
			e, err := p.FPMSet(pl, "listen.acl_users", val)
			if err != nil {
				return nil, err
			}
			a.Edits = append(a.Edits, e)
			a.Summary = fmt.Sprintf("add %s to listen.acl_users of pool %s", user, pl.Name)
			a.Why = "the pool uses ACLs (php-fpm then ignores listen.owner/group); " + a.Why
			return a, nil
		}
		for _, kv := range [][2]string{{"listen.owner", user}, {"listen.group", group}} {
			if st := pl.Pool.Get(kv[0]); st != nil && st.Value == kv[1] {
				continue
			}
			e, err := p.FPMSet(pl, kv[0], kv[1])
			if err != nil {
				return nil, err
			}
			a.Edits = append(a.Edits, e)
		}
		if st := pl.Pool.Get("listen.mode"); st != nil {
			m, err := strconv.ParseUint(strings.TrimSpace(st.Value), 8, 32)
			if err != nil || m&0o660 != 0o660 {
				e, err := p.FPMSet(pl, "listen.mode", fmt.Sprintf("0%o", (m|0o660)&0o777))
				if err != nil {
					return nil, err
				}
				a.Edits = append(a.Edits, e)
			}
		}
		if len(a.Edits) == 0 {
			return nil, errors.New("the pool's settings already give nginx access: the socket is from an older config (config-not-applied)")
		}
		a.Summary = fmt.Sprintf("give %s:%s the socket of pool %s (listen.owner/group), then restart php-fpm", user, group, pl.Name)
		return a, nil
	},
}

// directoryGrant lets nginx's worker user search the directory that
// blocks its way to the socket, with a named ACL entry (u:USER:x): no
// mode bit changes, no other user gains anything, and the rollback puts
// the old ACL back exactly. Directories packages own are refused.
func directoryGrant(p *Planner, f report.Finding) (*Action, error) {
	if err := p.requireLive(); err != nil {
		return nil, err
	}
	site, err := p.site(f)
	if err != nil {
		return nil, err
	}
	cred := site.Nginx.Cred
	if cred == nil || p.S.Users == nil {
		return nil, errors.New("nginx's worker user is unknown")
	}
	user := p.S.Users.UserName(cred.UID)
	for _, t := range site.Targets {
		if t.Kind != nginxconf.TargetUnix || !t.Socket.Exists {
			continue
		}
		// Every directory on the way that denies search, not only the
		// first (a second one would fail the verification and, rolled
		// back, hide behind the first again on every run).
		var grants []Grant
		var why []string
		resolved := host.ResolveSocket(p.S.Host, t.Path)
		for dir := filepath.Dir(resolved); ; dir = filepath.Dir(dir) {
			fi := p.S.Host.Stat(dir)
			if fi.Exists {
				if ok, reason := host.Allowed(fi, *cred, 1); !ok {
					if owned := packageOwned(dir); owned != "" {
						return nil, fmt.Errorf("%s; move the socket to a directory of its own (e.g. listen = /run/php/NAME.sock) instead", owned)
					}
					grants = append([]Grant{{Dir: dir, UID: cred.UID, User: user}}, grants...)
					why = append([]string{dir + " (" + reason + ")"}, why...)
				}
			}
			if dir == "/" {
				break
			}
		}
		if len(grants) == 0 {
			continue
		}
		if cred.UID == 0 {
			return nil, errors.New("nginx's workers run as root: a permission problem there is not an ACL's to fix")
		}
		var dirs, cmds []string
		for _, g := range grants {
			dirs, cmds = append(dirs, g.Dir), append(cmds, g.Command())
		}
		a := &Action{
			Summary: fmt.Sprintf("let %s search %s: ACL entry u:%s:x (%s)", user, strings.Join(dirs, ", "), user, strings.Join(cmds, "; ")),
			Why: fmt.Sprintf("connect() needs search on every directory above the socket and %s denies %s. "+
				"One named ACL entry per directory grants exactly that to exactly that user: no mode bit and no other user changes (chmod o+x would open it to everyone). "+
				"It takes effect at once, so nothing is reloaded; the rollback restores each directory's ACL and mode exactly", strings.Join(why, ", "), user),
			Grants: grants,
			Checks: []Check{{Site: site, Pool: t.Pool}},
		}
		return a, nil
	}
	return nil, errors.New("no directory above the site's socket blocks nginx now; " + NextStep(f))
}
