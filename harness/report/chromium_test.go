package report

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromiumPath is where Debian's chromium lands; scripts/deps.sh installs it.
const chromiumPath = "/usr/bin/chromium"

// chromium runs headless Chromium on a local file with networking and
// background services off, and returns its stdout.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("headless Chromium is needed to check report.html renders: %v; run scripts/deps.sh", err)
	}
	profile, err := os.MkdirTemp("", "leakgate-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Chromium's helpers may still be closing files when it exits, which
	// t.TempDir's strict cleanup would report as a failure.
	t.Cleanup(func() { os.RemoveAll(profile) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--hide-scrollbars", "--user-data-dir=" + profile}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

func TestReportHTML_RendersInHeadlessChromium(t *testing.T) {
	dir := t.TempDir()
	r := hostileRun()
	r.Findings[0].Subject = "kmalloc-8192 <b>bold</b>"
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	page := "file://" + filepath.Join(dir, HTMLFile)

	dom := string(chromium(t, "--dump-dom", page))
	shot := filepath.Join(dir, "report.png")
	chromium(t, "--window-size=1280,2000", "--screenshot="+shot, page)

	for _, want := range []string{
		`<span class="badge bad">fail</span>`,
		"slab cache kmalloc-8192 &lt;b&gt;bold&lt;/b&gt;",
		"<svg",
		"p&lt;1e-9",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if strings.Contains(dom, "<b>bold</b>") || strings.Contains(dom, "<script>alert") {
		t.Error("a name from the target became markup in the browser")
	}
	finding := strings.Index(dom, `id="finding-0"`)
	if finding < 0 || !strings.Contains(dom[finding:], "<svg") || !strings.Contains(dom[finding:], "<path") {
		t.Error("the first finding has no drawn chart")
	}
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 20<<10 {
		t.Errorf("screenshot is not a rendered page (%d bytes)", len(png))
	}
	if out := os.Getenv("LEAKGATE_REPORT_SCREENSHOT"); out != "" {
		if err := os.WriteFile(out, png, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
