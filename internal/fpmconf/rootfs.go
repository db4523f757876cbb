package fpmconf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// rootFS reads host paths, optionally below a root directory. Symlinks are
// followed inside the root so that neither ".." nor a link can leave it.
type rootFS struct{ tree rootfs.Tree }

// resolve maps a host path to the path to open on this machine.
func (r rootFS) resolve(p string) (string, error) {
	return r.tree.Resolve(p)
}

func (r rootFS) stat(p string) (fs.FileInfo, error) {
	rp, err := r.resolve(p)
	if err != nil {
		return nil, err
	}
	return os.Stat(rp)
}

func (r rootFS) isDir(p string) bool {
	fi, err := r.stat(p)
	return err == nil && fi.IsDir()
}

var errFileTooLarge = errors.New("file too large")

// readFile reads at most limit bytes of a regular file.
func (r rootFS) readFile(p string, limit int64) ([]byte, error) {
	f, err := r.tree.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, mode, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !mode.IsRegular() {
		// A FIFO or device would block or never end.
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	// Size the buffer from Stat so that a file is read in one call and one
	// allocation (bytes.Buffer.ReadFrom would grow it once more for its
	// 512-byte minimum read), then read to EOF or to limit+1 bytes.
	data := make([]byte, 0, min(size, limit)+1)
	for int64(len(data)) <= limit {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)] // the file grew
		}
		buf := data[len(data):min(int64(cap(data)), limit+1)]
		n, err := f.Read(buf)
		data = data[:len(data)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if n < len(buf) && int64(len(data)) == size {
			// A short read that ends where fstat said a regular file
			// does is its end (nginx reads st_size bytes and stops too):
			// no read that would return 0, a system call per pool file.
			break
		}
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w (more than %d bytes)", p, errFileTooLarge, limit)
	}
	return data, nil
}

// Results of glob, as glob(3) returns them with GLOB_ERR | GLOB_MARK.
var (
	errGlobNoMatch = errors.New("no match")     // GLOB_NOMATCH (3)
	errGlobAborted = errors.New("glob aborted") // GLOB_ABORTED (2)
)

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// glob expands an absolute host pattern like glob(3): sorted, '*' does not
// match a leading dot, a directory that cannot be read before the first
// wildcard aborts. Directories are returned with a trailing '/' (GLOB_MARK)
// so the caller can skip them as php-fpm does.
func (r rootFS) glob(pattern string, maxResults int) ([]string, error) {
	if !hasMeta(pattern) {
		fi, err := r.stat(pattern)
		if err != nil {
			return nil, errGlobNoMatch
		}
		if fi.IsDir() {
			return []string{strings.TrimSuffix(pattern, "/") + "/"}, nil
		}
		return []string{pattern}, nil
	}
	comps := strings.Split(pattern, "/")
	cands := []string{"/"}
	if !strings.HasPrefix(pattern, "/") {
		cands = []string{""}
	}
	literal := true // no wildcard expanded yet
	// Types of the entries of the last expanded component: for plain files
	// and directories ReadDir already tells what a stat would.
	types := map[string]fs.FileMode{}
	for _, c := range comps {
		if c == "" {
			continue
		}
		var next []string
		clear(types)
		if !hasMeta(c) {
			for _, d := range cands {
				next = append(next, joinHost(d, c))
			}
			cands = next
			continue
		}
		for _, d := range cands {
			ents, err := r.readDir(dirOrDot(d))
			if err != nil {
				if literal {
					return nil, errGlobAborted
				}
				continue
			}
			for _, e := range ents {
				name := e.Name()
				if name[0] == '.' && c[0] != '.' {
					continue
				}
				if ok, _ := filepath.Match(c, name); ok {
					p := joinHost(d, name)
					next = append(next, p)
					types[p] = e.Type()
					if len(next) > maxResults {
						return nil, fmt.Errorf("pattern %s: more than %d matches", pattern, maxResults)
					}
				}
			}
		}
		literal = false
		cands = next
	}
	var out []string
	for _, p := range cands {
		t, known := types[p]
		if !known || t&fs.ModeSymlink != 0 {
			fi, err := r.stat(p)
			if err != nil {
				continue
			}
			t = fi.Mode().Type()
		}
		if t.IsDir() {
			p += "/"
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, errGlobNoMatch
	}
	sort.Strings(out)
	return out, nil
}

// readDir lists a directory; below a root, mounts show in their parents
// (rootfs.Tree.ReadDir).
func (r rootFS) readDir(d string) ([]os.DirEntry, error) {
	if r.tree.Root == "" {
		return os.ReadDir(d)
	}
	return r.tree.ReadDir(d)
}

func joinHost(dir, name string) string {
	if dir == "" {
		return name
	}
	if strings.HasSuffix(dir, "/") {
		return dir + name
	}
	return dir + "/" + name
}

func dirOrDot(d string) string {
	if d == "" {
		return "."
	}
	return d
}
