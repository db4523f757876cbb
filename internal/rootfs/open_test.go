package rootfs

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// Tree.Open opens what Resolve names: on random trees of directories,
// files and links (relative, absolute, climbing past the root, with ".."
// in the middle, dangling, looping, through a mount), every path opens the
// same local file with the same content, or fails with the same error, as
// the cached Resolve followed by os.Open that it replaces, and as the
// uncached Resolve.
func TestOpenMatchesResolve(t *testing.T) {
	loops, throughLinks, missing := 0, 0, 0
	for trial := range uint64(30) {
		rng := rand.New(rand.NewPCG(trial, 11))
		root, repo, deep := t.TempDir(), t.TempDir(), t.TempDir()
		// The second mount lies in directories the root lacks: they are
		// missing, yet the mount and what is in it exist.
		tr := Tree{Root: root, Mounts: []Mount{{Host: "/etc/nginx", Dir: repo}, {Host: "/opt/deep/mnt", Dir: deep}}}
		if err := os.WriteFile(filepath.Join(deep, "f"), []byte("deep"), 0o644); err != nil {
			t.Fatal(err)
		}
		dirs := []string{"/", "/etc", "/etc/nginx", "/etc/nginx/a", "/etc/nginx/b", "/etc/nginx/a/c", "/srv", "/srv/x"}
		var hostPaths []string
		for _, d := range dirs {
			if local := tr.local(d); d != "/" {
				if err := os.MkdirAll(local, 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}
		pick := func() string { return dirs[rng.IntN(len(dirs))] }
		for i := range 12 {
			p := path.Join(pick(), fmt.Sprintf("f%d", i))
			if err := os.WriteFile(tr.local(p), []byte(p), 0o644); err != nil {
				t.Fatal(err)
			}
			hostPaths = append(hostPaths, p)
		}
		var names []string // link names, as targets of other links
		for i := range 16 {
			dir := pick()
			at := path.Join(dir, fmt.Sprintf("l%d", i))
			var target string
			switch rng.IntN(8) {
			case 0: // absolute, to a file or a directory
				target = hostPaths[rng.IntN(len(hostPaths))]
				if rng.IntN(2) == 0 {
					target = pick()
				}
			case 1: // relative, climbing first
				rel, _ := filepath.Rel(dir, hostPaths[rng.IntN(len(hostPaths))])
				target = rel
			case 2: // climbing past the root
				target = "../../../../../.." + hostPaths[rng.IntN(len(hostPaths))]
			case 3: // ".." after a name, maybe a link's
				target = fmt.Sprintf("../%s/..%s", path.Base(pick()), hostPaths[rng.IntN(len(hostPaths))])
				if len(names) > 0 && rng.IntN(2) == 0 {
					target = names[rng.IntN(len(names))] + "/.." + hostPaths[rng.IntN(len(hostPaths))]
				}
			case 4: // through a link, maybe a looping one
				if len(names) > 0 && rng.IntN(2) == 0 {
					target = names[rng.IntN(len(names))] + "/f1"
					break
				}
				target = "missing/f"
			case 7: // dangling
				target = "missing/f"
			case 5: // to another link (maybe a loop)
				if len(names) > 0 {
					target = names[rng.IntN(len(names))]
				} else {
					target = at
				}
			default: // to itself
				target = path.Base(at)
			}
			if err := os.Symlink(target, tr.local(at)); err != nil {
				t.Fatal(err)
			}
			names = append(names, at)
			hostPaths = append(hostPaths, at)
		}
		// Paths through linked directories too, and missing ones.
		for _, l := range names {
			for _, f := range []string{"f0", "f3", "x"} {
				hostPaths = append(hostPaths, l+"/"+f)
			}
		}
		hostPaths = append(hostPaths, "/", "/etc/nginx", "/missing/f", "/etc/nginx/a/../b/f1",
			"/run/php/a.sock", "/run/php/b.sock", "/opt/deep/f", "/opt/deep/mnt", "/opt/deep/mnt/f", "/opt/deep/mnt/g", "/etc/nginx/f0/x")
		cached := tr.WithCache()
		opened := tr.WithCache()
		if trial%2 == 1 {
			// Listed first, as include sites-enabled/* lists before it
			// opens: the links the listing shows are read without an open.
			for _, d := range append(dirs, names...) {
				opened.ReadDir(d)
			}
			if len(opened.dirs.links) == 0 {
				t.Fatalf("trial %d: the listings showed no links", trial)
			}
		}
		for _, p := range hostPaths {
			want := openOld(cached, p)
			if got := openNew(opened, p); got != want {
				t.Errorf("trial %d: Open(%q) = %s\nwant (cached Resolve, os.Open) %s", trial, p, got, want)
			}
			// Uncached, a loop names the whole path, cached the
			// directory that loops: both ELOOP.
			loop := "error resolve "
			if plain := openOld(tr, p); plain != want && !(strings.HasPrefix(plain, loop) && strings.HasPrefix(want, loop)) {
				t.Errorf("trial %d: %q: uncached Resolve %s, cached %s", trial, p, plain, want)
			}
			// Missing answers from the cache only that p cannot exist.
			if cached.Missing(p) {
				missing++
				local, err := cached.Resolve(p)
				if _, serr := os.Lstat(local); err != nil || !errors.Is(serr, syscall.ENOENT) && !errors.Is(serr, syscall.ENOTDIR) {
					t.Errorf("trial %d: Missing(%q) but %s: %v", trial, p, local, serr)
				}
			}
			if strings.HasPrefix(want, loop) {
				loops++
			} else if !strings.HasPrefix(want, "error") && (slices.Contains(names, path.Dir(p)) || slices.Contains(names, p)) {
				throughLinks++
			}
		}
	}
	t.Logf("%d loops, %d paths opened through links, %d known missing", loops, throughLinks, missing)
	if loops == 0 || throughLinks < 100 || missing < 60 {
		t.Errorf("the random trees had %d loops, %d paths opened through links, %d known missing: too few to compare", loops, throughLinks, missing)
	}
}

func openOld(tr Tree, p string) string {
	local, err := tr.Resolve(p)
	if err != nil {
		return "error " + err.Error()
	}
	f, err := os.Open(local)
	if err != nil {
		return "error " + err.Error()
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "error " + err.Error()
	}
	if fi.IsDir() {
		return "directory " + f.Name()
	}
	b, err := io.ReadAll(f)
	return fmt.Sprintf("%s: %q %v", f.Name(), b, err)
}

func openNew(tr Tree, p string) string {
	f, err := tr.Open(p)
	if err != nil {
		return "error " + err.Error()
	}
	defer f.Close()
	_, mode, err := f.Stat()
	if err != nil {
		return "error " + err.Error()
	}
	if mode.IsDir() {
		return "directory " + f.Name()
	}
	b, err := io.ReadAll(f)
	return fmt.Sprintf("%s: %q %v", f.Name(), b, err)
}

// A chain of links is followed as far as the kernel would (40 links, its
// MAXSYMLINKS) and no further, by Open as by Resolve.
func TestOpenLinkLimit(t *testing.T) {
	for _, n := range []int{maxHops - 1, maxHops, maxHops + 1} {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "f"), []byte("end"), 0o644); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			target := fmt.Sprintf("l%d", i+1)
			if i == n-1 {
				target = "f"
			}
			if i%2 == 1 {
				target = "/" + target // absolute and relative alternate
			}
			if err := os.Symlink(target, filepath.Join(root, fmt.Sprintf("l%d", i))); err != nil {
				t.Fatal(err)
			}
		}
		tr := Tree{Root: root}.WithCache()
		want := openOld(tr, "/l0")
		if got := openNew(tr, "/l0"); got != want {
			t.Errorf("%d links: Open = %s, Resolve %s", n, got, want)
		}
		if fails := strings.HasPrefix(want, "error"); fails != (n > maxHops) {
			t.Errorf("%d links: %s", n, want)
		}
	}
}

