package report

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/docs"
	"github.com/fpmdoctor/fpmdoctor/internal/version"
)

// SARIF 2.1.0 as GitHub and GitLab code scanning read it: one rule per
// cause (title, the explain page as help, default level), one result per
// finding at its first config evidence, with fingerprints that survive
// lines moving.

// DocsURL is where the cause pages are published; a rule's helpUri is
// DocsURL + cause + ".md".
const DocsURL = "https://github.com/fpmdoctor/fpmdoctor/blob/main/docs/causes/"

// FingerprintKey names fpmdoctor's partialFingerprints entry; the /v1
// changes only if what is hashed changes.
const FingerprintKey = "fpmdoctorFinding/v1"

// Locator maps the host paths of evidence to files of a repository.
type Locator interface {
	// File returns the repository file (relative, slash-separated) that
	// host path p reads; ok false when it is outside the repository.
	File(p string) (string, bool)
	// Column is the 1-based column of text on line of p, 0 if unknown.
	Column(p string, line int, text string) int
}

// RepoOptions say how findings are placed in a repository (fpmdoctor
// check). The zero value keeps host paths (diagnose).
type RepoOptions struct {
	// Dir is the repository's absolute path, for SARIF's %SRCROOT%.
	Dir     string
	Locator Locator
	// Fallback is the host path a finding without config evidence is
	// placed at (the main nginx config): code scanning shows only results
	// with a location.
	Fallback string
	// Rules are the causes of the checks that ran; a rule is also added
	// for any other cause found.
	Rules []string
	// Version is the tool's version ("" when unknown).
	Version string
}

// Place is where a finding points: a file (repository-relative with a
// Locator, else the host path), line, column and the quoted text.
type Place struct {
	File   string
	Line   int
	Column int
	Text   string
	// InRepo is set when File is relative to the repository.
	InRepo bool
}

// Placed is a finding with its place and fingerprint.
type Placed struct {
	Finding     Finding
	Place       Place
	Located     bool
	Fingerprint string
}

// PlaceAll places every finding and fingerprints it: sha256 of cause,
// file and the quoted directive (never the line, which moves when lines
// are added above), with "#2", "#3" … for repeats of the same triple, in
// report order.
func PlaceAll(r *Report, o RepoOptions) []Placed {
	out := make([]Placed, 0, len(r.Findings))
	seen := map[string]int{}
	for _, f := range r.Findings {
		p := Placed{Finding: f}
		p.Place, p.Located = place(f, o)
		key := f.Cause + "\x00" + p.Place.File + "\x00" + strings.Join(strings.Fields(p.Place.Text), " ")
		if p.Place.Text == "" {
			key += "\x00" + f.Title
		}
		seen[key]++
		if n := seen[key]; n > 1 {
			key += "#" + strconv.Itoa(n)
		}
		sum := sha256.Sum256([]byte(key))
		p.Fingerprint = hex.EncodeToString(sum[:16])
		out = append(out, p)
	}
	return out
}

func place(f Finding, o RepoOptions) (Place, bool) {
	for _, e := range f.Evidence {
		if e.Kind != KindConfig || e.File == "" {
			continue
		}
		if o.Locator == nil {
			return Place{File: e.File, Line: e.Line, Text: e.Text}, true
		}
		if rel, ok := o.Locator.File(e.File); ok {
			return Place{File: rel, Line: e.Line, Column: o.Locator.Column(e.File, e.Line, e.Text), Text: e.Text, InRepo: true}, true
		}
	}
	if o.Fallback != "" {
		if o.Locator == nil {
			return Place{File: o.Fallback}, true
		}
		if rel, ok := o.Locator.File(o.Fallback); ok {
			return Place{File: rel, InRepo: true}, true
		}
	}
	return Place{}, false
}

