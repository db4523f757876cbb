package docs

import (
	"slices"
	"strings"
	"testing"
)

// contractCauses is the "Causes (contract)" table of DESIGN.md. Causes may
// be added, never renamed or removed, so every one of these needs a page.
var contractCauses = []string{
	"fpm-down",
	"fpm-config-invalid",
	"nginx-config-invalid",
	"listen-mismatch",
	"stale-socket",
	"socket-permission",
	"allowed-clients",
	"config-not-applied",
	"pool-exhausted",
	"backlog-overflow",
	"request-timeout",
	"worker-crash",
	"worker-oom",
	"memory-overcommit",
	"header-too-big",
	"upstream-timeout",
	"firewall",
	"not-fastcgi",
	"script-not-found",
}

func TestEveryContractCauseHasAPage(t *testing.T) {
	have := Causes()
	for _, c := range contractCauses {
		if !slices.Contains(have, c) {
			t.Errorf("Causes() lacks %q", c)
		}
		if _, ok := Cause(c); !ok {
			t.Errorf("no page for cause %q (want causes/%s.md)", c, c)
		}
	}
}

func TestCausesSortedWithoutIndex(t *testing.T) {
	have := Causes()
	if !slices.IsSorted(have) {
		t.Errorf("Causes() not sorted: %v", have)
	}
	for _, n := range have {
		if strings.EqualFold(n, "README") {
			t.Errorf("Causes() includes the index %q", n)
		}
	}
	// Each call returns a fresh slice: callers may modify it.
	if len(have) > 0 {
		have[0] = "changed"
		if Causes()[0] == "changed" {
			t.Error("Causes() shares its slice between calls")
		}
	}
}

func TestPageStructure(t *testing.T) {
	want := Sections()
	for _, c := range Causes() {
		page, ok := Cause(c)
		if !ok {
			t.Errorf("%s: listed by Causes() but Cause() finds no page", c)
			continue
		}
		first, _, _ := strings.Cut(page, "\n")
		if first != "# "+c {
			t.Errorf("%s: first line is %q, want %q", c, first, "# "+c)
		}
		if got := headings(page); !slices.Equal(got, want) {
			t.Errorf("%s: sections are %q, want exactly %q in this order", c, got, want)
		}
		for _, s := range want {
			if body := section(page, s); strings.TrimSpace(body) == "" {
				t.Errorf("%s: section %q is empty", c, s)
			}
		}
		if Title(c) == "" {
			t.Errorf("%s: Title is empty", c)
		}
	}
}

func TestTitle(t *testing.T) {
	for _, c := range Causes() {
		title := Title(c)
		if strings.ContainsAny(title, "`\n") || strings.HasSuffix(title, ".") {
			t.Errorf("%s: Title %q should be plain text without the final period", c, title)
		}
	}
	if got := Title("no-such-cause"); got != "" {
		t.Errorf("Title of an unknown cause = %q, want empty", got)
	}
	page := "# x\n\nThe `listen` address is wrong. More text.\n\n## What you see\n"
	if got, want := firstSentence(page), "The listen address is wrong"; got != want {
		t.Errorf("firstSentence = %q, want %q", got, want)
	}
	page = "# x\nSpans\ntwo lines, with pm.max_children inside.\n"
	if got, want := firstSentence(page), "Spans two lines, with pm.max_children inside"; got != want {
		t.Errorf("firstSentence = %q, want %q", got, want)
	}
}

func TestCauseRejectsOtherNames(t *testing.T) {
	for _, n := range []string{"", "README", "readme", "../docs", "causes/fpm-down", "fpm-down.md", "Fpm-Down", "no-such-cause"} {
		if _, ok := Cause(n); ok {
			t.Errorf("Cause(%q) found a page", n)
		}
	}
}

func TestIndexListsEveryCause(t *testing.T) {
	b, err := files.ReadFile("causes/README.md")
	if err != nil {
		t.Fatal(err)
	}
	idx := string(b)
	for _, c := range Causes() {
		if !strings.Contains(idx, "| ["+c+"]("+c+".md) |") {
			t.Errorf("causes/README.md has no row for %s", c)
		}
	}
}

func TestHeadingsHelper(t *testing.T) {
	page := "# a\n\n## What you see\n```\n## not a heading\n```\n### sub\n## The fix\n"
	if got, want := headings(page), []string{"What you see", "The fix"}; !slices.Equal(got, want) {
		t.Errorf("headings = %q, want %q", got, want)
	}
}

// headings returns the "## " headings of page, outside fenced code blocks.
func headings(page string) []string {
	var out []string
	fenced := false
	for _, l := range strings.Split(page, "\n") {
		if strings.HasPrefix(l, "```") {
			fenced = !fenced
			continue
		}
		if !fenced && strings.HasPrefix(l, "## ") {
			out = append(out, strings.TrimSpace(strings.TrimPrefix(l, "## ")))
		}
	}
	return out
}

// section returns the text under the "## name" heading, up to the next one.
func section(page, name string) string {
	_, rest, ok := strings.Cut(page, "\n## "+name+"\n")
	if !ok {
		return ""
	}
	body, _, _ := strings.Cut(rest, "\n## ")
	return body
}
