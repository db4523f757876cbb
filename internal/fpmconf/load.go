package fpmconf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fpmdoctor/fpmdoctor/internal/rootfs"
)

// Load reads the main configuration file and everything it includes. The
// error is non-nil only when the main file cannot be read (or ctx ends);
// everything php-fpm would object to while reading is in Config.Problems.
func Load(ctx context.Context, path string, opts Options) (*Config, error) {
	return loadConfig(ctx, path, opts, true)
}

// loadConfig is Load; tests compare it with and without reading ahead.
func loadConfig(ctx context.Context, path string, opts Options, readAhead bool) (*Config, error) {
	c := &Config{Path: path, opts: opts}
	c.Global = &Section{Name: "global", File: path, global: true, cfg: c}
	l := &loader{ctx: ctx, cfg: c, fs: rootFS{rootfs.Tree{Root: opts.Root, Mounts: opts.Mounts}.WithCache()}, noReadAhead: !readAhead}
	if err := l.loadFile(path, 0, Position{}, nil); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return c, fmt.Errorf("load %s: %w", path, err)
	}
	return c, nil
}

// loader holds php-fpm's global parsing state: the current section carries
// on across included files, exactly as current_wp does in fpm_conf.c.
type loader struct {
	ctx   context.Context
	cfg   *Config
	fs    rootFS
	cur   *Section         // nil: global
	pools map[string]*Pool // by ASCII-lowered name (php-fpm uses strcasecmp)
	bytes int64
	nfile int
	seen  map[string]bool
	stack []string

	noReadAhead bool // read included files one by one (tests)

	stmts    []stmt    // the statements of the current line
	settings []Setting // the rest of the chunk newSetting hands out
}

func (l *loader) problem(file string, line int, pool, directive, msg, rule string) {
	l.cfg.Problems = append(l.cfg.Problems, Problem{
		Pool: pool, Directive: directive, File: file, Line: line,
		Message: msg, Rule: rule, Severity: Fatal,
	})
}

func (l *loader) section() *Section {
	if l.cur == nil {
		return l.cfg.Global
	}
	return l.cur
}

// loadFile reads one file. from is where it was included (zero for the
// main file); depth counts the files already open, as ini_recursion does.
// ahead, when not nil, is the file read ahead of time (see prefetch).
func (l *loader) loadFile(file string, depth int, from Position, ahead *fetched) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	if file == "" {
		if depth == 0 {
			return errors.New("configuration filename is empty")
		}
		l.problem(from.File, from.Line, "", "include", "configuration filename is empty", "")
		return nil
	}
	if l.nfile >= MaxFiles {
		l.problem(from.File, from.Line, "", "include", fmt.Sprintf("too many configuration files (more than %d); stopped reading", MaxFiles),
			"fpmdoctor reads at most this many files")
		return nil
	}
	var (
		data []byte
		err  error
	)
	if ahead != nil && ahead.wait() {
		data, err = ahead.data, ahead.err
		ahead.data = nil // the parser keeps what it needs
	} else {
		data, err = l.fs.readFile(file, MaxFileBytes)
	}
	if err != nil {
		if depth == 0 {
			return fmt.Errorf("failed to open configuration file '%s': %w", file, err)
		}
		l.problem(from.File, from.Line, "", "include", fmt.Sprintf("failed to open configuration file '%s': %v", file, err),
			"every file an include pattern matches must be readable")
		return nil
	}
	// php-fpm counts files open at once and refuses a sixth one; this is
	// also what ends an include cycle.
	if depth >= MaxIncludeDepth {
		rule := "php-fpm nests included files at most 5 deep"
		for _, f := range l.stack {
			if f == file {
				rule = "include cycle: " + strings.Join(append(l.stack, file), " -> ")
				break
			}
		}
		l.problem(from.File, from.Line, "", "include", "failed to include more than 5 files recursively", rule)
		return errIncludeFailed
	}
	if l.bytes+int64(len(data)) > MaxTotalBytes {
		l.problem(from.File, from.Line, "", "include", fmt.Sprintf("configuration larger than %d bytes; stopped reading", MaxTotalBytes),
			"fpmdoctor reads at most this much configuration")
		return nil
	}
	l.bytes += int64(len(data))
	l.nfile++
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	if !l.seen[file] {
		l.seen[file] = true
		l.cfg.Files = append(l.cfg.Files, file)
	}
	l.stack = append(l.stack, file)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()

	return l.parseData(file, data, depth)
}

