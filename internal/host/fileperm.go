package host

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fpmdoctor/fpmdoctor/internal/ident"
)

// FileInfo is what the permission and freshness checks need about a path.
type FileInfo struct {
	Path    string // as the host sees it
	Exists  bool
	Err     error // why it could not be read, when it exists but stat failed
	Mode    fs.FileMode
	UID     int
	GID     int
	ModTime time.Time
	ACL     []ACLEntry // POSIX access ACL; nil when the file has none
}

// IsSocket reports whether the path is a unix socket.
func (f FileInfo) IsSocket() bool { return f.Mode&fs.ModeSocket != 0 }

// ACL tags, from <linux/posix_acl.h>.
const (
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
)

// ACLEntry is one entry of a POSIX ACL.
type ACLEntry struct {
	Tag  uint16
	Perm uint16 // rwx bits: 4, 2, 1
	ID   uint32 // uid or gid for named entries
}

func (e ACLEntry) String() string {
	perm := []byte("---")
	if e.Perm&4 != 0 {
		perm[0] = 'r'
	}
	if e.Perm&2 != 0 {
		perm[1] = 'w'
	}
	if e.Perm&1 != 0 {
		perm[2] = 'x'
	}
	switch e.Tag {
	case aclUserObj:
		return "user::" + string(perm)
	case aclUser:
		return fmt.Sprintf("user:%d:%s", e.ID, perm)
	case aclGroupObj:
		return "group::" + string(perm)
	case aclGroup:
		return fmt.Sprintf("group:%d:%s", e.ID, perm)
	case aclMask:
		return "mask::" + string(perm)
	case aclOther:
		return "other::" + string(perm)
	}
	return fmt.Sprintf("tag%d:%d:%s", e.Tag, e.ID, perm)
}

// statPath stats local (where the file is readable here) and reports it
// under the host path name.
func statPath(hostPath, local string) FileInfo {
	fi := FileInfo{Path: hostPath}
	var st unix.Stat_t
	if err := unix.Stat(local, &st); err != nil {
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			fi.Err = fmt.Errorf("stat %s: %w", hostPath, err)
		}
		return fi
	}
	fi.Exists = true
	fi.UID, fi.GID = int(st.Uid), int(st.Gid)
	fi.Mode = fs.FileMode(st.Mode & 0o777)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		fi.Mode |= fs.ModeDir
	case unix.S_IFSOCK:
		fi.Mode |= fs.ModeSocket
	case unix.S_IFLNK:
		fi.Mode |= fs.ModeSymlink
	}
	fi.ModTime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
	fi.ACL = readACL(local)
	return fi
}

// readACL decodes system.posix_acl_access: a 4-byte version (2) then
// 8-byte entries {tag u16, perm u16, id u32}, little-endian.
func readACL(path string) []ACLEntry {
	buf := make([]byte, 512)
	n, err := unix.Getxattr(path, "system.posix_acl_access", buf)
	if err != nil || n < 4 {
		return nil
	}
	return decodeACL(buf[:n])
}

func decodeACL(b []byte) []ACLEntry {
	if len(b) < 4 || binary.LittleEndian.Uint32(b) != 2 {
		return nil
	}
	var out []ACLEntry
	for p := 4; p+8 <= len(b); p += 8 {
		out = append(out, ACLEntry{
			Tag:  binary.LittleEndian.Uint16(b[p:]),
			Perm: binary.LittleEndian.Uint16(b[p+2:]),
			ID:   binary.LittleEndian.Uint32(b[p+4:]),
		})
	}
	return out
}

// Cred is a process's credentials as the kernel checks them.
type Cred = ident.Cred

