package repo

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf16"

	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// Open reads repository dir as the server would: dir/fpmdoctor.yaml
// (strict: errors at file:line) and the tree its mappings and the flags'
// build (see Tree). It is the one reading of a repository that check and
// lab share, so both resolve includes, links and sockets alike.
func Open(dir, root string, flags []Mapping) (*Config, rootfs.Tree, error) {
	if dir == "" {
		dir = "."
	}
	cfg, err := Load(dir)
	if err != nil {
		return nil, rootfs.Tree{}, err
	}
	t, err := Tree(dir, root, cfg, flags)
	if err != nil {
		return nil, rootfs.Tree{}, err
	}
	return cfg, t, nil
}

// Tree builds the offline host of repository dir: root (a --root flag,
// relative to the working directory) or the config's root (relative to
// dir) or dir itself, with the config's mappings and then the flags'
// mounted over it. A flag mapping the same host path as the config wins.
func Tree(dir, root string, c *Config, flags []Mapping) (rootfs.Tree, error) {
	adir, err := filepath.Abs(dir)
	if err != nil {
		return rootfs.Tree{}, fmt.Errorf("repository %s: %w", dir, err)
	}
	if fi, err := os.Stat(adir); err != nil {
		return rootfs.Tree{}, fmt.Errorf("repository: %w", err)
	} else if !fi.IsDir() {
		return rootfs.Tree{}, fmt.Errorf("repository %s: not a directory", dir)
	}
	t := rootfs.Tree{Root: adir}
	switch {
	case root != "":
		if t.Root, err = filepath.Abs(root); err != nil {
			return rootfs.Tree{}, fmt.Errorf("--root %s: %w", root, err)
		}
	case c.Root != "":
		t.Root = filepath.Join(adir, c.Root)
	}
	if fi, err := os.Stat(t.Root); err != nil {
		return rootfs.Tree{}, fmt.Errorf("offline root: %w", err)
	} else if !fi.IsDir() {
		return rootfs.Tree{}, fmt.Errorf("offline root %s: not a directory", t.Root)
	}
	byHost := map[string]int{}
	for _, m := range append(append([]Mapping(nil), c.Map...), flags...) {
		mt, err := mount(adir, m)
		if err != nil {
			return rootfs.Tree{}, err
		}
		if i, ok := byHost[mt.Host]; ok {
			t.Mounts[i] = mt
			continue
		}
		byHost[mt.Host] = len(t.Mounts)
		t.Mounts = append(t.Mounts, mt)
	}
	return t, nil
}

func mount(dir string, m Mapping) (rootfs.Mount, error) {
	where := m.File
	if m.Line > 0 {
		where = fmt.Sprintf("%s:%d", m.File, m.Line)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: map %s: %s", where, m.Repo, fmt.Sprintf(format, args...))
	}
	host := path.Clean(m.Host)
	if !path.IsAbs(m.Host) || host == "/" {
		return rootfs.Mount{}, fail("host path %q: want an absolute directory other than /, like /etc/nginx (use --root for a tree laid out like /)", m.Host)
	}
	if filepath.IsAbs(m.Repo) {
		return rootfs.Mount{}, fail("want a directory relative to the repository")
	}
	local := filepath.Join(dir, m.Repo)
	if rel, err := filepath.Rel(dir, local); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return rootfs.Mount{}, fail("leaves the repository")
	}
	fi, err := os.Stat(local)
	if err != nil {
		return rootfs.Mount{}, fail("no such directory in the repository")
	}
	if !fi.IsDir() {
		return rootfs.Mount{}, fail("not a directory")
	}
	return rootfs.Mount{Host: host, Dir: local}, nil
}

// Locator maps the host paths findings carry to files of the repository.
type Locator struct {
	Tree rootfs.Tree
	// Dir is the repository (absolute).
	Dir   string
	lines map[string][]string
}

// NewLocator returns a Locator for repository dir read as t.
func NewLocator(dir string, t rootfs.Tree) (*Locator, error) {
	adir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// Links in the repository's own path (/work → /srv/work) must not
	// make every file look outside it.
	if real, err := filepath.EvalSymlinks(adir); err == nil {
		adir = real
	}
	return &Locator{Tree: t, Dir: adir, lines: map[string][]string{}}, nil
}

// File returns the repository file (relative, slash-separated) that host
// path p reads, links followed: a sites-enabled link gives the file in
// sites-available. ok is false for a file outside the repository.
func (l *Locator) File(p string) (string, bool) {
	local, err := l.Tree.Resolve(p)
	if err != nil {
		return "", false
	}
	if real, err := filepath.EvalSymlinks(local); err == nil {
		// Resolve followed the tree's links; this only undoes links in
		// the repository's own path (Dir is without them too).
		local = real
	}
	rel, err := filepath.Rel(l.Dir, local)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || rel == "." {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// Column returns the 1-based column (UTF-16 code units, SARIF's default)
// where text's first word starts on line of host file p: the directive a
// finding quotes. 0 when the line or the word is not found.
func (l *Locator) Column(p string, line int, text string) int {
	lines, ok := l.lines[p]
	if !ok {
		if local, err := l.Tree.Resolve(p); err == nil {
			if data, err := os.ReadFile(local); err == nil {
				lines = strings.Split(string(data), "\n")
			}
		}
		l.lines[p] = lines
	}
	if line < 1 || line > len(lines) {
		return 0
	}
	src := lines[line-1]
	word, _, _ := strings.Cut(strings.TrimSpace(text), " ")
	i := -1
	if word != "" {
		i = strings.Index(src, word)
	}
	if i < 0 {
		i = len(src) - len(strings.TrimLeft(src, " \t"))
	}
	return len(utf16.Encode([]rune(src[:i]))) + 1
}
