package fpmconf

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// This file emulates the part of the Zend INI scanner and parser (NORMAL
// mode) that php-fpm relies on, one line at a time. Checked against
// PHP 8.2's parse_ini_string(..., INI_SCANNER_NORMAL); see ini_test.go.

type stmtKind int

const (
	stmtSection   stmtKind = iota + 1
	stmtEntry              // key = value
	stmtArray              // key[offset] = value
	stmtLabelOnly          // a key without '=': php-fpm's "value is NULL" error
)

type stmt struct {
	kind     stmtKind
	name     string // section name or key
	offset   string // array key
	value    string // scanned value
	valStart int    // byte range of the value as written, relative to the line
	valEnd   int
}

// syntaxError mimics the Zend parser's "syntax error, unexpected ..." text
// and the line it names ("in Unknown on line N").
type syntaxError struct {
	msg string
	// line counts lines within the string php-fpm hands to the INI parser:
	// one physical line plus the '\n' php-fpm appends to it, where every
	// '\r' also starts a line. 0 means 1.
	line int
}

func (e *syntaxError) Error() string { return "syntax error, " + e.msg }

// Line is the line number php prints with the error.
func (e *syntaxError) Line() int { return max(e.line, 1) }

// zendLine is the scanner's line number at byte i of line.
func zendLine(line string, i int) int { return 1 + strings.Count(line[:min(i, len(line))], "\r") }

// afterEOL is the scanner's line number once it has consumed the newline
// that ends the statement at i (a '\r', a comment up to one, or the '\n'
// php-fpm appends): an END_OF_LINE token is reported on the next line.
func afterEOL(line string, i int) int {
	for i < len(line) && line[i] != '\r' {
		i++
	}
	return zendLine(line, i) + 1
}

// pastEnd is the scanner's line number after reading the whole line and
// the '\n' php-fpm appends (one line break with a final '\r').
func pastEnd(line string) int {
	n := zendLine(line, len(line))
	if !strings.HasSuffix(line, "\r") {
		n++
	}
	return n
}

func unexpected(line string, i int) error {
	if i >= len(line) || line[i] == '\r' {
		return &syntaxError{"unexpected end of file", zendLine(line, i)}
	}
	return &syntaxError{fmt.Sprintf("unexpected '%c'", line[i]), zendLine(line, i)}
}

// scanLine splits one physical line (without its '\n') into statements.
// A '\r' ends a statement as a newline does in the Zend scanner, and a NUL
// ends the line because php-fpm hands the line over as a C string.
func scanLine(line string, env func(string) string) ([]stmt, error) {
	return appendStmts(nil, line, env)
}

