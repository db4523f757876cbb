package deploy

import (
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/fpmdoctor/fpmdoctor/docs"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// promtool returns promtool's path, or ends the test: skipped with the
// reason on a developer's machine, failed in CI.
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		lab.Unavailable(t, "promtool is not installed (apt-get install prometheus)")
	}
	return p
}

func TestRulesPromtool(t *testing.T) {
	pt := promtool(t)
	for _, args := range [][]string{
		{"check", "rules", "prometheus/rules.yml"},
		{"check", "config", "prometheus/prometheus.yml"},
		{"test", "rules", "prometheus/rules_test.yml"},
	} {
		out, err := exec.Command(pt, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T, path string) ruleFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rf
}

var explainRe = regexp.MustCompile("fpmdoctor explain ([a-z{][-a-z. ${}]*[a-z}])")

// TestRulesNameCauses: every alert's annotations say which cause it is and
// how to read about it, with a cause fpmdoctor knows (or the cause label of
// the series, for the per-cause alerts); every alert is tested.
func TestRulesNameCauses(t *testing.T) {
	rf := readRules(t, "prometheus/rules.yml")
	tests, err := os.ReadFile("prometheus/rules_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			n++
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs a summary and a description", r.Alert)
			}
			if !strings.Contains(string(tests), "alertname: "+r.Alert+"\n") {
				t.Errorf("%s: no test in rules_test.yml", r.Alert)
			}
			cause := r.Labels["cause"]
			if cause == "watch" { // the watcher itself, not a 502 cause
				continue
			}
			if !strings.Contains(r.Annotations["summary"], "cause") || !explainRe.MatchString(r.Annotations["summary"]) {
				t.Errorf("%s: the summary does not name the cause and `fpmdoctor explain CAUSE`: %q", r.Alert, r.Annotations["summary"])
			}
			m := explainRe.FindAllStringSubmatch(r.Annotations["summary"]+" "+r.Annotations["description"]+" "+r.Annotations["runbook"], -1)
			for _, sm := range m {
				c := sm[1]
				if c == "{{ $labels.cause }}" {
					continue
				}
				if _, ok := docs.Cause(c); !ok {
					t.Errorf("%s: fpmdoctor explain %s: no such cause", r.Alert, c)
				}
			}
			if cause != "" {
				if _, ok := docs.Cause(cause); !ok {
					t.Errorf("%s: label cause=%q is no cause fpmdoctor knows", r.Alert, cause)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no rules read")
	}
}

// contractMetrics are the names DESIGN.md's metrics contract and issue 9
// promise; the watcher's real list replaces them once it is merged.
func contractMetrics() []string {
	return []string{
		"phpfpm_up", "phpfpm_accepted_connections", "phpfpm_active_processes", "phpfpm_idle_processes",
		"phpfpm_total_processes", "phpfpm_listen_queue", "phpfpm_max_listen_queue", "phpfpm_max_children_reached",
		"phpfpm_slow_requests", "phpfpm_start_since", "phpfpm_pm_max_children_config",
		"fpmdoctor_finding", "fpmdoctor_upstream_failures_total", "fpmdoctor_probe_duration_seconds",
		"fpmdoctor_socket_backlog", "fpmdoctor_socket_backlog_limit", "fpmdoctor_last_check_timestamp_seconds",
		"fpmdoctor_build_info",
	}
}

var metricRe = regexp.MustCompile(`\b(?:phpfpm|fpmdoctor)_[a-z_]+\b`)

// usedMetrics returns the metric names a PromQL text uses; a histogram's
// _bucket/_sum/_count series count as the histogram.
func usedMetrics(exprs ...string) []string {
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricRe.FindAllString(e, -1) {
			for _, suf := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(m, suf); ok && strings.HasSuffix(base, "_seconds") {
					m = base
				}
			}
			seen[m] = true
		}
	}
	out := make([]string, 0, len(seen))
	for m := range seen {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

func ruleExprs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, g := range readRules(t, "prometheus/rules.yml").Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}

// dashboardExprs returns every PromQL query of the dashboard: panel
// targets and template variable queries.
func dashboardExprs(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("grafana/fpmdoctor.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/fpmdoctor.json: %v", err)
	}
	var out []string
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("dashboard: panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if len(p.Targets) == 0 {
			t.Errorf("dashboard: panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		out = append(out, v.Definition)
	}
	return out
}

// TestMetricNamesExist: the rules and the dashboard use only metrics the
// watcher exports, so neither silently matches nothing.
func TestMetricNamesExist(t *testing.T) {
	known := exportedMetrics(t)
	for what, exprs := range map[string][]string{"prometheus/rules.yml": ruleExprs(t), "grafana/fpmdoctor.json": dashboardExprs(t)} {
		used := usedMetrics(exprs...)
		if len(used) == 0 {
			t.Errorf("%s: no metric found", what)
		}
		for _, m := range used {
			if !slices.Contains(known, m) {
				t.Errorf("%s uses %s, which fpmdoctor watch does not export", what, m)
			}
		}
	}
}
