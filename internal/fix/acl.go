package fix

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// aclXattr is where Linux keeps a file's POSIX access ACL; internal/host
// reads it there too (no getfacl/setfacl needed, and the same encoding).
const aclXattr = "system.posix_acl_access"

// ACL tags and the id of unnamed entries, from <linux/posix_acl.h> and
// <linux/posix_acl_xattr.h>.
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20

	aclUndefinedID = 0xffffffff
	aclVersion     = 2
)

// Grant gives one user search (x) on one directory through a named ACL
// entry, the way `setfacl -m u:USER:x DIR` does: nothing else about the
// directory changes, and no other user gains anything.
type Grant struct {
	Dir  string
	UID  int
	User string
}

// GrantChange is a grant as planned: the directory's ACL and mode when
// the plan read them, and the ACL written.
type GrantChange struct {
	Grant
	Mode fs.FileMode // permission bits before
	Orig []byte      // the xattr before; nil when the directory had no ACL
	New  []byte
}

// Command is the equivalent command line, shown in the plan.
func (g Grant) Command() string {
	return shellJoin([]string{"setfacl", "-m", "u:" + g.User + ":x", g.Dir})
}

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

func decodeACL(b []byte) ([]aclEntry, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 || binary.LittleEndian.Uint32(b) != aclVersion {
		return nil, errors.New("not a version 2 POSIX ACL")
	}
	var out []aclEntry
	for p := 4; p < len(b); p += 8 {
		out = append(out, aclEntry{binary.LittleEndian.Uint16(b[p:]), binary.LittleEndian.Uint16(b[p+2:]), binary.LittleEndian.Uint32(b[p+4:])})
	}
	return out, nil
}