// parseData parses the content of one file, line by line like php-fpm.
func (l *loader) parseData(file string, data []byte, depth int) error {
	// One string for the whole file: lines, keys and values are substrings
	// of it instead of one allocation per line.
	text := string(data)
	lineNo := 0
	for off := 0; off < len(data); {
		lineNo++
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += off
		}
		lineStart := off
		off = end + 1
		if end == lineStart {
			continue
		}
		if lineNo&1023 == 0 {
			if err := l.ctx.Err(); err != nil {
				return err
			}
		}
		if end-lineStart > MaxLineBytes {
			l.problem(file, lineNo, l.poolName(), "", fmt.Sprintf("line longer than %d bytes", MaxLineBytes),
				"fpmdoctor does not read lines this long; php-fpm would, but no valid setting needs it")
			continue
		}
		l.parseLine(file, lineNo, lineStart, text[lineStart:end], depth)
	}
	return nil
}

var errIncludeFailed = errors.New("include failed")

const utf8BOM = "\xEF\xBB\xBF"

func (l *loader) poolName() string {
	if l.cur == nil {
		return ""
	}
	return l.cur.Name
}

func (l *loader) env(name string) string {
	if l.cfg.opts.Env == nil {
		return ""
	}
	return l.cfg.opts.Env(name)
}

func (l *loader) parseLine(file string, lineNo, lineStart int, line string, depth int) {
	// The INI scanner skips a UTF-8 byte order mark at the start of the
	// string it is given, and php-fpm gives it every line on its own: a
	// BOM is skipped at the start of any line (files saved on Windows have
	// one on the first).
	if strings.HasPrefix(line, utf8BOM) {
		line, lineStart = line[len(utf8BOM):], lineStart+len(utf8BOM)
	}
	// l.stmts is reused line after line; the include, which parses other
	// files, runs after the loop over stmts.
	var err error
	l.stmts, err = appendStmts(l.stmts[:0], line, l.env)
	stmts := l.stmts
	if err != nil {
		// php prints "PHP:  syntax error, ... in Unknown on line N" and then
		// "failed to load configuration file"; N counts from 1 in every
		// line, which php-fpm parses alone with a '\n' appended.
		zline := 1
		var se *syntaxError
		if errors.As(err, &se) {
			zline = se.Line()
		}
		l.problem(file, lineNo, l.poolName(), "", fmt.Sprintf("%s in Unknown on line %d", err, zline),
			"each line must be `key = value`, `[section]` or a `;` comment; quotes must close on the same line")
	}
	var include *Setting
	for _, st := range stmts {
		switch st.kind {
		case stmtSection:
			l.openSection(st.name, file, lineNo)
		case stmtLabelOnly:
			l.problem(file, lineNo, l.poolName(), st.name, "value is NULL for a ZEND_INI_PARSER_ENTRY",
				"a line with a name must have `= value`")
		case stmtEntry, stmtArray:
			s := l.newSetting()
			*s = Setting{
				Key: st.name, Name: st.name, Raw: line[st.valStart:st.valEnd], Value: st.value,
				File: file, Line: lineNo,
				LineStart: lineStart, LineEnd: lineStart + len(line),
				ValueStart: lineStart + st.valStart, ValueEnd: lineStart + st.valEnd,
			}
			if st.kind == stmtArray {
				s.Key = st.name + "[" + st.offset + "]"
				s.ArrayKey, s.IsArray = st.offset, true
				l.addArray(s)
				continue
			}
			if st.name == "include" { // php-fpm compares this one case-sensitively
				if include != nil {
					l.problem(file, lineNo, l.poolName(), "include", "two includes at the same time !", "one include per line")
					continue
				}
				include = s
				l.section().Settings = append(l.section().Settings, s)
				continue
			}
			l.addEntry(s)
		}
	}
	if include != nil {
		l.include(include, depth)
	}
}

// newSetting returns a zero Setting from a chunk: a hosting host has
// tens of thousands of settings, and one allocation each is most of what
// reading costs.
func (l *loader) newSetting() *Setting {
	if len(l.settings) == 0 {
		l.settings = make([]Setting, 64)
	}
	s := &l.settings[0]
	l.settings = l.settings[1:]
	return s
}

func (l *loader) openSection(name, file string, line int) {
	if asciiEqualFold(name, "global") {
		l.cur = nil
		return
	}
	key := asciiLower(name)
	if p := l.pools[key]; p != nil {
		p.Reopened = append(p.Reopened, Position{file, line})
		l.cur = &p.Section
		return
	}
	p := &Pool{Section: Section{Name: name, File: file, Line: line, cfg: l.cfg}}
	if l.pools == nil {
		l.pools = map[string]*Pool{}
	}
	l.pools[key] = p
	l.cfg.Pools = append(l.cfg.Pools, p)
	l.cur = &p.Section
}