// appendStmts is scanLine appending to out, so that a reader can reuse one
// slice for every line.
func appendStmts(out []stmt, line string, env func(string) string) ([]stmt, error) {
	if i := strings.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	for pos := 0; pos < len(line); {
		st, next, err := scanStatement(line, pos, env)
		if err != nil {
			return out, err
		}
		if st.kind != 0 {
			out = append(out, st)
		}
		if next <= pos {
			next = pos + 1 // cannot happen; guards against a loop
		}
		pos = next
	}
	return out, nil
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

func skipBlanks(line string, i int) int {
	for i < len(line) && isBlank(line[i]) {
		i++
	}
	return i
}

// endOfStatement returns the position after the statement's terminator.
func endOfStatement(line string, i int) int {
	for i < len(line) && line[i] != '\r' {
		i++
	}
	return i + 1
}

// scanStatement scans one statement starting at pos and returns where the
// next one starts.
func scanStatement(line string, pos int, env func(string) string) (stmt, int, error) {
	i := skipBlanks(line, pos)
	if i >= len(line) {
		return stmt{}, len(line), nil
	}
	switch line[i] {
	case '\r':
		return stmt{}, i + 1, nil
	case ';':
		return stmt{}, endOfStatement(line, i), nil
	case '[':
		name, next, err := scanBracket(line, i+1, false, env)
		if err != nil {
			return stmt{}, 0, err
		}
		// After ']' blanks and one newline are eaten; anything else on the
		// line is a new statement.
		next = skipBlanks(line, next)
		if next < len(line) && line[next] == '\r' {
			next++
		}
		return stmt{kind: stmtSection, name: name}, next, nil
	}

	// A key: everything up to '=', '[' or a comment, trailing blanks cut.
	start := i
	for i < len(line) {
		c := line[i]
		if c == '=' || c == '[' || c == ';' || c == '\r' {
			break
		}
		if badKeyByte(c) {
			return stmt{}, 0, unexpected(line, i)
		}
		i++
	}
	key := strings.TrimRight(line[start:i], " \t")
	if key == "" {
		return stmt{}, 0, unexpected(line, i)
	}
	st := stmt{kind: stmtEntry, name: key}
	if i < len(line) && line[i] == '[' {
		off, next, err := scanBracket(line, i+1, true, env)
		if err != nil {
			return stmt{}, 0, err
		}
		st.kind, st.offset = stmtArray, off
		i = skipBlanks(line, next)
		if i >= len(line) || line[i] != '=' {
			if i >= len(line) || line[i] == '\r' || line[i] == ';' {
				return stmt{}, 0, &syntaxError{"unexpected END_OF_LINE, expecting '='", afterEOL(line, i)}
			}
			return stmt{}, 0, &syntaxError{"unexpected TC_LABEL, expecting '='", zendLine(line, i)}
		}
	}
	if i >= len(line) || line[i] != '=' {
		st.kind = stmtLabelOnly
		return st, endOfStatement(line, i), nil
	}
	val, vs, ve, next, err := scanValue(line, i+1, env)
	if err != nil {
		return stmt{}, 0, err
	}
	st.value, st.valStart, st.valEnd = val, vs, ve
	return st, next, nil
}

// scanBracket reads a section name or an array offset up to ']'. Quotes
// are removed and ${VAR} is expanded; an offset loses its leading blanks.
func scanBracket(line string, i int, offset bool, env func(string) string) (string, int, error) {
	if offset {
		i = skipBlanks(line, i)
	}
	// Most names have no quotes or ${VAR}: the name is then the text up to
	// ']' as written, without copying it.
	if k := strings.IndexByte(line[i:], ']'); k >= 0 {
		if name := line[i : i+k]; strings.IndexAny(name, "\"'\r") < 0 && !strings.Contains(name, "${") {
			return name, i + k + 1, nil
		}
	}
	return scanBracketCopy(line, i, env)
}

// scanBracketCopy is scanBracket for any name (i is past the '[' and, for
// an offset, past the leading blanks).
func scanBracketCopy(line string, i int, env func(string) string) (string, int, error) {
	var b strings.Builder
	for {
		if i >= len(line) || line[i] == '\r' {
			return "", 0, &syntaxError{"unexpected end of file, expecting ']'", zendLine(line, i)}
		}
		c := line[i]
		switch {
		case c == ']':
			return b.String(), i + 1, nil
		case c == '"':
			s, next, err := scanDoubleQuoted(line, i+1, env)
			if err != nil {
				return "", 0, err
			}
			b.WriteString(s)
			i = next
		case c == '\'':
			// A raw string; unclosed, the scanner stops there and the
			// parser still wants its ']'.
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return "", 0, &syntaxError{"unexpected end of file, expecting ']'", zendLine(line, i)}
			}
			b.WriteString(line[i+1 : i+1+j])
			i += j + 2
		case c == '$' && i+1 < len(line) && line[i+1] == '{':
			s, next, err := scanVar(line, i+2, env)
			if err != nil {
				return "", 0, err
			}
			b.WriteString(s)
			i = next
		default:
			b.WriteByte(c)
			i++
		}
	}
}

func scanVar(line string, i int, env func(string) string) (string, int, error) {
	j := i
	for j < len(line) && line[j] != '}' && line[j] != '\r' {
		j++
	}
	if j >= len(line) || line[j] != '}' {
		return "", 0, &syntaxError{"unexpected end of file, expecting '}'", zendLine(line, j)}
	}
	name := line[i:j]
	if env == nil {
		return "", j + 1, nil
	}
	return env(name), j + 1, nil
}

