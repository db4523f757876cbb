package nginxconf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// Options control where files are read from and how much may be read.
// The zero value is usable.
type Options struct {
	// Root, when set, makes every absolute path (the main file, includes,
	// symlink targets) be read under Root, as if Root were "/": an offline
	// copy of a host. Reported paths stay as the host sees them.
	Root string
	// Mounts put directories of a repository where the host has them
	// (rootfs.Tree); they need Root.
	Mounts []rootfs.Mount
	// Limits against hostile or broken input. Zero means the default.
	MaxIncludeDepth int   // nested includes (default 64)
	MaxBlockDepth   int   // nested blocks within one file (default 128)
	MaxFiles        int   // distinct files read (default 100000)
	MaxBytes        int64 // total bytes read (default 1 GiB)
	MaxDirectives   int   // directives in the spliced tree (default 4,000,000)
}

func (o Options) withDefaults() Options {
	if o.MaxIncludeDepth <= 0 {
		o.MaxIncludeDepth = 64
	}
	if o.MaxBlockDepth <= 0 {
		o.MaxBlockDepth = 128
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = 100000
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.MaxDirectives <= 0 {
		o.MaxDirectives = 4000000
	}
	return o
}

// Config is a loaded configuration.
type Config struct {
	// Main is the main file as the host sees it; Prefix is its directory,
	// against which nginx resolves relative include paths (conf_prefix).
	Main, Prefix string
	// Files holds every file read, in the order nginx first opens them
	// (the order of `nginx -T`).
	Files []*File
	// Directives is the top level, with includes spliced in.
	Directives []*Directive
	// Includes lists every include directive as it appears in the spliced
	// tree (an include inside a file included twice appears twice).
	Includes []*Include
	// Problems are errors nginx would report, in the order it would meet
	// them. nginx stops at the first; we go on where we can.
	Problems []Problem

	byPath map[string]*File
}

// File is one file that was read.
type File struct {
	Path string // as the host sees it
	Src  []byte

	dirs     []*Directive // parsed once; spliced at each include (see splice)
	problems []Problem
	spliced  bool
	// orig holds the children of the template blocks whose Block the
	// first splice replaced (includes expanded), for later splices.
	orig map[*Directive][]*Directive
	err  error // reading failed (files read ahead report it when used)
}

// Include is one include directive and what it brought in.
type Include struct {
	Directive *Directive
	// Pattern is the argument made absolute against Config.Prefix.
	Pattern string
	// Files are the files spliced in, in nginx's order.
	Files []string
}

// File returns the file read from path (host view), or nil.
func (c *Config) File(path string) *File { return c.byPath[path] }

// Walk visits every directive of the spliced tree in file order.
func (c *Config) Walk(fn func(*Directive) bool) { Walk(c.Directives, fn) }

// Find returns the top-level directives named name.
func (c *Config) Find(name string) []*Directive { return find(c.Directives, name) }

// Load reads mainFile and everything it includes. The error is non-nil only
// when the main file cannot be read at all (or ctx ends); every other
// problem is in Config.Problems.
func Load(ctx context.Context, mainFile string, opts Options) (*Config, error) {
	return load(ctx, mainFile, opts, true)
}

// load is Load; tests compare splicing in place with copying only.
func load(ctx context.Context, mainFile string, opts Options, inPlace bool) (*Config, error) {
	opts = opts.withDefaults()
	fs := fsys{tree: rootfs.Tree{Root: opts.Root, Mounts: opts.Mounts}.WithCache()}
	if !filepath.IsAbs(mainFile) {
		if opts.Root != "" {
			mainFile = "/" + mainFile
		} else if abs, err := filepath.Abs(mainFile); err == nil {
			mainFile = abs
		}
	}
	mainFile = filepath.Clean(mainFile)
	l := &loader{
		ctx:        ctx,
		opts:       opts,
		fs:         fs,
		globs:      map[string][]string{},
		ahead:      map[string]*aheadFile{},
		copyAlways: !inPlace,
		cfg: &Config{
			Main:   mainFile,
			Prefix: filepath.Dir(mainFile),
			byPath: map[string]*File{},
		},
	}
	f, err := l.file(mainFile)
	if err != nil {
		return nil, fmt.Errorf("read nginx config: %w", err)
	}
	l.stack = append(l.stack, mainFile)
	l.cfg.Directives = l.splice(f, nil, nil, false)
	l.stop.Store(true) // files still ahead were not needed (a limit was hit)
	l.workers.Wait()
	for _, f := range l.cfg.Files {
		// The parsed templates served splicing only; the tree holds
		// copies (sharing their Syntax), so let the templates go.
		f.dirs, f.orig = nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load %s: %w", mainFile, err)
	}
	return l.cfg, nil
}

type loader struct {
	ctx   context.Context
	opts  Options
	fs    fsys
	cfg   *Config
	globs map[string][]string   // pattern → matches, so a snippet's include is globbed once
	ahead map[string]*aheadFile // read and parsed in parallel, not yet used
	bytes int64
	count int      // directives in the spliced tree
	stack []string // include chain, for cycles
	full  bool     // a limit was hit: stop adding

	copyAlways bool // splice copies even the first time (tests)

	workers sync.WaitGroup // readAhead's
	stop    atomic.Bool    // Load is done: readAhead reads no more
}

func (l *loader) problem(file string, line int, format string, args ...any) {
	l.cfg.Problems = append(l.cfg.Problems, Problem{File: file, Line: line, Message: fmt.Sprintf(format, args...)})
}

// file returns the parsed file, reading it the first time only.
func (l *loader) file(path string) (*File, error) {
	if f := l.cfg.byPath[path]; f != nil {
		return f, nil
	}
	if len(l.cfg.Files) >= l.opts.MaxFiles {
		return nil, fmt.Errorf("more than %d files", l.opts.MaxFiles)
	}
	var f *File
	if a, ok := l.ahead[path]; ok {
		delete(l.ahead, path)
		<-a.ready
		f = a.f
	}
	if f == nil {
		f = l.read(path, l.opts.MaxBytes-l.bytes, nil)
	}
	if f.err != nil {
		return nil, f.err
	}
	if l.bytes+int64(len(f.Src)) > l.opts.MaxBytes {
		return nil, fmt.Errorf("%s: configuration larger than the byte limit", path)
	}
	l.bytes += int64(len(f.Src))
	l.cfg.Files = append(l.cfg.Files, f)
	l.cfg.byPath[path] = f
	return f, nil
}

// read reads and parses one file; arena, when not nil, is the lexer's
// scratch space reused from file to file (see parseFileArena).
func (l *loader) read(path string, budget int64, arena *[]Arg) *File {
	src, err := l.fs.readFile(path, budget)
	if err != nil {
		return &File{Path: path, err: err}
	}
	f := &File{Path: path, Src: src}
	f.dirs, f.problems = parseFileArena(path, src, l.opts.MaxBlockDepth, arena)
	return f
}

// readAhead reads and parses the files of a glob in parallel while they
// are spliced in order: a hosting server's sites-enabled/* holds thousands
// of files, and parsing them is independent. Workers take the files in
// order, so splicing (in file) rarely waits for one. It reads no more
// files and bytes than the limits still allow; a file it skips is read
// when spliced, as without reading ahead.
func (l *loader) readAhead(names []string) {
	var todo []string
	for _, name := range names {
		if l.cfg.byPath[name] == nil && l.ahead[name] == nil && !slices.Contains(l.stack, name) {
			todo = append(todo, name)
		}
	}
	todo = todo[:max(0, min(len(todo), l.opts.MaxFiles-len(l.cfg.Files)-len(l.ahead)))]
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	if workers < 2 {
		return
	}
	slots := make([]aheadFile, len(todo))
	for i, name := range todo {
		slots[i].ready = make(chan struct{})
		l.ahead[name] = &slots[i] // workers write only the slot
	}
	var (
		next   atomic.Int64
		used   atomic.Int64
		budget = l.opts.MaxBytes - l.bytes
	)
	for range workers {
		l.workers.Add(1)
		go func() {
			defer l.workers.Done()
			var arena []Arg
			for {
				i := int(next.Add(1) - 1)
				if i >= len(todo) {
					return
				}
				if !l.stop.Load() && l.ctx.Err() == nil && used.Load() <= budget {
					f := l.read(todo[i], budget-used.Load(), &arena)
					used.Add(int64(len(f.Src)))
					slots[i].f = f
				}
				close(slots[i].ready)
			}
		}()
	}
}

// aheadFile is a file being read ahead; f is nil when it was skipped.
type aheadFile struct {
	ready chan struct{} // closed once f is set
	f     *File
}

// splice puts the parsed directives of f under parent, replacing each
// include by the directives of the files it names.
//
// Most files are included once (a site of sites-enabled/*), so the first
// splice uses the parsed directives themselves; later ones (a snippet
// included by every site) copy them, sharing their Syntax. Where the first
// splice replaced a block's children (an include inside it), f.orig keeps
// the parsed ones for the copies.
func (l *loader) splice(f *File, parent *Directive, via *Include, custom bool) []*Directive {
	first := !f.spliced && !l.copyAlways
	if !f.spliced {
		f.spliced = true
		l.cfg.Problems = append(l.cfg.Problems, f.problems...)
	}
	return l.copyTree(f, f.dirs, parent, via, custom, first)
}

// copyTree splices the template directives tmpl of f: in place when
// inPlace (f's first splice), else as copies.
func (l *loader) copyTree(f *File, tmpl []*Directive, parent *Directive, via *Include, custom, inPlace bool) []*Directive {
	var slab []Directive
	if !inPlace {
		slab = make([]Directive, len(tmpl)) // one allocation per block, not per directive
	}
	// node is the directive of the tree for template t.
	node := func(i int, t *Directive) *Directive {
		if inPlace {
			return t
		}
		return &slab[i]
	}
	// Without includes, the first splice keeps the template's own slice.
	reuse := inPlace && !hasInclude(tmpl)
	var out []*Directive
	if !reuse || len(tmpl) == 0 {
		out = make([]*Directive, 0, len(tmpl))
	}
	for i, t := range tmpl {
		if l.full {
			break
		}
		if l.count%4096 == 0 && l.ctx.Err() != nil {
			l.full = true
			break
		}
		if t.Name == "include" && !t.IsBlock {
			inc := &Include{Directive: node(i, t)}
			*inc.Directive = Directive{Syntax: t.Syntax, Parent: parent, Via: via}
			l.cfg.Includes = append(l.cfg.Includes, inc)
			out = append(out, l.include(inc, parent, custom)...)
			continue
		}
		l.count++
		if l.count > l.opts.MaxDirectives {
			l.problem(t.File, t.Line, "more than %d directives in the configuration", l.opts.MaxDirectives)
			l.full = true
			break
		}
		kids := t.Block
		if orig, ok := f.orig[t]; ok {
			kids = orig
		}
		d := node(i, t)
		*d = Directive{Syntax: t.Syntax, Parent: parent, Via: via}
		l.check(d, custom)
		if t.IsBlock {
			if inPlace && hasInclude(kids) {
				if f.orig == nil {
					f.orig = map[*Directive][]*Directive{}
				}
				f.orig[t] = kids
			}
			d.Block = l.copyTree(f, kids, d, via, custom || isCustomBlock(t.Name), inPlace)
		}
		if reuse {
			out = tmpl[: i+1 : i+1]
		} else {
			out = append(out, d)
		}
	}
	return out
}

// hasInclude reports whether an include is among ds (not below them).
func hasInclude(ds []*Directive) bool {
	for _, d := range ds {
		if d.Name == "include" && !d.IsBlock {
			return true
		}
	}
	return false
}

// check reports the block/simple mismatches nginx's ngx_conf_handler
// reports, for the directives whose kind we know.
func (l *loader) check(d *Directive, custom bool) {
	switch {
	case custom && d.IsBlock:
		// Inside map, types, geo… nginx hands lines to the block's own
		// handler, which accepts no nested block.
		l.problem(d.File, d.Line, `unexpected "{"`)
	case custom:
	case !d.IsBlock && isBlockDirective(d.Name) && !(d.Name == "server" && d.Parent != nil && d.Parent.Name == "upstream"):
		l.problem(d.File, d.Line, `directive "%s" has no opening "{"`, d.Name)
	case d.IsBlock && (isSimpleDirective(d.Name) || d.Name == "server" && d.Parent != nil && d.Parent.Name == "upstream"):
		l.problem(d.File, d.Line, `directive "%s" is not terminated by ";"`, d.Name)
	}
}

func (l *loader) include(inc *Include, parent *Directive, custom bool) []*Directive {
	d := inc.Directive
	if len(d.Args) != 1 {
		l.problem(d.File, d.Line, `invalid number of arguments in "include" directive`)
		return nil
	}
	pattern := d.Args[0].Value
	if !strings.HasPrefix(pattern, "/") {
		pattern = l.cfg.Prefix + "/" + pattern
	}
	inc.Pattern = pattern
	var names []string
	if strings.ContainsAny(pattern, "*?[") {
		var ok bool
		if names, ok = l.globs[pattern]; !ok {
			names = l.fs.glob(pattern)
			l.globs[pattern] = names
		}
		l.readAhead(names)
	} else {
		names = []string{pattern}
	}
	var out []*Directive
	for _, name := range names {
		if l.full {
			break
		}
		if err := l.ctx.Err(); err != nil {
			l.full = true
			break
		}
		if i := slices.Index(l.stack, name); i >= 0 {
			chain := append(append([]string(nil), l.stack[i:]...), name)
			l.problem(d.File, d.Line, `include cycle: %s`, strings.Join(chain, " -> "))
			continue
		}
		if len(l.stack) > l.opts.MaxIncludeDepth {
			l.problem(d.File, d.Line, `includes nested deeper than %d levels`, l.opts.MaxIncludeDepth)
			continue
		}
		f, err := l.file(name)
		if err != nil {
			op := "open"
			if pe := (*os.PathError)(nil); errors.As(err, &pe) && pe.Op == "pread" {
				op = "pread"
			}
			l.problem(d.File, d.Line, `%s() "%s" failed %s`, op, name, errnoText(err))
			continue
		}
		inc.Files = append(inc.Files, name)
		l.stack = append(l.stack, name)
		out = append(out, l.splice(f, parent, inc, custom)...)
		l.stack = l.stack[:len(l.stack)-1]
	}
	return out
}

// errnoText renders an error as nginx does: "(2: No such file or directory)".
func errnoText(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg := errno.Error()
		if msg != "" {
			msg = strings.ToUpper(msg[:1]) + msg[1:]
		}
		return fmt.Sprintf("(%d: %s)", int(errno), msg)
	}
	return "(" + err.Error() + ")"
}

