package fix

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// TestGrantACLMatchesSetfacl: the ACL fix writes is byte for byte the
// one `setfacl -m u:UID:x` writes (u:UID:rx when the entry had r already:
// fix only adds), for a directory without an ACL and for
// one that has entries already (named user and group, a mask that must
// grow); and restoring puts back the exact xattr and mode.
func TestGrantACLMatchesSetfacl(t *testing.T) {
	setfacl, err := exec.LookPath("setfacl")
	if err != nil {
		lab.Unavailable(t, "setfacl is missing (package acl)")
	}
	for _, c := range []struct {
		name  string
		mode  os.FileMode
		setup []string // setfacl -m specs applied first
		same  string   // the setfacl spec fix's grant equals ("": u:33:x)
	}{
		{"no ACL", 0o750, nil, ""},
		{"no ACL, 0700", 0o700, nil, ""},
		{"named entries", 0o750, []string{"u:65534:rw", "g:65534:r"}, ""},
		// fix adds x and takes nothing away: setfacl -m u:33:x would drop r.
		{"entry for the user already", 0o700, []string{"u:33:r"}, "u:33:rx"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dirs := [2]string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
			for _, d := range dirs {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(d, c.mode); err != nil {
					t.Fatal(err)
				}
				for _, spec := range c.setup {
					if out, err := exec.Command(setfacl, "-m", spec, d).CombinedOutput(); err != nil {
						lab.Unavailable(t, fmt.Sprintf("setfacl on %s: %v %s (file system without ACLs?)", d, err, out))
					}
				}
			}
			gc, err := planGrant(Grant{Dir: dirs[0], UID: 33, User: "www-data"})
			if err != nil {
				t.Fatal(err)
			}
			spec := c.same
			if spec == "" {
				spec = "u:33:x"
			}
			if out, err := exec.Command(setfacl, "-m", spec, dirs[1]).CombinedOutput(); err != nil {
				t.Fatalf("setfacl: %v %s", err, out)
			}
			want, _ := readACLXattr(dirs[1])
			if !bytes.Equal(gc.New, want) {
				t.Fatalf("fix would write %s, setfacl wrote %s", aclText(gc.New, 0), aclText(want, 0))
			}
			j := JournalACL{Dir: dirs[0], Mode: gc.Mode, Orig: gc.Orig, New: gc.New, Done: true}
			if err := applyGrant(j); err != nil {
				t.Fatal(err)
			}
			st0, _ := os.Stat(dirs[0])
			st1, _ := os.Stat(dirs[1])
			if st0.Mode() != st1.Mode() {
				t.Fatalf("mode after the grant %v, setfacl's %v", st0.Mode(), st1.Mode())
			}
			if err := restoreGrant(j); err != nil {
				t.Fatal(err)
			}
			after, _ := readACLXattr(dirs[0])
			st, _ := os.Stat(dirs[0])
			if !bytes.Equal(after, gc.Orig) || st.Mode().Perm() != gc.Mode {
				t.Fatalf("after restore: ACL %s mode %v, want %s %v", aclText(after, 0), st.Mode(), aclText(gc.Orig, gc.Mode), gc.Mode)
			}
		})
	}
}

// TestPackageOwned: fix refuses the directories packages own and says
// why; a site's own directory is allowed.
func TestPackageOwned(t *testing.T) {
	for _, d := range []string{"/", "/run", "/run/", "/var/run", "/tmp", "/var/lib", "/var", "/usr", "/etc", "/home", "/run/php", "/usr/local/lib", "/etc/nginx"} {
		if why := packageOwned(d); why == "" || !strings.Contains(why, "package") {
			t.Errorf("%s: %q", d, why)
		}
	}
	for _, d := range []string{"/home/site", "/srv/shop/run", "/var/www/shop/sockets", "/tmp/fpmlab-1/run/private"} {
		if why := packageOwned(d); why != "" {
			t.Errorf("%s refused: %s", d, why)
		}
	}
}

// FuzzGrantACL: any xattr value either is refused or yields an ACL that
// decodes again, holds the grant (u:33 with x, a mask with x) and never
// panics.
func FuzzGrantACL(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 4, 0, 5, 0, 255, 255, 255, 255, 32, 0, 0, 0, 255, 255, 255, 255}, uint16(0o750))
	f.Add([]byte{}, uint16(0o700))
	f.Add([]byte{2, 0, 0, 0}, uint16(0))
	f.Add([]byte{1, 0, 0, 0, 1, 0, 7, 0}, uint16(0o755))
	f.Fuzz(func(t *testing.T, b []byte, mode uint16) {
		var orig []byte
		if len(b) > 0 {
			orig = b
		}
		out, err := grantACL(orig, os.FileMode(mode&0o777), 33)
		if err != nil {
			return
		}
		es, err := decodeACL(out)
		if err != nil {
			t.Fatalf("grant wrote an ACL it cannot read: %v", err)
		}
		user, mask := false, false
		for _, e := range es {
			user = user || e.tag == aclUser && e.id == 33 && e.perm&1 != 0
			mask = mask || e.tag == aclMask && e.perm&1 != 0
		}
		if !user || !mask {
			t.Fatalf("no effective grant in %s", aclText(out, 0))
		}
	})
}
