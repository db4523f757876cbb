package probe

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// parseStatusXML reads ?xml: a root element (<status>) whose direct
// children are the pool's fields, then optionally <processes>, which is
// skipped. It is a reader for that flat document only, not a general XML
// parser: encoding/xml's package initialisation (its HTML entity tables)
// would cost every start of fpmdoctor and fpmdoctor-probe about 0.15 ms and
// 6 page faults for a format a probe never asks for (it asks ?json).
// It decodes what encoding/xml would into statusRecord
// (FuzzStatusXMLMatchesEncodingXML checks that): the first element is the
// root whatever its name, a child's own character data (CDATA included,
// entities and character references decoded, CR LF as LF) is its value,
// the last of repeated children wins, deeper elements, comments,
// processing instructions and attributes are skipped, and integers allow
// surrounding space. Malformed markup is an error.
func parseStatusXML(b []byte) (*Status, error) {
	var r statusRecord
	if err := decodeFlatXML(b, func(name string, text []byte) error {
		return r.setXML(name, text)
	}); err != nil {
		return nil, fmt.Errorf("xml: %w", err)
	}
	return r.status(), nil
}

// setXML stores one field of the xml format by its element name.
func (r *statusRecord) setXML(name string, text []byte) error {
	var p *int64
	switch name {
	case "pool":
		r.Pool = string(text)
		return nil
	case "process-manager":
		r.ProcessManager = string(text)
		return nil
	case "start-time":
		p = &r.StartTime
	case "start-since":
		p = &r.StartSince
	case "accepted-conn":
		p = &r.AcceptedConn
	case "listen-queue":
		p = &r.ListenQueue
	case "max-listen-queue":
		p = &r.MaxListenQueue
	case "listen-queue-len":
		p = &r.ListenQueueLen
	case "idle-processes":
		p = &r.IdleProcesses
	case "active-processes":
		p = &r.ActiveProcesses
	case "total-processes":
		p = &r.TotalProcesses
	case "max-active-processes":
		p = &r.MaxActiveProcesses
	case "max-children-reached":
		p = &r.MaxChildrenReached
	case "slow-requests":
		p = &r.SlowRequests
	default:
		return nil
	}
	if len(text) == 0 {
		*p = 0
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(text)), 10, 64)
	if err != nil {
		return fmt.Errorf("<%s>: %w", name, err)
	}
	*p = n
	return nil
}