type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                `json:"tool"`
	Invocations        []sarifInvocation        `json:"invocations"`
	OriginalURIBaseIDs map[string]sarifArtifact `json:"originalUriBaseIds,omitempty"`
	Results            []sarifResult            `json:"results"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool `json:"executionSuccessful"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string        `json:"id"`
	ShortDescription     sarifMessage  `json:"shortDescription"`
	Help                 *sarifHelp    `json:"help,omitempty"`
	HelpURI              string        `json:"helpUri,omitempty"`
	DefaultConfiguration *sarifRuleCfg `json:"defaultConfiguration,omitempty"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifRuleCfg struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations,omitempty"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

// WriteSARIF writes r as SARIF 2.1.0, placed in the repository o names.
func WriteSARIF(w io.Writer, r *Report, o RepoOptions) error {
	if o.Version == "" {
		o.Version = version.Short()
	}
	run := sarifRun{
		Tool:        sarifTool{Driver: sarifDriver{Name: "fpmdoctor", Version: o.Version, InformationURI: "https://github.com/fpmdoctor/fpmdoctor"}},
		Invocations: []sarifInvocation{{ExecutionSuccessful: true}},
		Results:     []sarifResult{},
	}
	if o.Locator != nil && o.Dir != "" {
		run.OriginalURIBaseIDs = map[string]sarifArtifact{"%SRCROOT%": {URI: fileURI(o.Dir, true)}}
	}
	ids := slices.Clone(o.Rules)
	for _, f := range r.Findings {
		ids = append(ids, f.Cause)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	index := map[string]int{}
	for i, id := range ids {
		index[id] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(id))
	}
	if run.Tool.Driver.Rules == nil {
		run.Tool.Driver.Rules = []sarifRule{}
	}
	for _, p := range PlaceAll(r, o) {
		f := p.Finding
		res := sarifResult{RuleID: f.Cause, RuleIndex: index[f.Cause], Level: sarifLevel(f.Severity),
			Message:             sarifMessage{Text: f.Title + ": " + f.Detail},
			PartialFingerprints: map[string]string{FingerprintKey: p.Fingerprint}}
		if p.Located {
			loc := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: fileURI(p.Place.File, false)}}}
			if p.Place.InRepo {
				loc.PhysicalLocation.ArtifactLocation = sarifArtifact{URI: relURI(p.Place.File), URIBaseID: "%SRCROOT%"}
			}
			if p.Place.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{StartLine: p.Place.Line, StartColumn: p.Place.Column}
			}
			res.Locations = []sarifLocation{loc}
		}
		if f.Fix != nil && f.Fix.Summary != "" {
			res.Message.Text += " Fix: " + f.Fix.Summary
		}
		run.Results = append(run.Results, res)
	}
	log := sarifLog{Version: "2.1.0", Schema: "https://json.schemastore.org/sarif-2.1.0.json", Runs: []sarifRun{run}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func sarifRuleFor(id string) sarifRule {
	rule := sarifRule{ID: id, ShortDescription: sarifMessage{Text: id}}
	if t := docs.Title(id); t != "" {
		rule.ShortDescription.Text = t
	}
	if page, ok := docs.Cause(id); ok {
		rule.Help = &sarifHelp{Text: page, Markdown: page}
		rule.HelpURI = DocsURL + id + ".md"
	}
	switch docs.UsualSeverity(id) {
	case "error":
		rule.DefaultConfiguration = &sarifRuleCfg{Level: "error"}
	case "warning":
		rule.DefaultConfiguration = &sarifRuleCfg{Level: "warning"}
	case "info":
		rule.DefaultConfiguration = &sarifRuleCfg{Level: "note"}
	}
	return rule
}

// relURI escapes a repository-relative path as a relative URI reference.
func relURI(p string) string {
	return (&url.URL{Path: p}).EscapedPath()
}

// fileURI is the file: URI of an absolute path; dir adds the final "/"
// SARIF requires of a base URI.
func fileURI(p string, dir bool) string {
	p = filepath.ToSlash(p)
	if dir && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

func sarifLevel(s Severity) string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}