// scanDoubleQuoted reads a "..." string (i is after the opening quote).
// Only \" \\ and \$ are escapes, as in the Zend INI scanner.
func scanDoubleQuoted(line string, i int, env func(string) string) (string, int, error) {
	var b strings.Builder
	for i < len(line) {
		c := line[i]
		switch {
		case c == '"':
			return b.String(), i + 1, nil
		case c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\' || line[i+1] == '$'):
			b.WriteByte(line[i+1])
			i += 2
		case c == '$' && i+1 < len(line) && line[i+1] == '{':
			s, next, err := scanVar(line, i+2, env)
			if err != nil {
				return "", 0, err
			}
			b.WriteString(s)
			i = next
		default:
			b.WriteByte(c)
			i++
		}
	}
	// The string runs on over the '\n' php-fpm appends: php names the
	// line after it.
	return "", 0, &syntaxError{"unexpected end of file, expecting TC_DOLLAR_CURLY or TC_QUOTED_STRING or '\"'", pastEnd(line)}
}

// token of a value: a string (raw text, quoted parts and ${VAR}s glued
// together) or one of the operators | & ^ ~ ! ( ).
type token struct {
	op   byte // 0 for a string
	text string
	bare bool // a single unquoted run: may be a keyword or a constant
}

// scanValue reads a value starting after '='. It returns the scanned
// value, the byte range of the value as written and where the next
// statement starts.
func scanValue(line string, i int, env func(string) string) (val string, vs, ve, next int, err error) {
	i = skipBlanks(line, i)
	if ve, next, ok := plainValue(line, i); ok {
		if ve > i {
			val, err = evalBare(line[i:ve])
		}
		return val, i, ve, next, err
	}
	return scanTokens(line, i, env)
}

// scanTokens is scanValue for any value (i is past the leading blanks).
func scanTokens(line string, i int, env func(string) string) (val string, vs, ve, next int, err error) {
	vs = i
	var (
		toks     []token
		cur      strings.Builder
		inStr    bool // cur holds a string token
		parts    int  // pieces in cur
		rawOnly  = true
		trimLead = true // blanks at the start of the next raw run are dropped
		eof      = -1   // where an unterminated single quote ended the input
	)
	flush := func() {
		if inStr {
			toks = append(toks, token{text: cur.String(), bare: parts == 1 && rawOnly})
		}
		cur.Reset()
		inStr, parts, rawOnly = false, 0, true
	}
	addRaw := func(run string, trimTrail bool) {
		if trimLead {
			run = strings.TrimLeft(run, " \t")
		}
		if trimTrail {
			run = strings.TrimRight(run, " \t")
		}
		if run == "" {
			return
		}
		cur.WriteString(run)
		inStr = true
		parts++
	}
	end := len(line)
	for i < len(line) {
		c := line[i]
		if c == ';' || c == '\r' {
			end = i
			break
		}
		switch {
		case c == '"':
			s, n, e := scanDoubleQuoted(line, i+1, env)
			if e != nil {
				return "", 0, 0, 0, e
			}
			cur.WriteString(s)
			inStr, rawOnly = true, false
			parts++
			i, trimLead = n, true
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				// An unterminated single quote ends the scanner's input
				// (it returns "end of file" there): what came before may
				// still be a complete value, and the rest is dropped.
				eof = i
				end = len(line)
				i = len(line)
				break
			}
			cur.WriteString(line[i+1 : i+1+j])
			inStr, rawOnly = true, false
			parts++
			i, trimLead = i+j+2, true
		case c == '$' && i+1 < len(line) && line[i+1] == '{':
			s, n, e := scanVar(line, i+2, env)
			if e != nil {
				return "", 0, 0, 0, e
			}
			cur.WriteString(s)
			inStr, rawOnly = true, false
			parts++
			i, trimLead = n, false
		case strings.IndexByte("|&^~!()", c) >= 0:
			flush()
			toks = append(toks, token{op: c})
			i++
			trimLead = true
		case c == '=':
			return "", 0, 0, 0, unexpected(line, i)
		default:
			// A raw run up to the next special character.
			j := i
			for j < len(line) && strings.IndexByte("\"'|&^~!()=;\r", line[j]) < 0 &&
				!(line[j] == '$' && j+1 < len(line) && line[j+1] == '{') {
				j++
			}
			trimTrail := j >= len(line) || strings.IndexByte("\"'|&^~!();\r", line[j]) >= 0
			addRaw(line[i:j], trimTrail)
			i = j
			trimLead = false
		}
	}
	flush()
	ve = end
	for ve > vs && isBlank(line[ve-1]) {
		ve--
	}
	if end < len(line) {
		next = endOfStatement(line, end)
	} else {
		next = len(line)
	}
	val, err = evalTokens(toks)
	var se *syntaxError
	switch {
	case eof >= 0 && len(toks) == 0:
		err = &syntaxError{"unexpected end of file", zendLine(line, eof)}
	case errors.As(err, &se) && strings.HasPrefix(se.msg, eolToken):
		if eof >= 0 {
			err = &syntaxError{"unexpected end of file" + se.msg[len(eolToken):], zendLine(line, eof)}
		} else {
			se.line = afterEOL(line, end)
		}
	}
	return val, vs, ve, next, err
}

