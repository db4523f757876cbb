package host

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

func TestAllowedModeBits(t *testing.T) {
	sock := FileInfo{Exists: true, Mode: fs.ModeSocket | 0o660, UID: 0, GID: 33}
	cases := []struct {
		name string
		cred Cred
		want bool
	}{
		{"root always", Cred{UID: 0, GID: 0}, true},
		{"group member", Cred{UID: 33, GID: 33}, true},
		{"supplementary group", Cred{UID: 1000, GID: 1000, Groups: []int{33}}, true},
		{"other", Cred{UID: 1000, GID: 1000}, false},
	}
	for _, c := range cases {
		if got, why := Allowed(sock, c.cred, 2); got != c.want {
			t.Errorf("%s: Allowed = %v (%s), want %v", c.name, got, why, c.want)
		}
	}
	// Owner bits win even when they are stricter than group bits.
	f := FileInfo{Exists: true, Mode: 0o070, UID: 33, GID: 33}
	if ok, _ := Allowed(f, Cred{UID: 33, GID: 33}, 2); ok {
		t.Error("owner with no owner bits must be denied even if the group grants")
	}
}

func TestAllowedACL(t *testing.T) {
	base := []ACLEntry{{Tag: aclUserObj, Perm: 6}, {Tag: aclGroupObj, Perm: 0}, {Tag: aclOther, Perm: 0}}
	named := append(append([]ACLEntry{}, base...), ACLEntry{Tag: aclUser, Perm: 6, ID: 33}, ACLEntry{Tag: aclMask, Perm: 6})
	f := FileInfo{Exists: true, Mode: fs.ModeSocket | 0o660, UID: 0, GID: 0, ACL: named}
	if ok, why := Allowed(f, Cred{UID: 33, GID: 33}, 2); !ok {
		t.Errorf("named user entry should grant write: %s", why)
	}
	masked := append(append([]ACLEntry{}, base...), ACLEntry{Tag: aclUser, Perm: 6, ID: 33}, ACLEntry{Tag: aclMask, Perm: 4})
	f.ACL = masked
	if ok, _ := Allowed(f, Cred{UID: 33, GID: 33}, 2); ok {
		t.Error("mask r-- must take write away from a named user")
	}
	group := append(append([]ACLEntry{}, base...), ACLEntry{Tag: aclGroup, Perm: 2, ID: 44}, ACLEntry{Tag: aclMask, Perm: 7})
	f.ACL = group
	if ok, why := Allowed(f, Cred{UID: 33, GID: 33, Groups: []int{44}}, 2); !ok {
		t.Errorf("named group entry should grant write: %s", why)
	}
	if ok, _ := Allowed(f, Cred{UID: 34, GID: 34}, 2); ok {
		t.Error("other entry has no write")
	}
}

func TestDecodeACL(t *testing.T) {
	raw := []byte{2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 6, 0, 33, 0, 0, 0}
	got := decodeACL(raw)
	if len(got) != 2 || got[1].Tag != aclUser || got[1].ID != 33 || got[1].Perm != 6 {
		t.Fatalf("decodeACL = %+v", got)
	}
	if decodeACL([]byte{1, 0, 0, 0}) != nil {
		t.Error("unknown version must decode to nil")
	}
}

// TestConnectCheckNamesBlockingDirectory builds a real tree: a private
// directory above the socket must be named as the blocker.
func TestConnectCheckNamesBlockingDirectory(t *testing.T) {
	// Not t.TempDir: its parent is 0700 and would be the blocker.
	dir, err := os.MkdirTemp("", "connectcheck-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	priv := filepath.Join(dir, "private")
	if err := os.Mkdir(priv, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(priv, "x.sock")
	if err := os.WriteFile(sock, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o666); err != nil { // beat the umask
		t.Fatal(err)
	}
	h := New("")
	uid := os.Getuid()
	other := Cred{UID: uid + 12345, GID: 65534}
	b, err := ConnectCheck(h, sock, other)
	if err != nil {
		t.Fatal(err)
	}
	if b == nil || b.File.Path != priv || b.Want != "search" {
		t.Fatalf("blocker = %+v, want search on %s", b, priv)
	}
	if err := os.Chmod(priv, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := ConnectCheck(h, sock, other); err != nil || b != nil {
		t.Fatalf("after chmod 755: blocker %+v, err %v", b, err)
	}
}

func TestParseHexAddr(t *testing.T) {
	ip, port, err := parseHexAddr("0100007F:2328")
	if err != nil || ip.String() != "127.0.0.1" || port != 9000 {
		t.Fatalf("got %v %d %v", ip, port, err)
	}
	ip, port, err = parseHexAddr("00000000000000000000000001000000:2328")
	if err != nil || ip.String() != "::1" || port != 9000 {
		t.Fatalf("got %v %d %v", ip, port, err)
	}
}

// An offline tree cannot lead reads out of it, by ".." or by a symlink:
// the tree may come from anywhere, and a log line read through it ends up
// quoted in the report.
func TestOfflinePathCannotEscapeRoot(t *testing.T) {
	h := New("/srv/snap")
	if got, err := h.Path("/../../etc/passwd"); err != nil || got != "/srv/snap/etc/passwd" {
		t.Fatalf("Path = %s, %v", got, err)
	}

	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.log")
	if err := os.WriteFile(secret, []byte("2026/11/26 10:00:00 [error] 1#1: secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "var/log/nginx"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(root, "var/log/nginx/error.log")); err != nil {
		t.Fatal(err)
	}
	h = New(root)
	got, err := h.Path("/var/log/nginx/error.log")
	if err != nil || got != filepath.Join(root, secret) {
		t.Fatalf("Path of a link to a host file = %s, %v; want %s, inside the tree", got, err, filepath.Join(root, secret))
	}
	if fi := h.Stat("/var/log/nginx/error.log"); fi.Exists {
		t.Fatalf("Stat followed the link out of the tree: %+v", fi)
	}
}

// An offline tree answers Stat of a path in a directory it lacks without
// asking (the sockets of a repository's pools) exactly as a stat would:
// not there, no error; a mount below the missing directory still exists.
func TestOfflineStatInMissingDirectory(t *testing.T) {
	root, mnt := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(mnt, "www.conf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := NewTree(rootfs.Tree{Root: root, Mounts: []rootfs.Mount{{Host: "/etc/php/8.2/fpm", Dir: mnt}}})
	for _, p := range []string{"/run/php/a.sock", "/run/php/b.sock", "/etc/php/x", "/etc/php/8.2/fpm/missing.conf"} {
		local, err := h.Path(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := h.Stat(p), statPath(p, local); !reflect.DeepEqual(got, want) || got.Exists || got.Err != nil {
			t.Errorf("Stat(%s) = %+v, stat says %+v", p, got, want)
		}
	}
	if fi := h.Stat("/etc/php/8.2/fpm/www.conf"); !fi.Exists || fi.Err != nil {
		t.Errorf("a file of a mount under missing directories: %+v", fi)
	}
}
