package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/harness"
	"github.com/leakgate/leakgate/remote"
)

// copyRun copies a recorded run folder, since analyze writes its
// re-judgement into it.
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

	code, out, errOut := runCLI("analyze", dir)

	if code != exitFindings {
		t.Fatalf("exit %d, want 1; stderr %s", code, errOut)
	}
	for _, want := range []string{"wlansim_rxbuf", "wlansim_alloc_rx_buf", "re-judged under policy " + recordedDigest(t, dir) + " (the policy run.json records); the soak recorded fail"} {
		if !strings.Contains(out, want) {
			t.Errorf("message lacks %q:\n%s", want, out)
		}
	}
	rep := readRejudged(t, dir, recordedDigest(t, dir))
	if rep.Verdict != "fail" || rep.Rejudged.RecordedVerdict != "fail" || rep.Rejudged.PolicyDigest != recordedDigest(t, dir) {
		t.Errorf("re-judged report.json: verdict %q, recorded %q, policy %q", rep.Verdict, rep.Rejudged.RecordedVerdict, rep.Rejudged.PolicyDigest)
	}
}

// recordedDigest is the digest of the policy the run folder records.
func recordedDigest(t *testing.T, dir string) string {
	t.Helper()
	run, err := harness.LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	return harness.PolicyDigest(run.RecordedPolicy())
}

type rejudgedReport struct {
	Verdict  string `json:"verdict"`
	Error    string `json:"error"`
	Rejudged struct {
		PolicyDigest    string   `json:"policy_digest"`
		RecordedVerdict string   `json:"recorded_verdict"`
		Unused          []string `json:"unused"`
	} `json:"rejudged"`
}

func readRejudged(t *testing.T, dir, digest string) rejudgedReport {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "rejudged", digest, "report.json"))
	if err != nil {
		t.Fatalf("no re-judged report.json: %v", err)
	}
	var rep rejudgedReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return rep
}

