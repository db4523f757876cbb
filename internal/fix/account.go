package fix

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/fpmconf"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// Account is a system user (or group) a fix creates for a pool whose
// user (group) does not exist.
type Account struct {
	Name  string
	Group bool // a group (groupadd), not a user (useradd)
	// PrimaryGroup is a user's group, created before it by the same run
	// (the pool's group was missing too); "" leaves it to useradd.
	PrimaryGroup string `json:"primary_group,omitempty"`
}

// Args is the command that creates it.
func (a Account) Args() []string {
	if a.Group {
		return []string{"groupadd", "--system", a.Name}
	}
	args := []string{"useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"}
	if a.PrimaryGroup != "" {
		args = append(args, "--gid", a.PrimaryGroup)
	}
	return append(args, a.Name)
}

func (a Account) removeArgs() []string {
	if a.Group {
		return []string{"groupdel", a.Name}
	}
	return []string{"userdel", a.Name}
}

func (a Account) exists() bool {
	if a.Group {
		_, err := user.LookupGroup(a.Name)
		return err == nil
	}
	_, err := user.Lookup(a.Name)
	return err == nil
}

// JournalAccount is an account the run creates; Done is set before the
// command runs, so a killed run removes it too (only if it exists and
// did not before: Existed).
type JournalAccount struct {
	Account
	Existed bool `json:"existed"`
	Done    bool `json:"done"`
}

func runAccountCmd(ctx context.Context, args []string) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", shellJoin(args), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// choice is one way to give a pool an account that exists.
type choice struct {
	text     string
	set      string    // the existing account the setting is changed to
	setGroup string    // the existing group the pool's missing group is changed to
	create   []Account // the accounts created under the names as written
}