// decodeFlatXML calls field for each direct child of the document's root
// element with the child's local name and decoded character data.
func decodeFlatXML(b []byte, field func(name string, text []byte) error) error {
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	var (
		stack []string // open elements' names
		text  []byte   // the current depth-2 element's character data
	)
	for i := 0; i < len(b); {
		if b[i] != '<' {
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				j = len(b) - i
			}
			if len(stack) == 2 {
				var err error
				if text, err = appendText(text, b[i:i+j]); err != nil {
					return err
				}
			} else if len(stack) > 0 {
				if _, err := appendText(nil, b[i:i+j]); err != nil {
					return err
				}
			}
			i += j
			continue
		}
		rest := b[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("<!--")):
			j := bytes.Index(rest[4:], []byte("-->"))
			if j < 0 {
				return errors.New("unterminated comment")
			}
			i += 4 + j + 3
		case bytes.HasPrefix(rest, []byte("<![CDATA[")):
			j := bytes.Index(rest[9:], []byte("]]>"))
			if j < 0 {
				return errors.New("unterminated CDATA section")
			}
			if len(stack) == 2 {
				text = append(text, rest[9:9+j]...)
			}
			i += 9 + j + 3
		case bytes.HasPrefix(rest, []byte("<?")):
			j := bytes.Index(rest[2:], []byte("?>"))
			if j < 0 {
				return errors.New("unterminated processing instruction")
			}
			i += 2 + j + 2
		case bytes.HasPrefix(rest, []byte("<!")):
			if len(stack) > 0 {
				return errors.New("unexpected <! inside an element")
			}
			j, err := tagEnd(rest)
			if err != nil {
				return err
			}
			i += j
		case bytes.HasPrefix(rest, []byte("</")):
			j, err := tagEnd(rest)
			if err != nil {
				return err
			}
			name := strings.TrimSpace(string(rest[2 : j-1]))
			if len(stack) == 0 || name != stack[len(stack)-1] {
				return fmt.Errorf("unexpected end element </%s>", name)
			}
			if len(stack) == 2 {
				if err := field(localName(name), text); err != nil {
					return err
				}
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return nil // the root is complete; the rest is not read
			}
			i += j
		default:
			j, err := tagEnd(rest)
			if err != nil {
				return err
			}
			tag := rest[1 : j-1]
			empty := bytes.HasSuffix(tag, []byte("/"))
			if empty {
				tag = tag[:len(tag)-1]
			}
			name := string(tag)
			if k := bytes.IndexAny(tag, " \t\r\n"); k >= 0 {
				name = string(tag[:k])
			}
			if !validName(name) {
				return fmt.Errorf("invalid element name %q", name)
			}
			stack = append(stack, name)
			if len(stack) == 2 {
				text = text[:0]
			}
			i += j
			if empty {
				// <x/> is <x></x>.
				if len(stack) == 2 {
					if err := field(localName(name), nil); err != nil {
						return err
					}
				}
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return nil
				}
			}
		}
	}
	if len(stack) == 0 {
		return errors.New("no root element")
	}
	return fmt.Errorf("unexpected end of document inside <%s>", stack[len(stack)-1])
}

// tagEnd returns the length of the tag starting at b[0] == '<', up to and
// including its '>', skipping quoted attribute values.
func tagEnd(b []byte) (int, error) {
	var quote byte
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '<':
			return 0, errors.New("unexpected < inside a tag")
		case c == '>':
			return i + 1, nil
		}
	}
	return 0, errors.New("unterminated tag")
}

// localName drops a namespace prefix, as encoding/xml matches fields.
func localName(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

func validName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
		case i > 0 && (c == '-' || c == '.' || c >= '0' && c <= '9'):
		default:
			return false
		}
	}
	return true
}

// appendText appends character data with its entity and character
// references decoded and line ends normalised to LF.
func appendText(dst, s []byte) ([]byte, error) {
	for len(s) > 0 {
		switch c := s[0]; c {
		case '\r':
			dst = append(dst, '\n')
			s = s[1:]
			if len(s) > 0 && s[0] == '\n' {
				s = s[1:]
			}
		case '&':
			j := bytes.IndexByte(s, ';')
			if j < 0 {
				return nil, errors.New("unterminated entity reference")
			}
			ref := string(s[1:j])
			switch ref {
			case "lt":
				dst = append(dst, '<')
			case "gt":
				dst = append(dst, '>')
			case "amp":
				dst = append(dst, '&')
			case "apos":
				dst = append(dst, '\'')
			case "quot":
				dst = append(dst, '"')
			default:
				r, ok := charRef(ref)
				if !ok {
					return nil, fmt.Errorf("invalid character entity &%s;", ref)
				}
				dst = utf8.AppendRune(dst, r)
			}
			s = s[j+1:]
		default:
			dst = append(dst, c)
			s = s[1:]
		}
	}
	return dst, nil
}

// charRef decodes "#N" and "#xN" to a character XML allows.
func charRef(ref string) (rune, bool) {
	var (
		n   uint64
		err error
	)
	switch {
	case strings.HasPrefix(ref, "#x"):
		n, err = strconv.ParseUint(ref[2:], 16, 32)
	case strings.HasPrefix(ref, "#"):
		n, err = strconv.ParseUint(ref[1:], 10, 32)
	default:
		return 0, false
	}
	r := rune(n)
	ok := err == nil && (r == 0x09 || r == 0x0A || r == 0x0D || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF)
	return r, ok
}