// treeDigest hashes every file of dir outside rejudged/, by path.
func treeDigest(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "rejudged" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAnalyze_NeverRewritesWhatTheSoakRecorded(t *testing.T) {
	for _, name := range []string{"leak-run", "interrupted-run"} {
		t.Run(name, func(t *testing.T) {
			dir := copyRun(t, name)
			before := treeDigest(t, dir)
			pol := writeTemp(t, "fdr: 0.02\nallow:\n  - {kind: slab, subject: '*', reason: test}\n")

			runCLI("analyze", dir)
			runCLI("analyze", dir, "--policy", pol)
			runCLI("analyze", dir, "--json")

			if after := treeDigest(t, dir); !reflect.DeepEqual(after, before) {
				t.Errorf("analyze changed the recorded files:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestAnalyze_TwiceGivesTheSameAnswer(t *testing.T) {
	dir := copyRun(t, "interrupted-run")

	code1, out1, _ := runCLI("analyze", dir)
	rep1, err := os.ReadFile(filepath.Join(dir, "rejudged", recordedDigest(t, dir), "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	code2, out2, _ := runCLI("analyze", dir)
	rep2, err := os.ReadFile(filepath.Join(dir, "rejudged", recordedDigest(t, dir), "report.json"))
	if err != nil {
		t.Fatal(err)
	}

	if code1 != code2 || out1 != out2 || !bytes.Equal(rep1, rep2) {
		t.Errorf("second analyze differs: exit %d then %d\n%s\n---\n%s", code1, code2, out1, out2)
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
	rep := readRejudged(t, dir, recordedDigest(t, dir))
	if rep.Verdict != "fail" || !strings.Contains(rep.Error, "interrupted") || rep.Rejudged.RecordedVerdict != "running" {
		t.Errorf("re-judged verdict %q error %q recorded %q: want fail, saying the run was interrupted, recorded running", rep.Verdict, rep.Error, rep.Rejudged.RecordedVerdict)
	}
	// The torn last raw is named, not skipped silently.
	want := `raw/0020.tar.gz: read raw snapshot raw/0020.tar.gz entry "proc/slabinfo": unexpected EOF`
	if len(rep.Rejudged.Unused) != 1 || rep.Rejudged.Unused[0] != want {
		t.Errorf("unused %q, want [%q]", rep.Rejudged.Unused, want)
	}
}

func TestAnalyze_InterruptedRunNeverPassesWhateverThePolicy(t *testing.T) {
	dir := copyRun(t, "interrupted-run")
	pol := writeTemp(t, "allow:\n  - {kind: slab, subject: '*', reason: test}\n  - {kind: kmemleak, subject: '*', reason: test}\n  - {kind: meminfo, subject: '*', reason: test}\n  - {kind: process, subject: '*', reason: test}\n")

	for i := range 2 { // the second call must not see a "finished" run
		code, out, _ := runCLI("analyze", dir, "--policy", pol)
		if code != exitFindings || !strings.Contains(out, "error: the soak was interrupted after 19 of 24 samples") {
			t.Errorf("call %d: exit %d, want 1 with the interruption as the error:\n%s", i+1, code, out)
		}
	}
}

func TestAnalyze_RulesOfTheLiveVerdictApplyOffline(t *testing.T) {
	allowAll := "allow:\n  - {kind: slab, subject: '*', reason: test}\n  - {kind: kmemleak, subject: '*', reason: test}\n  - {kind: meminfo, subject: '*', reason: test}\n  - {kind: process, subject: '*', reason: test}\n"
	cases := []struct {
		name   string
		policy string
		edit   func(t *testing.T, dir string)
		want   string
	}{
		{"a warm-up beyond the run judges nothing and is an error", "warmup: 5h\n", nil,
			"error: the warm-up of 5 h is not shorter than the 4 h the samples span: nothing after it was judged; shorten warmup"},
		{"series that all lack samples are an error", "min_samples: 500\nearly_min_samples: 500\n", nil,
			"error: 19 samples after the warm-up of 1 h, and a verdict needs 500 (min_samples); a run this short cannot pass the gate"},
		{"more than half the samples lost is an error", "warmup: 0s\n", func(t *testing.T, dir string) {
			keepSamples(t, dir, 12)
		}, "error: lost 13 of 25 planned samples (0 gaps, 0 unusable records or raws, the rest never taken) and judged 12; a soak that saw less than half of its samples cannot pass the gate: fix the link to the target and run it again"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, "leak-run")
			if c.edit != nil {
				c.edit(t, dir)
			}
			pol := allowAll
			if c.policy != allowAll {
				pol += c.policy
			}

			code, out, errOut := runCLI("analyze", dir, "--policy", writeTemp(t, pol))

			if code != exitFindings || !strings.Contains(out, c.want) {
				t.Errorf("exit %d, want 1 with %q:\n%s%s", code, c.want, out, errOut)
			}
		})
	}
}

// keepSamples cuts a run folder to its first n samples, as a soak whose
// link died would leave it.
func keepSamples(t *testing.T, dir string, n int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "samples.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if err := os.WriteFile(filepath.Join(dir, "samples.jsonl"), bytes.Join(lines[:n], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := n; i < 25; i++ {
		os.Remove(filepath.Join(dir, "raw", fmt.Sprintf("%04d.tar.gz", i)))
	}
}

func TestAnalyze_PolicyAppliesOverTheRecordedOne(t *testing.T) {
	dir := copyRun(t, "leak-run")
	// The soak recorded an allow list for every growth; --policy changes the
	// FDR only, so the recorded allow list still applies.
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.Replace(b, []byte(`"Allow": null`), []byte(`"Allow": [{"kind":"slab","subject":"*","reason":"r"},{"kind":"kmemleak","subject":"*","reason":"r"},{"kind":"meminfo","subject":"*","reason":"r"}]`), 1)
	if err := os.WriteFile(filepath.Join(dir, "run.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI("analyze", dir, "--policy", writeTemp(t, "fdr: 0.02\n"))

	if code != exitOK || !strings.Contains(out, "(a policy given to analyze); the soak recorded fail") {
		t.Errorf("exit %d, want 0 under the recorded allow list:\n%s%s", code, out, errOut)
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
