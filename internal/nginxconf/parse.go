package nginxconf

import (
	"fmt"
	"strings"
)

// confBuffer is NGX_CONF_BUFFER: nginx reads a file through a buffer of this
// size and rejects a token that does not fit ("too long parameter").
const confBuffer = 4096

// stop says how a statement ended, like the return codes of
// ngx_conf_read_token.
type stop int

const (
	stopSemicolon  stop = iota // NGX_OK
	stopBlockStart             // NGX_CONF_BLOCK_START
	stopBlockDone              // NGX_CONF_BLOCK_DONE
	stopFile                   // NGX_CONF_FILE_DONE
)

// lexer is a transcription of ngx_conf_read_token's state machine over a
// whole file held in memory, with byte offsets kept.
type lexer struct {
	src  []byte
	text string // string(src): Raw and unescaped-free Values are substrings of it
	pos  int
	line int
	// bufEnd simulates the end of nginx's 4096-byte read buffer so that
	// "too long parameter" fires exactly where nginx's would.
	bufEnd int
	// noFastPath disables the byte-skipping fast path (tests compare both).
	noFastPath bool
	// arena holds the Args of many directives in one allocation: with
	// thousands of files, per-directive slices dominate allocation and GC.
	arena []Arg
}

// scratch returns an empty slice whose appends land in the arena.
func (lx *lexer) scratch() []Arg {
	if cap(lx.arena)-len(lx.arena) < 16 {
		// Size chunks by what is left to read: real configs have about
		// one word per 15 bytes (comments included).
		lx.arena = make([]Arg, 0, min((len(lx.src)-lx.pos)/12+16, 1024))
	}
	return lx.arena[len(lx.arena):len(lx.arena)]
}

// keep claims args from the arena (when appends stayed inside it) and
// caps it so that appends by callers cannot overwrite a neighbour.
func (lx *lexer) keep(args []Arg) []Arg {
	n := len(args)
	free := lx.arena[len(lx.arena):cap(lx.arena)]
	if n > 0 && n <= len(free) && &free[0] == &args[0] {
		lx.arena = lx.arena[:len(lx.arena)+n]
	}
	return args[:n:n]
}

type lexError struct {
	line int
	msg  string
}

func newLexer(src []byte, text string) *lexer {
	return &lexer{src: src, text: text, line: 1, bufEnd: min(confBuffer, len(src))}
}

// statement reads the words of one directive. It returns them, how the
// statement ended and the offset of the terminating character.
func (lx *lexer) statement() (args []Arg, line int, how stop, term int, err *lexError) {
	var (
		needSpace, lastSpace = false, true
		comment, variable    = false, false
		quoted, sq, dq       = false, false, false
		tokQuoted            bool
		start                = lx.pos // nginx: start = b->pos
		startLine            = lx.line
		hasEscape            bool
	)
	args = lx.scratch()
	for {
		// Fast path: skip bytes that change no state (the body of a word,
		// a quoted string or a comment). It stops at the simulated buffer
		// end so that the refill check below sees the same positions.
		if !lx.noFastPath && (!lastSpace && !needSpace && !quoted && !variable || comment) {
			p, lim, src := lx.pos, lx.bufEnd, lx.src
			switch {
			case comment:
				for p < lim && src[p] != '\n' {
					p++
				}
			case dq:
				for p < lim && src[p] != '"' && src[p] != '\\' && src[p] != '\n' && src[p] != '$' {
					p++
				}
			case sq:
				for p < lim && src[p] != '\'' && src[p] != '\\' && src[p] != '\n' && src[p] != '$' {
					p++
				}
			default:
				for p < lim && wordByte(src[p]) {
					p++
				}
			}
			lx.pos = p
		}
		if lx.pos >= lx.bufEnd {
			if lx.bufEnd >= len(lx.src) {
				if len(args) > 0 || !lastSpace {
					return nil, 0, 0, 0, &lexError{lx.line, `unexpected end of file, expecting ";" or "}"`}
				}
				return args, line, stopFile, len(lx.src), nil
			}
			if lx.pos-start == confBuffer {
				switch {
				case dq:
					return nil, 0, 0, 0, &lexError{startLine, `too long parameter, probably missing terminating """ character`}
				case sq:
					return nil, 0, 0, 0, &lexError{startLine, `too long parameter, probably missing terminating "'" character`}
				}
				return nil, 0, 0, 0, &lexError{startLine, fmt.Sprintf(`too long parameter "%s..." started`, lx.text[start:start+10])}
			}
			lx.bufEnd = min(start+confBuffer, len(lx.src))
		}

		ch := lx.src[lx.pos]
		lx.pos++

		if ch == '\n' {
			lx.line++
			comment = false
		}
		if comment {
			continue
		}
		if quoted {
			quoted = false
			continue
		}
		if needSpace {
			switch ch {
			case ' ', '\t', '\r', '\n':
				lastSpace, needSpace = true, false
				continue
			case ';':
				return args, line, stopSemicolon, lx.pos - 1, nil
			case '{':
				return args, line, stopBlockStart, lx.pos - 1, nil
			case ')':
				lastSpace, needSpace = true, false
			default:
				return nil, 0, 0, 0, &lexError{lx.line, fmt.Sprintf(`unexpected "%c"`, ch)}
			}
		}

		if lastSpace {
			start = lx.pos - 1
			startLine = lx.line
			tokQuoted, hasEscape = false, false
			switch ch {
			case ' ', '\t', '\r', '\n':
				continue
			case ';', '{':
				if len(args) == 0 {
					return nil, 0, 0, 0, &lexError{lx.line, fmt.Sprintf(`unexpected "%c"`, ch)}
				}
				if ch == '{' {
					return args, line, stopBlockStart, lx.pos - 1, nil
				}
				return args, line, stopSemicolon, lx.pos - 1, nil
			case '}':
				if len(args) != 0 {
					return nil, 0, 0, 0, &lexError{lx.line, `unexpected "}"`}
				}
				return args, line, stopBlockDone, lx.pos - 1, nil
			case '#':
				comment = true
				continue
			case '\\':
				quoted, lastSpace, hasEscape = true, false, true
				continue
			case '"':
				start++
				dq, lastSpace, tokQuoted = true, false, true
				continue
			case '\'':
				start++
				sq, lastSpace, tokQuoted = true, false, true
				continue
			case '$':
				variable, lastSpace = true, false
				continue
			default:
				lastSpace = false
			}
			continue
		}

		if ch == '{' && variable {
			continue
		}
		variable = false
		if ch == '\\' {
			quoted, hasEscape = true, true
			continue
		}
		if ch == '$' {
			variable = true
			continue
		}

		found := false
		switch {
		case dq:
			if ch == '"' {
				dq, needSpace, found = false, true, true
			}
		case sq:
			if ch == '\'' {
				sq, needSpace, found = false, true, true
			}
		case ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == ';' || ch == '{':
			lastSpace, found = true, true
		}
		if !found {
			continue
		}

		end := lx.pos - 1 // the terminator (closing quote or separator)
		a := Arg{Start: start, End: end, Quoted: tokQuoted}
		if tokQuoted {
			a.Start, a.End = start-1, end+1
		}
		a.Raw = lx.text[a.Start:a.End]
		if hasEscape {
			a.Value = unescape(lx.src[start:end])
		} else {
			a.Value = lx.text[start:end]
		}
		if len(args) == 0 {
			line = startLine
		}
		args = append(args, a)

		if ch == ';' {
			return args, line, stopSemicolon, lx.pos - 1, nil
		}
		if ch == '{' {
			return args, line, stopBlockStart, lx.pos - 1, nil
		}
	}
}