const eolToken = "unexpected END_OF_LINE"

// badKeyByte reports the bytes the INI scanner does not accept in a key.
func badKeyByte(c byte) bool {
	switch c {
	case '{', '}', '|', '&', '~', '!', '(', ')', '"', '^', '$':
		return true
	}
	return false
}

// plainStop reports the bytes that end a plain value's run of text (or
// make it something else: quotes, operators, a stray '=').
func plainStop(c byte) bool {
	switch c {
	case '"', '\'', '|', '&', '^', '~', '!', '(', ')', '=':
		return true
	}
	return false
}

// plainValue handles the value most lines have: one unquoted run of text
// up to the end of the line or a comment, without quotes, ${VAR} or
// operators. Such a value is a single bare token, the run without its
// trailing blanks (i is past the leading ones); scanValue's general loop
// gives the same for it, only with a copy. It returns the end of the value
// as written and where the next statement starts, or ok false when the
// value is anything else.
func plainValue(line string, i int) (ve, next int, ok bool) {
	end := i
	for ; end < len(line) && line[end] != ';' && line[end] != '\r'; end++ {
		c := line[end]
		if plainStop(c) || c == '$' && end+1 < len(line) && line[end+1] == '{' {
			return 0, 0, false
		}
	}
	ve = end
	for ve > i && isBlank(line[ve-1]) {
		ve--
	}
	next = len(line)
	if end < len(line) {
		next = endOfStatement(line, end)
	}
	return ve, next, true
}

// constants the INI parser replaces in values; php-fpm runs after the
// engine registered them. Only the error-level constants are worth knowing
// in FPM configs (php_value[error_reporting]).
var iniConstants = sync.OnceValue(func() map[string]int64 {
	return map[string]int64{
		"E_ERROR": 1, "E_WARNING": 2, "E_PARSE": 4, "E_NOTICE": 8,
		"E_CORE_ERROR": 16, "E_CORE_WARNING": 32, "E_COMPILE_ERROR": 64,
		"E_COMPILE_WARNING": 128, "E_USER_ERROR": 256, "E_USER_WARNING": 512,
		"E_USER_NOTICE": 1024, "E_STRICT": 2048, "E_RECOVERABLE_ERROR": 4096,
		"E_DEPRECATED": 8192, "E_USER_DEPRECATED": 16384, "E_ALL": 32767,
	}
})

var boolWords = sync.OnceValue(func() map[string]string {
	return map[string]string{
		"true": "1", "on": "1", "yes": "1",
		"false": "", "off": "", "no": "", "none": "", "null": "",
	}
})