func (l *loader) addEntry(s *Setting) {
	sec := l.section()
	canonical := asciiLower(s.Name)
	opt, ok := lookupOption(sec.global, canonical)
	if !ok {
		rule := "not a php-fpm 8.2 " + map[bool]string{true: "global", false: "pool"}[sec.global] + " option"
		if _, other := lookupOption(!sec.global, canonical); other {
			if sec.global {
				rule = "a pool option written before any [pool] section (or in [global])"
			} else {
				rule = "a [global] option written inside a pool section"
			}
		}
		l.problem(s.File, s.Line, l.poolName(), s.Name, fmt.Sprintf("unknown entry '%s'", s.Name), rule)
		sec.Settings = append(sec.Settings, s)
		return
	}
	if opt.kind == kindString && strings.Contains(s.Value, "$pool") {
		if sec.global {
			l.problem(s.File, s.Line, "", canonical,
				fmt.Sprintf("unable to parse value for entry '%s': %v", canonical, errPoolUndefined),
				"$pool can only be used inside a pool section")
		} else {
			s.Value = strings.ReplaceAll(s.Value, "$pool", sec.Name)
		}
	}
	if err := checkValue(opt.kind, s.Value); err != nil {
		l.problem(s.File, s.Line, l.poolName(), canonical,
			fmt.Sprintf("unable to parse value for entry '%s': %v", canonical, err), valueRule(opt.kind))
	}
	sec.Settings = append(sec.Settings, s)
}

func valueRule(k optionKind) string {
	switch k {
	case kindInt:
		return "a whole number (digits, optionally a leading '-'); no units or comments after it"
	case kindTime:
		return "a number of seconds, optionally with a suffix s, m, h or d"
	case kindBool:
		return "yes/no, on/off, true/false or 1/0 (lower case when quoted)"
	case kindPM:
		return "pm must be static, dynamic or ondemand"
	case kindLogLevel:
		return "log_level must be debug, notice, warning, error or alert"
	case kindRlimitCore:
		return "a number of bytes ≥ 0 or 'unlimited'"
	case kindFacility:
		return "a syslog facility such as daemon or local0"
	}
	return ""
}

// addArray follows fpm_conf_ini_parser_array, in its order of checks.
func (l *loader) addArray(s *Setting) {
	pool := l.poolName()
	bad := false
	if s.Name == "access.suppress_path" {
		if s.ArrayKey != "" {
			l.problem(s.File, s.Line, pool, s.Key, "Keys provided to field 'access.suppress_path' are ignored",
				"write access.suppress_path[] = /path with empty brackets")
			bad = true
		}
		if !strings.HasPrefix(s.Value, "/") {
			l.problem(s.File, s.Line, pool, s.Key, errAccessSuppress.Error(), "suppressed paths are absolute URIs")
			bad = true
		}
		if bad {
			return
		}
	} else if s.ArrayKey == "" {
		l.problem(s.File, s.Line, pool, s.Key, fmt.Sprintf("You must provide a key for field '%s'", s.Name),
			"array options need a key: "+s.Name+"[name] = value")
		return
	}
	if l.cur == nil {
		l.problem(s.File, s.Line, "", s.Key, "Array are not allowed in the global section",
			"env[], php_value[] and the like belong in a pool section")
		return
	}
	if !arrayOptions()[s.Name] {
		l.problem(s.File, s.Line, pool, s.Key, fmt.Sprintf("unknown directive '%s'", s.Name),
			"the only array options are env, php_value, php_admin_value, php_flag, php_admin_flag and access.suppress_path")
		l.cur.Settings = append(l.cur.Settings, s)
		return
	}
	switch s.Name {
	case "env":
		if s.Value == "" {
			l.problem(s.File, s.Line, pool, s.Key, "empty value", "env[NAME] needs a value; leave the line out to pass nothing")
			return
		}
		s.Value = strings.ReplaceAll(s.Value, "$pool", l.cur.Name)
	case "php_flag", "php_admin_flag":
		b, err := parseBool(s.Value)
		if err != nil {
			l.problem(s.File, s.Line, pool, s.Key, fmt.Sprintf("error while parsing '%s[%s]' : %v", s.Name, s.ArrayKey, err),
				valueRule(kindBool))
			return
		}
		s.Value = map[bool]string{true: "1", false: "0"}[b]
	default:
		s.Value = strings.ReplaceAll(s.Value, "$pool", l.cur.Name)
	}
	l.cur.Settings = append(l.cur.Settings, s)
}

