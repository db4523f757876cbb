package nginxconf

import (
	"fmt"
	"strings"
)

// Arg is one argument of a directive.
type Arg struct {
	// Value is the argument as nginx sees it: quotes removed, escapes
	// (\" \' \\ \n \r \t) applied.
	Value string
	// Raw is the exact source text, quotes included.
	Raw string
	// Start and End are byte offsets of Raw in the file's Src.
	Start, End int
	// Quoted is true when the argument was written in single or double quotes.
	Quoted bool
}

// Directive is one simple or block directive. Directives read from included
// files are spliced into the tree where the include was; each keeps the
// File, Line and offsets of the file it was read from.
//
// What was written (name, arguments, position) is in the embedded Syntax,
// shared by every splice of a file included from several places; only the
// tree links (Block, Parent, Via) are per splice. Treat Syntax as read-only.
type Directive struct {
	*Syntax
	Block []*Directive
	// Parent is the enclosing block directive, nil at the top level.
	Parent *Directive
	// Via is the include that brought this directive into the tree, nil for
	// directives of the main file.
	Via *Include
}

// Syntax is a directive as written in its file.
type Syntax struct {
	Name string
	Args []Arg
	// File is the path as the host sees it (without Options.Root).
	File string
	// Line is the line of the first byte of the name (1-based).
	Line int
	// Start is the offset of the first byte of the name; End is just after
	// the terminating ";" or the closing "}".
	Start, End int
	// IsBlock is true for block directives; then BlockOpen is the offset of
	// "{" and BlockClose the offset of "}" (or -1 when the file ended first).
	IsBlock               bool
	BlockOpen, BlockClose int
}

// ArgValues returns the values of the arguments.
func (d *Directive) ArgValues() []string {
	out := make([]string, len(d.Args))
	for i, a := range d.Args {
		out[i] = a.Value
	}
	return out
}

// Arg returns the value of the i-th argument, or "" when there is none.
func (d *Directive) Arg(i int) string {
	if i < 0 || i >= len(d.Args) {
		return ""
	}
	return d.Args[i].Value
}

// Pos returns "file:line", the form nginx uses in its messages.
func (d *Directive) Pos() string { return fmt.Sprintf("%s:%d", d.File, d.Line) }

// String renders the directive on one line (for messages, not for writing
// files: files are edited by byte range).
func (d *Directive) String() string {
	var b strings.Builder
	b.WriteString(d.Name)
	for _, a := range d.Args {
		b.WriteByte(' ')
		b.WriteString(a.Raw)
	}
	if d.IsBlock {
		b.WriteString(" { ... }")
	} else {
		b.WriteByte(';')
	}
	return b.String()
}

// Find returns the direct children named name (include splicing already
// applied, so directives from included files are found too).
func (d *Directive) Find(name string) []*Directive {
	if d == nil {
		return nil
	}
	return find(d.Block, name)
}

// FindOne returns the last direct child named name, or nil. nginx rejects
// most duplicated single-value directives ("is duplicate"); returning the
// last one lets callers see a value either way.
func (d *Directive) FindOne(name string) *Directive {
	all := d.Find(name)
	if len(all) == 0 {
		return nil
	}
	return all[len(all)-1]
}

// Inherited returns the directive named name in d's own block or, failing
// that, in the nearest enclosing block that has one (the http → server →
// location → if inheritance of nginx's merge functions). nil means nginx's
// default applies. It looks only at direct children of each level.
func (d *Directive) Inherited(name string) *Directive {
	for cur := d; cur != nil; cur = cur.Parent {
		if found := cur.FindOne(name); found != nil {
			return found
		}
	}
	return nil
}

// InheritedAll is Inherited for array directives such as fastcgi_param:
// nginx inherits them from the outer level only when the inner level
// defines none, so it returns every one of the nearest level that has any.
func (d *Directive) InheritedAll(name string) []*Directive {
	for cur := d; cur != nil; cur = cur.Parent {
		if found := cur.Find(name); len(found) > 0 {
			return found
		}
	}
	return nil
}

// Ancestor returns the nearest enclosing directive named name, or nil.
func (d *Directive) Ancestor(name string) *Directive {
	for cur := d.Parent; cur != nil; cur = cur.Parent {
		if cur.Name == name {
			return cur
		}
	}
	return nil
}

// Walk calls fn for every directive in ds and their blocks, depth first in
// file order. When fn returns false the directive's block is skipped.
func Walk(ds []*Directive, fn func(*Directive) bool) {
	for _, d := range ds {
		if fn(d) && len(d.Block) > 0 {
			Walk(d.Block, fn)
		}
	}
}

func find(ds []*Directive, name string) []*Directive {
	var out []*Directive
	for _, d := range ds {
		if d.Name == name {
			out = append(out, d)
		}
	}
	return out
}

// Problem is something nginx would reject or that makes the configuration
// unreadable, with nginx's wording where nginx has one.
type Problem struct {
	File    string
	Line    int
	Message string
}

// Error formats the problem as nginx does: "MESSAGE in FILE:LINE".
func (p Problem) Error() string {
	if p.File == "" {
		return p.Message
	}
	return fmt.Sprintf("%s in %s:%d", p.Message, p.File, p.Line)
}