// Allowed decides, as the kernel's generic permission check does, whether
// cred may access f with the wanted rwx bits (4 read, 2 write, 1 search).
// It returns which rule decided, for the report.
func Allowed(f FileInfo, c Cred, want uint16) (bool, string) {
	if c.UID == 0 {
		// CAP_DAC_OVERRIDE; search on a directory is always granted to root.
		return true, "root bypasses permission bits"
	}
	mode := uint16(f.Mode.Perm())
	if f.ACL == nil {
		switch {
		case c.UID == f.UID:
			return mode>>6&want == want, "owner bits"
		case c.InGroup(f.GID):
			return mode>>3&want == want, "group bits"
		default:
			return mode&want == want, "other bits"
		}
	}
	// POSIX.1e algorithm: owner, named user (masked), groups (masked; any
	// matching entry that grants suffices), other.
	var mask uint16 = 7
	for _, e := range f.ACL {
		if e.Tag == aclMask {
			mask = e.Perm
		}
	}
	for _, e := range f.ACL {
		if e.Tag == aclUserObj && c.UID == f.UID {
			return e.Perm&want == want, "ACL owner entry"
		}
	}
	for _, e := range f.ACL {
		if e.Tag == aclUser && int(e.ID) == c.UID {
			return e.Perm&mask&want == want, "ACL entry " + e.String()
		}
	}
	matched := false
	for _, e := range f.ACL {
		var hit bool
		switch e.Tag {
		case aclGroupObj:
			hit = c.InGroup(f.GID)
		case aclGroup:
			hit = c.InGroup(int(e.ID))
		}
		if hit {
			matched = true
			if e.Perm&mask&want == want {
				return true, "ACL entry " + e.String()
			}
		}
	}
	if matched {
		return false, "ACL group entries (mask " + ACLEntry{Tag: aclMask, Perm: mask}.String() + ")"
	}
	for _, e := range f.ACL {
		if e.Tag == aclOther {
			return e.Perm&want == want, "ACL other entry"
		}
	}
	return false, "ACL has no other entry"
}

// Blocker is the first path element that stops a connect.
type Blocker struct {
	File   FileInfo
	Want   string // "search" or "write"
	Reason string // the rule that decided
}

// ConnectCheck walks every directory above a unix socket and the socket
// itself, as connect(2) does, and returns the first element cred may not
// use, or nil when the connect is allowed. Symlinks in the path are
// resolved first (the resolved path is what the kernel walks in the end).
func ConnectCheck(h Host, socket string, c Cred) (*Blocker, error) {
	resolved := ResolveSocket(h, socket)
	parts := strings.Split(strings.TrimPrefix(resolved, "/"), "/")
	cur := "/"
	for i, part := range parts {
		dir := h.Stat(cur)
		if !dir.Exists {
			return nil, fmt.Errorf("%s does not exist", cur)
		}
		if ok, why := Allowed(dir, c, 1); !ok {
			return &Blocker{File: dir, Want: "search", Reason: why}, nil
		}
		cur = filepath.Join(cur, part)
		if i == len(parts)-1 {
			sock := h.Stat(cur)
			if !sock.Exists {
				return nil, fmt.Errorf("%s does not exist: %w", cur, os.ErrNotExist)
			}
			if ok, why := Allowed(sock, c, 2); !ok {
				return &Blocker{File: sock, Want: "write", Reason: why}, nil
			}
		}
	}
	return nil, nil
}

// Describe formats mode and owner like ls: "0700 root:root".
func Describe(f FileInfo, u *Users) string {
	s := fmt.Sprintf("%04o %s:%s", uint32(f.Mode.Perm()), u.UserName(f.UID), u.GroupName(f.GID))
	if f.ACL != nil {
		parts := make([]string, 0, len(f.ACL))
		for _, e := range f.ACL {
			parts = append(parts, describeACL(u, e))
		}
		s += " acl " + strings.Join(parts, ",")
	}
	return s
}

func describeACL(u *Users, e ACLEntry) string {
	switch e.Tag {
	case aclUser:
		return strings.Replace(e.String(), strconv.Itoa(int(e.ID)), u.UserName(int(e.ID)), 1)
	case aclGroup:
		return strings.Replace(e.String(), strconv.Itoa(int(e.ID)), u.GroupName(int(e.ID)), 1)
	}
	return e.String()
}
