package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/lab"
)

// forRe matches the rules' hold durations.
var forRe = regexp.MustCompile(`(?m)^(\s+for:\s*)\S+\s*$`)

// fastRules returns rules.yml with every `for:` set to 0s, so a test sees
// an alert fire at the first evaluation after its condition holds
// instead of minutes later. The expressions are the shipped ones.
func fastRules(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("prometheus/rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	n := len(forRe.FindAll(b, -1))
	if n == 0 {
		t.Fatal("rules.yml has no for: to shorten")
	}
	return forRe.ReplaceAllString(string(b), "${1}0s")
}

type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
}

// alerts reads Prometheus's pending and firing alerts.
func alerts(ctx context.Context, base string) ([]alert, error) {
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []alert `json:"alerts"`
		} `json:"data"`
	}
	if err := getJSON(ctx, base+"/api/v1/alerts", &body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("/api/v1/alerts: status %q", body.Status)
	}
	return body.Data.Alerts, nil
}

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// queryHas reports whether an instant query returns at least one series.
func queryHas(ctx context.Context, base, q string) bool {
	var body struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	return getJSON(ctx, base+"/api/v1/query?query="+url.QueryEscape(q), &body) == nil && len(body.Data.Result) > 0
}

func firing(as []alert, name string) *alert {
	for i := range as {
		if as[i].Labels["alertname"] == name && as[i].State == "firing" {
			return &as[i]
		}
	}
	return nil
}

// startProcess starts a long-running program whose output goes to a file
// shown when the test fails, and stops it when the test ends.
func startProcess(t *testing.T, name string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(t.TempDir(), filepath.Base(name)+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("%s output (last 4 KiB):\n%s", filepath.Base(name), tailBytes(b, 4096))
		}
		logf.Close()
	})
}

func tailBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// TestPrometheus is the shipped rules on a real Prometheus (Debian's)
// scraping a real fpmdoctor watch on a real nginx + php-fpm: stopping
// php-fpm fires PHPFPMDown, starting it again resolves it. The rules are
// a copy with every `for:` at 0s and Prometheus evaluates every second;
// the expressions, labels and annotations are the shipped ones.
func TestPrometheus(t *testing.T) {
	t.Parallel() // the three slow tests overlap; the packages are built once
	lab.Require(t)
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		lab.Unavailable(t, "prometheus is not installed (apt-get install prometheus)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "fpmdoctor")
	// fpmdoctor watch runs fpmdoctor-watch from beside itself.
	build := exec.Command("go", "build", "-o", filepath.Dir(bin)+"/", "../cmd/fpmdoctor", "../cmd/fpmdoctor-watch")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	l := lab.New(t)
	l.Start()
	l.MustStatus("/ok.php", 200)

	watchPort := lab.FreePort(t)
	watchAddr := fmt.Sprintf("127.0.0.1:%d", watchPort)
	startProcess(t, bin, "watch", "--listen", watchAddr, "--interval", "1s", "--pool-interval", "1s",
		"--nginx-conf", l.NginxConf(), "--fpm-conf", l.FPMConf())

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(fastRules(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: fpmdoctor
    static_configs:
      - targets: [%q]
`, watchAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	promPort := lab.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	startProcess(t, prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+strings.TrimPrefix(base, "http://"))

	// Healthy first: the watcher's checks reach Prometheus, nothing fires.
	if err := lab.WaitFor(func() bool {
		return queryHas(ctx, base, `fpmdoctor_last_check_timestamp_seconds{job="fpmdoctor"}`) &&
			queryHas(ctx, base, `phpfpm_up{job="fpmdoctor"} == 1`)
	}, 60*time.Second); err != nil {
		t.Fatal("Prometheus never saw the watcher's checks and an answering pool")
	}
	time.Sleep(3 * time.Second) // a few evaluations
	as, err := alerts(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		t.Errorf("healthy lab, alert %s is %s: %v", a.Labels["alertname"], a.State, a.Labels)
	}

	// Break: php-fpm stops. PHPFPMDown fires naming the cause.
	l.StopFPM()
	var down *alert
	if err := lab.WaitFor(func() bool {
		as, err = alerts(ctx, base)
		down = firing(as, "PHPFPMDown")
		return down != nil
	}, 60*time.Second); err != nil {
		t.Fatalf("PHPFPMDown did not fire with php-fpm stopped; alerts: %+v", as)
	}
	if down.Labels["cause"] != "fpm-down" || down.Labels["pool"] == "" || !strings.Contains(down.Annotations["summary"], "fpm-down") ||
		!strings.Contains(down.Annotations["description"], "fpmdoctor explain fpm-down") {
		t.Errorf("PHPFPMDown: %+v", *down)
	}
	t.Logf("fired: %s", down.Annotations["summary"])

	// Fix: php-fpm starts again. The alert resolves (leaves the list).
	l.MustStartFPM()
	if err := lab.WaitFor(func() bool {
		as, err = alerts(ctx, base)
		return err == nil && firing(as, "PHPFPMDown") == nil
	}, 60*time.Second); err != nil {
		t.Fatalf("PHPFPMDown still firing with php-fpm running again; alerts: %+v", as)
	}
}
