// Package rootfs maps a host's paths into an offline copy of the host
// (--root) with chroot semantics: symlinks are resolved inside the root,
// absolute targets re-rooted and ".." clamped at it, so that nothing
// outside the root is ever read, whatever links the copy holds. The copy
// may come from anywhere (a repository, an archive): it is not trusted.
package rootfs

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// maxHops is the kernel's limit on symlinks in one lookup (MAXSYMLINKS).
const maxHops = 40

// Resolve returns the path under root that the host path p names. A
// missing component is left for the caller's open or stat to report. With
// root "" it returns p unchanged.
func Resolve(root, p string) (string, error) {
	if root == "" {
		return p, nil
	}
	pending := strings.Split(p, "/")
	cur := "/"
	hops := 0
	for len(pending) > 0 {
		name := pending[0]
		pending = pending[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, name)
		under := filepath.Join(root, filepath.FromSlash(next))
		fi, err := os.Lstat(under)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > maxHops {
			return "", &fs.PathError{Op: "resolve", Path: p, Err: syscall.ELOOP}
		}
		target, err := os.Readlink(under)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	return filepath.Join(root, filepath.FromSlash(cur)), nil
}
