package checks

import (
	"fmt"
	"path"
	"strings"

	"github.com/fpmdoctor/fpmdoctor/internal/discover"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
	"github.com/fpmdoctor/fpmdoctor/internal/snapshot"
)

// socketNaming: the pools of one PHP version (one php-fpm) put their unix
// sockets in different directories, or only some socket names carry the
// version. Nothing fails today. But nginx configs are written from the
// socket names; when names follow no pattern, a site copied from another,
// or a PHP upgrade, ends on an address nobody listens on (listen-mismatch,
// 502). The usual 502 checklist: use the same socket naming (for example
// /run/php/phpX.Y-fpm-NAME.sock) for every pool of a version.
//
// The pattern most pools follow (directory, and whether the name carries
// the version) is the norm; ties go to the first pool. Each pool that
// differs gets a warning.
var socketNaming = Check{
	ID:    "socket-naming",
	Cause: "socket-naming",
	Step:  report.StepListen,
	Run: func(s *snapshot.Snapshot) []report.Finding {
		var out []report.Finding
		for _, f := range s.FPM {
			version := discover.DebianPHPVersion(f.Conf)
			var pools []*snapshot.Pool
			count := map[socketPattern]int{}
			var norm socketPattern
			for _, p := range f.Pools {
				if p.ListenErr != nil || p.Listen.Network != "unix" || p.Setting == nil {
					continue
				}
				pt := patternOf(p.Listen.Path, version)
				pools = append(pools, p)
				count[pt]++
				if len(pools) == 1 || count[pt] > count[norm] {
					norm = pt
				}
			}
			if len(pools) < 2 {
				continue
			}
			var example string
			for _, p := range pools {
				if patternOf(p.Listen.Path, version) == norm {
					example = p.Listen.Path
					break
				}
			}
			for _, p := range pools {
				pt := patternOf(p.Listen.Path, version)
				if pt == norm {
					continue
				}
				var why string
				switch {
				case pt.dir != norm.dir:
					why = fmt.Sprintf("in %s, while %d of the %d pools of this php-fpm use %s", pt.dir, count[norm], len(pools), norm.dir)
				case norm.tagged:
					why = fmt.Sprintf("without the PHP version %s in its name, while %d of the %d pools of this php-fpm have it", version, count[norm], len(pools))
				default:
					why = fmt.Sprintf("with the PHP version in its name, while %d of the %d pools of this php-fpm do not", count[norm], len(pools))
				}
				out = append(out, report.Finding{
					Severity: report.Warning,
					Pool:     p.ID(),
					Title:    fmt.Sprintf("pool %s's socket %s is named unlike the other pools of this PHP version", p.Name, p.Listen.Path),
					Detail:   "The socket is " + why + " (for example " + example + "). Nothing fails now; but nginx configs are written from these names, and a copied site or the next PHP upgrade ends on a socket nobody listens on (502).",
					Evidence: []report.Evidence{settingEvidence(p.Setting), fact("php-fpm %s (PHP %s): %d pools on unix sockets", f.Conf, orUnknown(version), len(pools))},
					Fix:      &report.Fix{Summary: fmt.Sprintf("name the socket like the others (%s), then change the fastcgi_pass lines that use it in the same change", example)},
				})
			}
		}
		return out
	},
}

type socketPattern struct {
	dir    string
	tagged bool // the file name carries the PHP version
}

func patternOf(sock, version string) socketPattern {
	base := path.Base(sock)
	tagged := version != "" && (strings.Contains(base, version) || strings.Contains(base, strings.ReplaceAll(version, ".", "")))
	return socketPattern{dir: path.Dir(sock), tagged: tagged}
}

func orUnknown(v string) string {
	if v == "" {
		return "version unknown"
	}
	return v
}
