// Package ident answers who a user or a process is: the user and group
// database (/etc/passwd, /etc/group) and the credentials of running nginx
// workers. It is a leaf package (standard library only) so the commands that
// must start fast, such as fpmdoctor-probe, can use it without pulling in
// the rest of internal/host.
package ident

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Users is the user and group database (/etc/passwd, /etc/group).
type Users struct {
	byName map[string]User
	byUID  map[int]User
	groups map[string]Group
	byGID  map[int]Group
}

// User is a passwd entry.
type User struct {
	Name string
	UID  int
	GID  int
}

// Group is a group entry.
type Group struct {
	Name    string
	GID     int
	Members []string
}

// LoadUsers reads a passwd and a group file.
func LoadUsers(passwd, group string) (*Users, error) {
	u := &Users{byName: map[string]User{}, byUID: map[int]User{}, groups: map[string]Group{}, byGID: map[int]Group{}}
	if err := eachLine(passwd, func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return
		}
		usr := User{Name: f[0], UID: uid, GID: gid}
		if _, dup := u.byName[usr.Name]; !dup {
			u.byName[usr.Name] = usr
		}
		if _, dup := u.byUID[uid]; !dup {
			u.byUID[uid] = usr
		}
	}); err != nil {
		return u, err
	}
	err := eachLine(group, func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			return
		}
		g := Group{Name: f[0], GID: gid}
		if len(f) > 3 && f[3] != "" {
			g.Members = strings.Split(f[3], ",")
		}
		if _, dup := u.groups[g.Name]; !dup {
			u.groups[g.Name] = g
		}
		if _, dup := u.byGID[gid]; !dup {
			u.byGID[gid] = g
		}
	})
	return u, err
}

func eachLine(path string, fn func([]string)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read user database: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fn(strings.Split(line, ":"))
	}
	return sc.Err()
}

// Lookup finds a user by name.
func (u *Users) Lookup(name string) (User, bool) {
	usr, ok := u.byName[name]
	return usr, ok
}

// LookupID finds a user by uid.
func (u *Users) LookupID(uid int) (User, bool) {
	usr, ok := u.byUID[uid]
	return usr, ok
}

// LookupGroup finds a group by name.
func (u *Users) LookupGroup(name string) (Group, bool) {
	g, ok := u.groups[name]
	return g, ok
}

// UserName is the name of uid, or the number when unknown.
func (u *Users) UserName(uid int) string {
	if u != nil {
		if usr, ok := u.byUID[uid]; ok {
			return usr.Name
		}
	}
	return strconv.Itoa(uid)
}

// GroupName is the name of gid, or the number when unknown.
func (u *Users) GroupName(gid int) string {
	if u != nil {
		if g, ok := u.byGID[gid]; ok {
			return g.Name
		}
	}
	return strconv.Itoa(gid)
}

// CredFor is what initgroups(3) gives a process that switches to user with
// primary group gid: gid plus every group listing the user as a member (the
// passwd entry's own gid is not added unless it is gid).
func (u *Users) CredFor(usr User, gid int) Cred {
	c := Cred{UID: usr.UID, GID: gid}
	for _, g := range u.byGID {
		if g.GID == gid {
			continue
		}
		for _, m := range g.Members {
			if m == usr.Name {
				c.Groups = append(c.Groups, g.GID)
				break
			}
		}
	}
	return c
}

// DescribeCred formats credentials: "www-data (uid 33, groups www-data,web)".
func (u *Users) DescribeCred(c Cred) string {
	names := []string{u.GroupName(c.GID)}
	for _, g := range c.Groups {
		if g != c.GID {
			names = append(names, u.GroupName(g))
		}
	}
	return fmt.Sprintf("%s (uid %d, groups %s)", u.UserName(c.UID), c.UID, strings.Join(names, ","))
}

// Cred is a process's credentials as the kernel checks them.
type Cred struct {
	UID    int
	GID    int
	Groups []int
}

// InGroup reports whether c carries gid, as primary or supplementary group.
func (c Cred) InGroup(gid int) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}