// encodeACL writes entries in the order the kernel requires (it refuses
// others with EINVAL): by tag, named entries by id.
func encodeACL(es []aclEntry) []byte {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].tag != es[j].tag {
			return es[i].tag < es[j].tag
		}
		return es[i].id < es[j].id
	})
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range es {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// grantACL is the ACL orig (nil: the one the mode bits describe) with
// uid given x: its entry is added or gains x, and the mask becomes the
// union of the group class (what setfacl -m computes), so the grant is
// effective and the owning group's effective rights stay what its entry
// says.
func grantACL(orig []byte, mode fs.FileMode, uid int) ([]byte, error) {
	var es []aclEntry
	if orig == nil {
		m := uint16(mode.Perm())
		es = []aclEntry{{aclUserObj, m >> 6 & 7, aclUndefinedID}, {aclGroupObj, m >> 3 & 7, aclUndefinedID}, {aclOther, m & 7, aclUndefinedID}}
	} else {
		var err error
		if es, err = decodeACL(orig); err != nil {
			return nil, err
		}
	}
	found := false
	for i := range es {
		if es[i].tag == aclUser && es[i].id == uint32(uid) {
			es[i].perm |= 1
			found = true
		}
	}
	if !found {
		es = append(es, aclEntry{aclUser, 1, uint32(uid)})
	}
	var mask uint16
	hasMask := false
	for _, e := range es {
		switch e.tag {
		case aclUser, aclGroupObj, aclGroup:
			mask |= e.perm
		case aclMask:
			hasMask = true
		}
	}
	if !hasMask {
		es = append(es, aclEntry{aclMask, 0, aclUndefinedID})
	}
	for i := range es {
		if es[i].tag == aclMask {
			es[i].perm = mask
		}
	}
	return encodeACL(es), nil
}

func readACLXattr(path string) ([]byte, error) {
	buf := make([]byte, 1024)
	for {
		n, err := unix.Getxattr(path, aclXattr, buf)
		switch {
		case errors.Is(err, unix.ENODATA):
			return nil, nil
		case errors.Is(err, unix.ERANGE):
			buf = make([]byte, 2*len(buf))
			continue
		case err != nil:
			return nil, fmt.Errorf("read the ACL of %s: %w", path, err)
		}
		return bytes.Clone(buf[:n]), nil
	}
}

// planGrant reads the directory as it is and computes the ACL to write.
func planGrant(g Grant) (*GrantChange, error) {
	fi, err := os.Stat(g.Dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", g.Dir)
	}
	orig, err := readACLXattr(g.Dir)
	if err != nil {
		return nil, err
	}
	nb, err := grantACL(orig, fi.Mode(), g.UID)
	if err != nil {
		return nil, fmt.Errorf("the ACL of %s: %w", g.Dir, err)
	}
	return &GrantChange{Grant: g, Mode: fi.Mode().Perm(), Orig: orig, New: nb}, nil
}

// unchanged refuses a grant whose directory changed since the plan.
func (g *GrantChange) unchanged() error {
	fi, err := os.Stat(g.Dir)
	if err != nil {
		return err
	}
	cur, err := readACLXattr(g.Dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm() != g.Mode || !bytes.Equal(cur, g.Orig) {
		return fmt.Errorf("refusing to change the ACL of %s: %w (run fix again)", g.Dir, ErrChanged)
	}
	return nil
}

func applyGrant(j JournalACL) error {
	if err := unix.Setxattr(j.Dir, aclXattr, j.New, 0); err != nil {
		return fmt.Errorf("set the ACL of %s: %w", j.Dir, err)
	}
	return nil
}

// restoreGrant puts the directory's ACL back exactly: the old xattr (or
// none) and the old mode bits (setting an ACL rewrites the group bits of
// the mode as the mask; removing it does not put them back).
func restoreGrant(j JournalACL) error {
	var err error
	if j.Orig == nil {
		err = unix.Removexattr(j.Dir, aclXattr)
		if errors.Is(err, unix.ENODATA) {
			err = nil
		}
	} else {
		err = unix.Setxattr(j.Dir, aclXattr, j.Orig, 0)
	}
	if err != nil {
		return fmt.Errorf("restore the ACL of %s: %w", j.Dir, err)
	}
	if err := os.Chmod(j.Dir, j.Mode|modeSpecial(j.Dir)); err != nil {
		return fmt.Errorf("restore the mode of %s: %w", j.Dir, err)
	}
	return nil
}

// modeSpecial keeps setuid/setgid/sticky bits a chmod would clear.
func modeSpecial(path string) fs.FileMode {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Mode() & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

// systemDirs are directories the base system and its packages own: an
// ACL there changes what every service may reach, so fix never sets one.
var systemDirs = []string{"/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/media", "/mnt", "/opt", "/proc", "/root",
	"/run", "/run/php", "/run/user", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/cache", "/var/lib", "/var/lock", "/var/log", "/var/run", "/var/spool", "/var/tmp", "/var/www"}

// packageOwned says why a directory must not get an ACL from fix, "" when
// it may.
func packageOwned(dir string) string {
	dir = filepath.Clean(dir)
	for _, d := range systemDirs {
		if dir == d {
			return dir + " belongs to the base system and its packages: an ACL there would change what every service may reach, and a package update may reset it"
		}
	}
	for _, p := range []string{"/usr/", "/etc/", "/proc/", "/sys/", "/dev/", "/boot/"} {
		if strings.HasPrefix(dir, p) {
			return dir + " is under " + strings.TrimSuffix(p, "/") + ", which packages own"
		}
	}
	return ""
}

// aclText describes an ACL as getfacl would, numerically ("none, mode
// 0750" when the directory has no ACL).
func aclText(b []byte, mode fs.FileMode) string {
	if b == nil {
		return fmt.Sprintf("none, mode %04o", mode.Perm())
	}
	es, err := decodeACL(b)
	if err != nil {
		return "unreadable"
	}
	parts := make([]string, 0, len(es))
	for _, e := range es {
		perm := []byte("---")
		for i, c := range "rwx" {
			if e.perm&(4>>i) != 0 {
				perm[i] = byte(c)
			}
		}
		tag := map[uint16]string{aclUserObj: "user:", aclUser: "user:", aclGroupObj: "group:", aclGroup: "group:", aclMask: "mask:", aclOther: "other:"}[e.tag]
		id := ""
		if e.tag == aclUser || e.tag == aclGroup {
			id = fmt.Sprint(e.id)
		}
		parts = append(parts, tag+id+":"+string(perm))
	}
	return strings.Join(parts, ",")
}
