package report

import (
	"encoding/json"
	"io"
)

// GitLab Code Quality (a subset of Code Climate's format): a JSON array of
// issues with description, check_name, fingerprint, severity and
// location.path / location.lines.begin. GitLab shows it on merge requests
// when a job's artifacts:reports:codequality names the file.

type cqIssue struct {
	Description string     `json:"description"`
	CheckName   string     `json:"check_name"`
	Fingerprint string     `json:"fingerprint"`
	Severity    string     `json:"severity"`
	Location    cqLocation `json:"location"`
}

type cqLocation struct {
	Path  string  `json:"path"`
	Lines cqLines `json:"lines"`
}

type cqLines struct {
	Begin int `json:"begin"`
}

// WriteCodeQuality writes r as a GitLab Code Quality report. Findings
// with no place in the repository are left out: GitLab needs a path.
func WriteCodeQuality(w io.Writer, r *Report, o RepoOptions) error {
	issues := []cqIssue{}
	for _, p := range PlaceAll(r, o) {
		if !p.Located {
			continue
		}
		line := p.Place.Line
		if line < 1 {
			line = 1
		}
		issues = append(issues, cqIssue{
			Description: p.Finding.Cause + ": " + p.Finding.Title,
			CheckName:   p.Finding.Cause,
			Fingerprint: p.Fingerprint,
			Severity:    cqSeverity(p.Finding.Severity),
			Location:    cqLocation{Path: p.Place.File, Lines: cqLines{Begin: line}},
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(issues)
}

// cqSeverity: an error fails requests (critical), a warning is a risk
// (minor), anything else is info.
func cqSeverity(s Severity) string {
	switch s {
	case Error:
		return "critical"
	case Warning:
		return "minor"
	}
	return "info"
}
