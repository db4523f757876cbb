package nginxconf

import (
	"bytes"
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
	// arena collects the words of every statement, one after the other:
	// with thousands of files, per-directive slices dominate allocation
	// and GC. A statement's words are a slice of it; when it grows, those
	// slices keep the old array, which is never written again. parse
	// copies what the directives keep into one exact array at the end.
	arena []Arg
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
	first := len(lx.arena) // args is lx.arena[first:]
	args = lx.arena[first:first:first]
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
		lx.arena = append(lx.arena, a)
		args = lx.arena[first:len(lx.arena):len(lx.arena)]

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

// compactArgs moves the arguments of every directive of the tree into one
// array of exactly total elements, so that the lexer's arena (with the
// names and whatever it holds beyond) is not kept alive by them.
func compactArgs(ds []*Directive, total int) {
	all := make([]Arg, 0, total)
	Walk(ds, func(d *Directive) bool {
		i := len(all)
		all = append(all, d.Args...)
		d.Args = all[i:len(all):len(all)]
		return true
	})
}

// parseFile builds the directive tree of one file, without resolving
// includes. Like nginx it stops at the first syntax error; the directives
// read so far are kept.
func parseFile(path string, src []byte, maxDepth int) ([]*Directive, []Problem) {
	return parseFileArena(path, src, maxDepth, nil)
}

// parseFileArena is parseFile lexing into *arena, which it leaves for the
// next file (nothing parsed refers to it): a reader of thousands of files
// then allocates the lexer's words once, not once per file.
func parseFileArena(path string, src []byte, maxDepth int, arena *[]Arg) ([]*Directive, []Problem) {
	lx := newLexer(src, string(src))
	if arena != nil {
		lx.arena = (*arena)[:0]
	}
	dirs, problems := parse(lx, path, maxDepth)
	if arena != nil {
		clear(lx.arena) // drop the strings of this file
		*arena = lx.arena[:0]
	}
	return dirs, problems
}

func parse(lx *lexer, path string, maxDepth int) ([]*Directive, []Problem) {
	src := lx.src
	// Every directive ends with ';' or '{', so their count bounds the
	// directives of the file (it is exact unless comments or quoted
	// strings hold some): one slab of each fits all of them.
	n := bytes.Count(src, []byte{';'}) + bytes.Count(src, []byte{'{'})
	var (
		stack []*Directive // open blocks
		// kids collects the children of every open block, innermost last;
		// marks[i] is where stack[i]'s children start. Each block gets an
		// exact-size slice when it closes.
		kids  []*Directive
		marks []int
		slab  = make([]Directive, n)
		syns  = make([]Syntax, n)
		nargs int // arguments of all directives, names not counted
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
		compactArgs(top, nargs)
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
			if len(slab) == 0 { // cannot happen: see n
				n := min((len(src)-lx.pos)/40+4, 256)
				slab, syns = make([]Directive, n), make([]Syntax, n)
			}
			nargs += len(args) - 1
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