// The shortcuts that skip cleaning answer as path.Clean and filepath.Join
// would, on every path made of "/", ".", "..", "a" and "bc" up to six
// pieces long.
func TestCleanShortcuts(t *testing.T) {
	pieces := []string{"/", ".", "..", "a", "bc"}
	paths := []string{""}
	for range 6 {
		for _, p := range paths {
			for _, q := range pieces {
				paths = append(paths, p+q)
			}
		}
		paths = slices.Compact(slices.Sorted(slices.Values(paths)))
	}
	for _, p := range paths {
		if got, want := isCleanAbs(p), path.IsAbs(p) && path.Clean(p) == p; got != want {
			t.Errorf("isCleanAbs(%q) = %v, want %v", p, got, want)
		}
		if got, want := cleanAbs(p), path.Clean("/"+p); got != want {
			t.Errorf("cleanAbs(%q) = %q, want %q", p, got, want)
		}
		if i := strings.LastIndexByte(p, '/'); i >= 0 && isCleanAbs(p[:max(i, 1)]) {
			for _, name := range []string{p[i+1:], "x", ".", "..", ""} {
				if got, want := child(p[:max(i, 1)], name), path.Join(p[:max(i, 1)], name); got != want {
					t.Errorf("child(%q, %q) = %q, want %q", p[:max(i, 1)], name, got, want)
				}
			}
		}
		for _, dir := range []string{"/", "/srv/repo", "/srv/repo/", "rel", "/a/../b"} {
			if p != "" && !path.IsAbs(p) {
				continue // the rest of a host path is "" or absolute
			}
			if got, want := under(dir, p), filepath.Join(dir, p); got != want {
				t.Errorf("under(%q, %q) = %q, want %q", dir, p, got, want)
			}
		}
	}
}