// wordByte reports whether c continues an unquoted word without changing
// the lexer's state.
func wordByte(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', ';', '{', '\\', '$':
		return false
	}
	return true
}

// unescape applies the escapes nginx applies to every word, quoted or not.
// Other backslashes are kept as they are.
func unescape(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\\' && i+1 < len(b) {
			switch b[i+1] {
			case '"', '\'', '\\':
				i++
				c = b[i]
			case 't':
				i++
				c = '\t'
			case 'r':
				i++
				c = '\r'
			case 'n':
				i++
				c = '\n'
			}
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// parseFile builds the directive tree of one file, without resolving
// includes. Like nginx it stops at the first syntax error; the directives
// read so far are kept.
func parseFile(path string, src []byte, maxDepth int) ([]*Directive, []Problem) {
	return parse(newLexer(src, string(src)), path, maxDepth)
}

func parse(lx *lexer, path string, maxDepth int) ([]*Directive, []Problem) {
	src := lx.src
	var (
		stack []*Directive // open blocks
		// kids collects the children of every open block, innermost last;
		// marks[i] is where stack[i]'s children start. Each block gets an
		// exact-size slice when it closes.
		kids  []*Directive
		marks []int
		slab  []Directive
		syns  []Syntax
	)
	closeBlock := func(d *Directive, from int) {
		d.Block = append([]*Directive(nil), kids[from:]...)
		kids = kids[:from]
	}
	finish := func() []*Directive {
		for i := len(stack) - 1; i >= 0; i-- {
			stack[i].End = len(src)
			closeBlock(stack[i], marks[i])
		}
		top := append([]*Directive(nil), kids...)
		return top
	}
	fail := func(line int, msg string) ([]*Directive, []Problem) {
		return finish(), []Problem{{File: path, Line: line, Message: msg}}
	}
	for {
		args, line, how, term, err := lx.statement()
		if err != nil {
			return fail(err.line, err.msg)
		}
		switch how {
		case stopFile:
			if len(stack) > 0 {
				return fail(lx.line, `unexpected end of file, expecting "}"`)
			}
			return finish(), nil
		case stopBlockDone:
			n := len(stack)
			if n == 0 {
				return fail(lx.line, `unexpected "}"`)
			}
			d := stack[n-1]
			d.BlockClose, d.End = term, term+1
			closeBlock(d, marks[n-1])
			stack, marks = stack[:n-1], marks[:n-1]
		default:
			args = lx.keep(args)
			if len(slab) == 0 {
				// About one directive per 50 bytes in real configs.
				n := min((len(src)-lx.pos)/40+4, 256)
				slab, syns = make([]Directive, n), make([]Syntax, n)
			}
			d := &slab[0]
			d.Syntax = &syns[0]
			slab, syns = slab[1:], syns[1:]
			*d.Syntax = Syntax{
				Name:  args[0].Value,
				Args:  args[1:],
				File:  path,
				Line:  line,
				Start: args[0].Start,
				End:   term + 1,
			}
			if n := len(stack); n > 0 {
				d.Parent = stack[n-1]
			}
			kids = append(kids, d)
			if how == stopBlockStart {
				if len(stack) >= maxDepth {
					return fail(lx.line, fmt.Sprintf("blocks nested deeper than %d levels", maxDepth))
				}
				d.IsBlock, d.BlockOpen, d.BlockClose = true, term, -1
				stack = append(stack, d)
				marks = append(marks, len(kids))
			}
		}
	}
}