// isCustomBlock reports blocks whose contents nginx passes to the block's
// own handler (cf->handler) instead of the directive table: they lex the
// same but hold no nested blocks.
func isCustomBlock(name string) bool {
	switch name {
	case "map", "types", "geo", "split_clients", "charset_map":
		return true
	}
	return false
}

// isBlockDirective reports directives that must open a block
// (NGX_CONF_BLOCK in nginx's tables). "server" is one too, except inside
// upstream; the caller checks that.
func isBlockDirective(name string) bool {
	switch name {
	case "http", "events", "server", "location", "upstream", "if", "map", "types", "geo",
		"split_clients", "limit_except", "mail", "stream", "charset_map":
		return true
	}
	return false
}

// isSimpleDirective reports directives the model interprets that may not
// open a block.
func isSimpleDirective(name string) bool {
	switch name {
	case "include", "user", "pid", "error_log", "listen", "server_name", "root",
		"fastcgi_pass", "fastcgi_param", "fastcgi_read_timeout", "fastcgi_connect_timeout",
		"fastcgi_send_timeout", "fastcgi_buffer_size", "fastcgi_buffers", "fastcgi_next_upstream",
		"worker_processes":
		return true
	}
	return false
}

// fsys reads files of the host, or of an offline copy under root.
type fsys struct{ tree rootfs.Tree }

