package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/harness"
	"github.com/leakgate/leakgate/remote"
)

// copyRun copies a recorded run folder, since analyze rewrites its reports.
func copyRun(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if err := os.CopyFS(dst, os.DirFS(filepath.Join("..", "..", "testdata", "harness", name))); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestAnalyze_RecordedLeakRunFailsNamingTheCacheAndCulprit(t *testing.T) {
	dir := copyRun(t, "leak-run")
	os.Remove(filepath.Join(dir, "report.json"))

	code, out, errOut := runCLI("analyze", dir)

	if code != exitFindings {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	for _, want := range []string{"wlansim_rxbuf", "wlansim_alloc_rx_buf"} {
		if !strings.Contains(out, want) {
			t.Errorf("message lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
		t.Errorf("analyze did not rewrite report.json: %v", err)
	}
}

func TestAnalyze_JSONHasTheVerdictAndFindings(t *testing.T) {
	dir := copyRun(t, "leak-run")

	code, out, _ := runCLI("analyze", dir, "--json")

	var rep struct {
		Verdict  string `json:"verdict"`
		Findings []struct {
			Kind, Subject, Verdict string
		} `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if code != exitFindings || rep.Verdict != "fail" || len(rep.Findings) == 0 || rep.Findings[0].Verdict != "leak" {
		t.Errorf("exit %d verdict %q findings %+v", code, rep.Verdict, rep.Findings)
	}
}

func TestAnalyze_InterruptedRunWithTornFilesIsJudgedOnWhatItHas(t *testing.T) {
	dir := copyRun(t, "interrupted-run")

	code, out, errOut := runCLI("analyze", dir)

	if code != exitFindings {
		t.Fatalf("exit %d, want 1 (a leak already certain in the partial run); stderr %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, "wlansim_rxbuf") {
		t.Errorf("message lacks the leaking cache:\n%s", out)
	}
	var meta struct {
		Status, Error string
	}
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta.Status != "fail" || !strings.Contains(meta.Error, "interrupted") {
		t.Errorf("run.json status %q error %q: want fail, saying the run was interrupted", meta.Status, meta.Error)
	}
}

func TestAnalyze_PolicyAllowingTheGrowthPasses(t *testing.T) {
	dir := copyRun(t, "leak-run")
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte("allow:\n  - {kind: slab, subject: wlansim_rxbuf, reason: pool sized at boot}\n  - {kind: kmemleak, subject: '*wlansim_alloc_rx_buf*', reason: 'known, fixed in 2.1'}\n  - {kind: meminfo, subject: '*', reason: follows the cache}\n"), 0o600)

	code, out, errOut := runCLI("analyze", dir, "--policy", pol)

	if code != exitOK {
		t.Errorf("exit %d, want 0 with every growth allowed; stderr %s\n%s", code, errOut, out)
	}
}

func TestAnalyze_BadInputExits2(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{"no folder", []string{"analyze"}},
		{"a folder that is not a run", []string{"analyze", t.TempDir()}},
		{"a policy that does not parse", []string{"analyze", copyRun(t, "leak-run"), "--policy", writeTemp(t, "fdr: [")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runCLI(c.args...)
			if code != exitUsage || errOut == "" {
				t.Errorf("exit %d stderr %q, want 2 and a message", code, errOut)
			}
		})
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAnalyze_RunThatFailedPreflightStaysFailedWithTheRemediation(t *testing.T) {
	root := rigTree(t, false)
	tgt, err := remote.Dial(context.Background(), "local:"+root, remote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run, err := harness.Soak(context.Background(), harness.Config{Target: tgt, OutDir: t.TempDir(), Duration: time.Hour, Interval: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if run.Meta.Status != "error" || len(run.Samples) != 0 {
		t.Fatalf("soak on a tree without kmemleak: status %q, %d samples; want error before any sample", run.Meta.Status, len(run.Samples))
	}

	code, out, errOut := runCLI("analyze", run.Dir)

	if code != exitFindings {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	if !strings.Contains(out, "kmemleak") {
		t.Errorf("message does not say what the target lacks:\n%s", out)
	}
}