// include resolves an include pattern as php-fpm does: relative to the
// global prefix (not to the including file), then glob(3).
func (l *loader) include(s *Setting, depth int) {
	pattern := s.Value
	if pattern != "" && pattern[0] != '/' {
		prefix := l.cfg.opts.Prefix
		if prefix == "" {
			prefix = DefaultPrefix
		}
		pattern = prefix + "/" + pattern
	}
	from := Position{s.File, s.Line}
	matches, err := l.fs.glob(pattern, MaxFiles)
	switch {
	case errors.Is(err, errGlobNoMatch):
		l.cfg.Problems = append(l.cfg.Problems, Problem{
			Pool: l.poolName(), Directive: "include", File: s.File, Line: s.Line, Severity: Warning,
			Message: fmt.Sprintf("Nothing matches the include pattern '%s' from %s at line %d.", pattern, s.File, s.Line),
			Rule:    "an include that matches nothing is skipped (relative patterns are relative to php-fpm's prefix, not to this file)",
		})
		return
	case errors.Is(err, errGlobAborted):
		l.problem(s.File, s.Line, l.poolName(), "include",
			fmt.Sprintf("Unable to globalize '%s' (ret=2) from %s at line %d.", pattern, s.File, s.Line),
			"the directory of an include pattern must exist (relative patterns are relative to php-fpm's prefix, not to this file)")
		return
	case err != nil:
		l.problem(s.File, s.Line, l.poolName(), "include", err.Error(), "")
		return
	}
	// files are the paths read, raw the matches as glob returned them
	// (php-fpm names those in its messages).
	files, raw := make([]string, 0, len(matches)), make([]string, 0, len(matches))
	for _, m := range matches {
		if !strings.HasSuffix(m, "/") { // php-fpm skips directories
			files, raw = append(files, filepath.Clean(m)), append(raw, m)
		}
	}
	var ahead *prefetch // nil: no read-ahead
	if depth+1 < MaxIncludeDepth && !l.noReadAhead {
		// Too deep, the first file fails the include: nothing to read ahead.
		ahead = l.prefetch(files)
		defer ahead.close()
	}
	for i, file := range files {
		if err := l.loadFile(file, depth+1, from, ahead.file(i)); err != nil {
			if errors.Is(err, errIncludeFailed) {
				l.problem(s.File, s.Line, l.poolName(), "include",
					fmt.Sprintf("Unable to include %s from %s at line %d", raw[i], s.File, s.Line), "")
				return
			}
			return // context ended
		}
	}
}

// asciiLower folds like strcasecmp in the C locale: ASCII letters only.
// php-fpm compares option names, section names and keyword values (pm,
// log_level, events.mechanism…) that way; strings.ToLower and EqualFold
// would also fold the Kelvin sign to "k", "İ" to "i" or "ſ" to "s".
func asciiLower(s string) string {
	if !hasASCIIUpper(s) {
		return s // most names are lower case already: no copy
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// prefetch reads the files of one include pattern in parallel, ahead of the
// loop that parses them. A hosting host's pool.d holds thousands of small
// files, and reading them one after the other is mostly waiting for
// open/read syscalls. Parsing stays strictly sequential and in php-fpm's
// order: pools are created, and problems reported, in include order; only
// the reading moves ahead. Files are read by a few workers in index order,
// so the parser rarely waits. The byte budget still left is respected: a
// file beyond it is not read ahead and loadFile reads it (and reports the
// limit) as before.
type prefetch struct {
	wg    sync.WaitGroup
	stop  atomic.Bool
	slots []fetched
}

type fetched struct {
	ready chan struct{} // closed when data and err are set
	data  []byte
	err   error
	read  bool // false: skipped (budget or stop), loadFile reads the file
}

func (l *loader) prefetch(files []string) *prefetch {
	// Files beyond MaxFiles are not read at all, so not ahead either.
	n := min(len(files), MaxFiles-l.nfile)
	workers := min(n, max(2, runtime.GOMAXPROCS(0)))
	if workers < 2 {
		return nil
	}
	p := &prefetch{slots: make([]fetched, n)}
	for i := range p.slots {
		p.slots[i].ready = make(chan struct{})
	}
	budget := MaxTotalBytes - l.bytes
	var next, used atomic.Int64
	for range workers {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				sl := &p.slots[i]
				if !p.stop.Load() && l.ctx.Err() == nil && used.Load() <= budget {
					sl.data, sl.err = l.fs.readFile(files[i], MaxFileBytes)
					sl.read = true
					used.Add(int64(len(sl.data)))
				}
				close(sl.ready)
			}
		}()
	}
	return p
}

// file returns the read-ahead slot of file i, nil when there is none.
func (p *prefetch) file(i int) *fetched {
	if p == nil || i >= len(p.slots) {
		return nil
	}
	return &p.slots[i]
}

// wait waits for the worker and reports whether it read the file.
func (f *fetched) wait() bool {
	<-f.ready
	return f.read
}

// close stops reading ahead (the include loop may end early) and waits
// for the workers.
func (p *prefetch) close() {
	if p == nil {
		return
	}
	p.stop.Store(true)
	p.wg.Wait()
}

// asciiEqualFold is strcasecmp(a, b) == 0 in the C locale.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func hasASCIIUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}