// real maps a host path to the path to open: under a root, inside it
// (rootfs.Resolve).
func (fs fsys) real(p string) (string, error) {
	return fs.tree.Resolve(p)
}

func (fs fsys) readFile(p string, budget int64) ([]byte, error) {
	fh, err := fs.tree.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	size, mode, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if mode.IsDir() {
		// open(2) succeeds on a directory; nginx fails at the first read.
		return nil, &os.PathError{Op: "pread", Path: p, Err: syscall.EISDIR}
	}
	if budget <= 0 || size > budget {
		return nil, fmt.Errorf("%s: configuration larger than the byte limit", p)
	}
	// Like nginx, read as many bytes as fstat reported: a pipe or a device
	// reads as empty instead of never ending, and a growing file stops.
	src := make([]byte, size)
	if _, err := io.ReadFull(fh, src); err != nil {
		return nil, err
	}
	return src, nil
}

func (fs fsys) readDirNames(p string) []string {
	if len(fs.tree.Mounts) > 0 {
		names, _ := fs.tree.ReadDirNames(p)
		return names
	}
	rp, err := fs.real(p)
	if err != nil {
		return nil
	}
	fh, err := os.Open(rp)
	if err != nil {
		return nil
	}
	defer fh.Close()
	names, _ := fh.Readdirnames(-1)
	return names
}

func (fs fsys) exists(p string) bool {
	if fs.tree.Root == "" {
		_, err := os.Lstat(p)
		return err == nil
	}
	// Under a root the final component may be a symlink pointing anywhere;
	// glob(3) lists it either way, so only the name has to exist.
	dir, name := filepath.Split(p)
	rp, err := fs.real(dir)
	if err != nil {
		return false
	}
	_, err = os.Lstat(filepath.Join(rp, name))
	return err == nil
}