// accountChoice repairs "[pool X] cannot get uid for user 'NAME'" (or
// gid for group): php-fpm refuses the whole config. Which account a
// pool's code runs as is the site owner's decision, so fix never guesses:
// it offers the owner of the site's document root (when not root) and a
// new system account under the name as written, and applies the one
// chosen with --choose N (or --choose user=NAME / group=NAME).
func accountChoice(p *Planner, f report.Finding, fp *snapshot.FPM, prob fpmconf.Problem) (*Action, error) {
	pl := fp.PoolNamed(prob.Pool)
	if pl == nil {
		return nil, fmt.Errorf("pool %q not found", prob.Pool)
	}
	key := prob.Directive
	st := pl.Pool.Get(key)
	if st == nil {
		return nil, fmt.Errorf("pool %s sets no %s", pl.Name, key)
	}
	missing := strings.TrimSpace(st.Value)
	isGroup := key == "group"
	// A pool copied from another host often names a user and a group
	// that both do not exist here. php-fpm reports the user first; a
	// repair of the user alone then fails php-fpm -t on the group, so
	// every choice repairs both.
	var groupSt *fpmconf.Setting
	groupMissing := ""
	if !isGroup {
		if g := pl.Pool.Get("group"); g != nil {
			if name := strings.TrimSpace(g.Value); name != "" && !(&Account{Name: name, Group: true}).exists() {
				groupSt, groupMissing = g, name
			}
		}
	}
	var choices []choice
	for _, site := range pl.Sites {
		d := site.Pass.Location
		if d == nil {
			continue
		}
		rd := d.Directive.Inherited("root")
		if rd == nil || strings.Contains(rd.Arg(0), "$") || !strings.HasPrefix(rd.Arg(0), "/") {
			continue
		}
		fi, err := os.Stat(p.hostPath(rd.Arg(0)))
		if err != nil {
			continue
		}
		sys, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		id, name := int(sys.Uid), p.S.Users.UserName(int(sys.Uid))
		if isGroup {
			id, name = int(sys.Gid), p.S.Users.GroupName(int(sys.Gid))
		}
		if id == 0 || name == "" || name == strconv.Itoa(id) {
			continue
		}
		c := choice{text: fmt.Sprintf("set %s = %s in pool %s: the owner of %s, the document root of %s", key, name, pl.Name, rd.Arg(0), site.Name), set: name}
		if groupMissing != "" {
			gname := p.S.Users.GroupName(int(sys.Gid))
			if sys.Gid == 0 || gname == "" || gname == strconv.Itoa(int(sys.Gid)) {
				continue
			}
			c.setGroup = gname
			c.text = fmt.Sprintf("set user = %s and group = %s in pool %s: the owner of %s, the document root of %s", name, gname, pl.Name, rd.Arg(0), site.Name)
		}
		choices = append(choices, c)
		break
	}
	acct := Account{Name: missing, Group: isGroup}
	if validAccountName(missing) && (groupMissing == "" || validAccountName(groupMissing)) { // useradd refuses other names
		c := choice{text: "create the system " + map[bool]string{false: "user", true: "group"}[isGroup] + " " + missing + ": " + shellJoin(acct.Args()), create: []Account{acct}}
		if groupMissing != "" {
			grp := Account{Name: groupMissing, Group: true}
			acct.PrimaryGroup = groupMissing
			c.create = []Account{grp, acct}
			c.text = "create the system group " + groupMissing + " and user " + missing + ": " + shellJoin(grp.Args()) + "; " + shellJoin(acct.Args())
		}
		choices = append(choices, c)
	}
	var picked *choice
	switch c := p.choose; {
	case c == "":
	case strings.HasPrefix(c, key+"="):
		name := strings.TrimPrefix(c, key+"=")
		exists := (&Account{Name: name, Group: isGroup}).exists()
		if !exists {
			return nil, fmt.Errorf("--choose %s: no %s %q on this host", c, key, name)
		}
		picked = &choice{text: fmt.Sprintf("set %s = %s in pool %s (--choose)", key, name, pl.Name), set: name}
		if groupMissing != "" {
			// The chosen user's own group, as a login would have.
			u, err := user.Lookup(name)
			if err != nil {
				return nil, fmt.Errorf("--choose %s: %w", c, err)
			}
			g, err := user.LookupGroupId(u.Gid)
			if err != nil {
				return nil, fmt.Errorf("--choose %s: the group of %s: %w", c, name, err)
			}
			picked.setGroup = g.Name
			picked.text = fmt.Sprintf("set user = %s and group = %s in pool %s (--choose; group %s does not exist either)", name, g.Name, pl.Name, groupMissing)
		}
	default:
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > len(choices) {
			return nil, fmt.Errorf("--choose %q: pool %s's %s has %d choice(s): %s", c, pl.Name, key, len(choices), listChoices(choices, key))
		}
		picked = &choices[n-1]
	}
	if picked == nil {
		return nil, fmt.Errorf("pool %s's %s %q does not exist and which account its code runs as is your choice, so fix does not guess (not even with --yes); choose with --choose: %s", pl.Name, key, missing, listChoices(choices, key))
	}
	a := &Action{Summary: picked.text, Checks: fpmChecks(fp)}
	if picked.set != "" {
		e, err := p.FPMSetting(fp, st, picked.set)
		if err != nil {
			return nil, err
		}
		a.Edits = append(a.Edits, e)
		if picked.setGroup != "" {
			e, err := p.FPMSetting(fp, groupSt, picked.setGroup)
			if err != nil {
				return nil, err
			}
			a.Edits = append(a.Edits, e)
		}
		a.Why = "php-fpm refuses the whole config while the " + key + " does not exist; the chosen account exists"
	} else {
		a.Accounts = picked.create
		a.Why = "php-fpm refuses the whole config while the " + key + " does not exist; a system account (no home, no login shell) under the name the pool already uses changes no file, and the rollback removes it"
	}
	if fp.Running() {
		a.Ops = []Op{{Kind: FPMReload, FPM: fp}}
		a.Checks = noWorse(a.Checks)
	} else if p.S.Live {
		a.Ops = []Op{{Kind: FPMStart, FPM: fp}}
	}
	a.Why += "; php-fpm -t confirms before php-fpm runs it"
	return a, nil
}

func listChoices(cs []choice, key string) string {
	var b strings.Builder
	for i, c := range cs {
		fmt.Fprintf(&b, "%d) %s; ", i+1, c.text)
	}
	b.WriteString(key + "=NAME) set " + key + " to another existing account")
	return b.String()
}

// validAccountName is Debian's default NAME_REGEX for system accounts
// (^[a-z_][-a-z0-9_]*$, at most 32 characters).
func validAccountName(s string) bool {
	if s == "" || len(s) > 32 || !(s[0] == '_' || s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
