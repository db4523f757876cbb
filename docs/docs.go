// Package docs holds one documentation page per cause fpmdoctor reports,
// embedded in the binary. The pages are Markdown files under causes/, named
// after the cause ("causes/socket-permission.md"); causes/README.md is the
// index and is not a cause.
//
// Every page has the same shape:
//
//	# <cause>
//	One sentence saying what the cause is.
//
//	## What you see
//	## Why it happens
//	## What fpmdoctor checks
//	## The fix
//	## How to prevent it
package docs

import (
	"embed"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed causes/*.md
var files embed.FS

const (
	dir   = "causes"
	ext   = ".md"
	index = "README"
)

// Sections are the "## " headings every cause page has, in this order.
func Sections() []string {
	return []string{
		"What you see",
		"Why it happens",
		"What fpmdoctor checks",
		"The fix",
		"How to prevent it",
	}
}

// Cause returns the Markdown page for the named cause, and whether there is one.
func Cause(name string) (string, bool) {
	if !validName(name) {
		return "", false
	}
	b, err := files.ReadFile(dir + "/" + name + ext)
	if err != nil {
		return "", false
	}
	return string(b), true
}

// Causes lists the causes that have a page, sorted.
func Causes() []string {
	entries, err := fs.ReadDir(files, dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || path.Ext(n) != ext {
			continue
		}
		n = strings.TrimSuffix(n, ext)
		if !validName(n) {
			continue
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Title returns the first sentence of the named cause's page, the line under
// its "# " heading, without Markdown code quotes or the final period. It is
// meant for one-line listings and SARIF rule descriptions. It returns "" when
// there is no such page.
func Title(name string) string {
	page, ok := Cause(name)
	if !ok {
		return ""
	}
	return firstSentence(page)
}

// validName accepts cause names as the contract spells them: lower-case
// words joined by hyphens. It rejects the index and anything path-like.
func validName(name string) bool {
	if name == "" || name == index {
		return false
	}
	for _, r := range name {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
			return false
		}
	}
	return true
}

// firstSentence finds the paragraph after the page's "# " heading and
// returns its first sentence.
func firstSentence(page string) string {
	lines := strings.Split(strings.ReplaceAll(page, "\r\n", "\n"), "\n")
	i := 0
	for i < len(lines) && !strings.HasPrefix(lines[i], "# ") {
		i++
	}
	i++
	for i < len(lines) && strings.TrimSpace(lines[i]) == "" {
		i++
	}
	var para []string
	for ; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "#") {
			break
		}
		para = append(para, l)
	}
	s := strings.Join(para, " ")
	if j := strings.Index(s, ". "); j >= 0 {
		s = s[:j+1]
	}
	s = strings.TrimSuffix(s, ".")
	s = strings.ReplaceAll(s, "`", "")
	return strings.TrimSpace(s)
}

// UsualSeverity returns the "usual severity" column of the index's row for
// the named cause (error, warning), or "" when the index has no such row.
// SARIF rules take it as their default level.
func UsualSeverity(name string) string {
	b, err := files.ReadFile(dir + "/" + index + ext)
	if err != nil || !validName(name) {
		return ""
	}
	prefix := "| [" + name + "](" + name + ext + ") |"
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			sev, _, _ := strings.Cut(rest, "|")
			return strings.TrimSpace(sev)
		}
	}
	return ""
}