func evalTokens(toks []token) (string, error) {
	if len(toks) == 0 {
		return "", nil
	}
	if len(toks) == 1 && toks[0].op == 0 {
		t := toks[0]
		if !t.bare {
			return t.text, nil
		}
		return evalBare(t.text)
	}
	e := exprParser{toks: toks}
	v, err := e.expr()
	if err != nil {
		return "", err
	}
	if e.pos < len(toks) {
		return "", e.unexpected()
	}
	return strconv.FormatInt(v, 10), nil
}

// evalBare is the value of a single unquoted token: a yes/no keyword, a
// constant, or the text itself.
//
// The keywords are at most 5 bytes, and the only runes outside ASCII that
// lower to an ASCII letter are U+0130 (i) and the Kelvin sign (k), letters
// of no keyword: longer text is no keyword, which spares lowering and
// looking up most values.
func evalBare(text string) (string, error) {
	if len(text) <= maxBoolWord {
		if v, ok := boolWords()[strings.ToLower(text)]; ok {
			return v, nil
		}
	}
	// "yes please": the keyword is a token of its own.
	if i := strings.IndexAny(text, " \t"); i > 0 && i <= maxBoolWord {
		if _, ok := boolWords()[strings.ToLower(text[:i])]; ok {
			return "", &syntaxError{msg: "unexpected TC_CONSTANT"}
		}
	}
	if strings.HasPrefix(text, "E_") { // every constant is E_*
		if v, ok := iniConstants()[text]; ok {
			return strconv.FormatInt(v, 10), nil
		}
	}
	return text, nil
}

// maxBoolWord is the length of the longest key of boolWords.
const maxBoolWord = len("false")

// exprParser evaluates | & ^ (one precedence, left to right) and the
// unary ~ ! with parentheses, like zend_ini_parser.y.
type exprParser struct {
	toks  []token
	pos   int
	depth int
}

// maxExprDepth bounds nesting like bison's parser stack does in PHP.
const maxExprDepth = 1000

func (e *exprParser) unexpected() error {
	if e.pos >= len(e.toks) {
		return &syntaxError{msg: eolToken}
	}
	t := e.toks[e.pos]
	if t.op == 0 {
		return &syntaxError{msg: "unexpected TC_STRING"}
	}
	return &syntaxError{msg: fmt.Sprintf("unexpected '%c'", t.op)}
}

func (e *exprParser) expr() (int64, error) {
	v, err := e.unary()
	if err != nil {
		return 0, err
	}
	for e.pos < len(e.toks) {
		op := e.toks[e.pos].op
		if op != '|' && op != '&' && op != '^' {
			break
		}
		e.pos++
		r, err := e.unary()
		if err != nil {
			return 0, err
		}
		switch op {
		case '|':
			v |= r
		case '&':
			v &= r
		case '^':
			v ^= r
		}
	}
	return v, nil
}

func (e *exprParser) unary() (int64, error) {
	if e.pos >= len(e.toks) {
		return 0, e.unexpected()
	}
	if e.depth++; e.depth > maxExprDepth {
		return 0, &syntaxError{msg: "memory exhausted"}
	}
	defer func() { e.depth-- }()
	t := e.toks[e.pos]
	switch t.op {
	case 0:
		e.pos++
		if t.bare {
			if v, ok := iniConstants()[t.text]; ok {
				return v, nil
			}
			if b, ok := boolWords()[strings.ToLower(t.text)]; ok {
				return int64(atoi(b)), nil
			}
		}
		return int64(atoi(t.text)), nil
	case '~':
		e.pos++
		v, err := e.unary()
		return ^v, err
	case '!':
		e.pos++
		v, err := e.unary()
		if v == 0 {
			return 1, err
		}
		return 0, err
	case '(':
		e.pos++
		v, err := e.expr()
		if err != nil {
			return 0, err
		}
		if e.pos >= len(e.toks) || e.toks[e.pos].op != ')' {
			// bison lists what could follow "( expr".
			err := e.unexpected()
			if se, ok := err.(*syntaxError); ok {
				se.msg += ", expecting '^' or '|' or '&' or ')'"
			}
			return 0, err
		}
		e.pos++
		return v, nil
	}
	return 0, e.unexpected()
}
