package report_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fpmdoctor/fpmdoctor/internal/doctor"
	"github.com/fpmdoctor/fpmdoctor/internal/lab"
	"github.com/fpmdoctor/fpmdoctor/internal/report"
)

// chromium renders page (a file) headless: a screenshot and the DOM as
// the browser built it.
func chromium(t *testing.T, page string) (image.Image, string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		lab.Unavailable(t, "chromium is not installed (apt-get install chromium)")
	}
	dir := t.TempDir()
	shot := filepath.Join(dir, "shot.png")
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + filepath.Join(dir, "profile"),
		"--hide-scrollbars", "--window-size=1200,2000"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, append(base, "--screenshot="+shot, "file://"+page)...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	var dom bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(base, "--dump-dom", "file://"+page)...)
	cmd.Stdout = &dom
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if keep := os.Getenv("FPMDOCTOR_KEEP_SCREENSHOT"); keep != "" {
		b, _ := os.ReadFile(shot)
		_ = os.WriteFile(keep, b, 0o644)
	}
	return img, dom.String()
}

// pixels counts the pixels of colour hex (#rrggbb) and those not white.
func pixels(img image.Image, hex string) (match, ink int) {
	var want [3]uint32
	fmt.Sscanf(hex, "#%02x%02x%02x", &want[0], &want[1], &want[2])
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if r == want[0] && g == want[1] && bl == want[2] {
				match++
			}
			if r < 240 || g < 240 || bl < 240 {
				ink++
			}
		}
	}
	return match, ink
}

// domText is how a browser serialises text in --dump-dom.
func domText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\u00a0", "&nbsp;").Replace(s)
}

// checkPage renders r, opens it in Chromium and checks what a person sees:
// a page that is not blank, the chart's series in their colours, every
// finding's title in the DOM the browser built.
func checkPage(t *testing.T, r *report.Report, series []string) {
	t.Helper()
	page := filepath.Join(t.TempDir(), "report.html")
	var b bytes.Buffer
	if err := report.Render(&b, r, report.FormatHTML, false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	img, dom := chromium(t, page)
	_, ink := pixels(img, "#000000")
	if total := img.Bounds().Dx() * img.Bounds().Dy(); ink < total/200 {
		t.Errorf("the screenshot is almost blank: %d of %d pixels not white", ink, total)
	}
	for _, c := range series {
		// The legend's square is 100 pixels; bars are more.
		if n, _ := pixels(img, c); n <= 150 {
			t.Errorf("series colour %s: %d pixels in the screenshot, want the legend and bars", c, n)
		}
	}
	if len(r.Findings) == 0 {
		t.Fatal("a report without findings proves nothing here")
	}
	for _, f := range r.Findings {
		if !strings.Contains(dom, domText(f.Title)) {
			t.Errorf("finding %q is not in the rendered DOM", f.Title)
		}
	}
	if len(r.Timeline) > 0 && !strings.Contains(dom, "<svg") {
		t.Error("no chart in the rendered DOM")
	}
}

// The bundled php-upgrade example, offline.
func TestHTMLInChromiumExample(t *testing.T) {
	r, _, err := doctor.Diagnose(context.Background(), doctor.Options{Root: "../../examples/php-upgrade"})
	if err != nil {
		t.Fatal(err)
	}
	checkPage(t, r, nil)
}

// A real lab: workers crash (SIGSEGV) under requests, nginx answers 502,
// php-fpm logs each death: the timeline has both series.
func TestHTMLInChromiumLabTimeline(t *testing.T) {
	l := lab.New(t)
	l.Start()
	for i := 0; i < 4; i++ {
		l.MustStatus("/crash.php", 502)
	}
	l.WaitForLog("log/php-fpm.log", "exited on signal 11", 4)
	r, _, err := doctor.Diagnose(context.Background(), doctor.Options{NginxConf: l.NginxConf(), FPMConfs: []string{l.FPMConf()}})
	if err != nil {
		t.Fatal(err)
	}
	n502, fpm := 0, 0
	for _, bk := range r.Timeline {
		n502 += bk.Nginx502
		fpm += bk.FPM
	}
	if n502 < 4 || fpm < 1 {
		t.Fatalf("timeline of the lab: %d 502s, %d php-fpm events: %+v", n502, fpm, r.Timeline)
	}
	checkPage(t, r, []string{report.Color502, report.ColorFPM})
}
