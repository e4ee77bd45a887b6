package harness

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/harness/report"
	"github.com/leakgate/leakgate/results"
)

// shortRunPolicy is the default policy without a warm-up and with
// minSamples: a soak of an hour or two on the injected clock can then
// reach a verdict (under the default's 1 h warm-up and 12 samples it is
// too short to judge, which is an error, never a pass).
func shortRunPolicy(minSamples int) *Policy {
	p := DefaultPolicy()
	p.Warmup = 0
	p.MinSamples = minSamples
	return &p
}

func TestSoak_ALiveRunTooShortToJudgeIsAnErrorAsAnalyzeSaysToo(t *testing.T) {
	for _, tc := range []struct {
		name       string
		duration   time.Duration
		policy     *Policy
		wantStatus verdict.Run
		wantError  string
	}{
		{"every series short of min_samples after the warm-up is an error", 90 * time.Minute, nil, verdict.Error,
			"4 samples after the warm-up of 1 h, and a verdict needs 12 (min_samples); a run this short cannot pass the gate"},
		{"a warm-up longer than the run is an error", 50 * time.Minute, nil, verdict.Error,
			"the warm-up of 1 h is not shorter than the 50 min the samples span: nothing after it was judged; shorten warmup"},
		{"a run one sample short of min_samples is an error", 2 * time.Hour, shortRunPolicy(14), verdict.Error,
			"13 samples after the warm-up of 0 ms, and a verdict needs 14 (min_samples); a run this short cannot pass the gate"},
		{"a run with exactly min_samples passes", 2 * time.Hour, shortRunPolicy(13), verdict.Pass, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run, err := Soak(t.Context(), Config{Target: newStaticTarget(t), Duration: tc.duration, Interval: 10 * time.Minute,
				OutDir: t.TempDir(), Clock: newFakeClock(), Policy: tc.policy})
			if err != nil {
				t.Fatal(err)
			}

			if run.Meta.Status != tc.wantStatus || run.Meta.Error != tc.wantError {
				t.Errorf("live: %s %q, want %s %q", run.Meta.Status, run.Meta.Error, tc.wantStatus, tc.wantError)
			}
			loaded, err := LoadRun(run.Dir)
			if err != nil {
				t.Fatal(err)
			}
			loaded.Rejudge(nil)
			if st, why := loaded.Outcome(); st != tc.wantStatus || why != tc.wantError {
				t.Errorf("re-judged: %s %q, want the live verdict %s %q", st, why, tc.wantStatus, tc.wantError)
			}
		})
	}
}

func TestRecordPreflightFailure_LeavesRunJSONReportJSONAndAnErrorRowInTheStore(t *testing.T) {
	notReady := PreflightResult{Kernel: "6.12.117", Checks: []report.Check{
		{Name: "CONFIG_DEBUG_KMEMLEAK", Status: verdict.CheckFail, Seen: "is not set", Remediation: "rebuild with CONFIG_DEBUG_KMEMLEAK=y"},
	}}
	for _, tc := range []struct {
		name      string
		pf        PreflightResult
		checkErr  error
		wantError string
	}{
		{"a kernel without kmemleak", notReady, nil,
			"target not ready for leak detection: CONFIG_DEBUG_KMEMLEAK: rebuild with CONFIG_DEBUG_KMEMLEAK=y"},
		{"a target the preflight could not check", PreflightResult{}, errors.New("read kernel facts on rig: link lost"),
			"target not ready for leak detection: preflight could check the target: it failed with \"read kernel facts on rig: link lost\"; make the target reachable and its /proc readable over the connection, then run the gate again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			db := filepath.Join(out, "results.db")
			cfg := Config{Target: newStaticTarget(t), TargetName: "rig", Duration: time.Hour, Interval: 10 * time.Minute, OutDir: out,
				Clock: newFakeClock(), Store: results.SoakOptions{DSN: db, Baseline: "auto"}}

			run, err := RecordPreflightFailure(t.Context(), cfg, tc.pf, tc.checkErr)
			if err != nil {
				t.Fatal(err)
			}

			loaded, err := LoadRun(run.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.Meta.Status != verdict.Error || loaded.Meta.Error != tc.wantError || len(loaded.Meta.Preflight) == 0 {
				t.Errorf("run.json: %s %q with %d preflight checks, want error %q and the table", loaded.Meta.Status, loaded.Meta.Error, len(loaded.Meta.Preflight), tc.wantError)
			}
			var rep report.Run
			data, err := os.ReadFile(filepath.Join(run.Dir, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != verdict.Error || rep.Error != tc.wantError || len(rep.Preflight) == 0 || rep.Meta["evidence"] != filepath.Join(run.Dir, EvidenceDir) {
				t.Errorf("report.json: %s %q, %d checks, evidence %q; want error, the table and %s", rep.Verdict, rep.Error, len(rep.Preflight), rep.Meta["evidence"], filepath.Join(run.Dir, EvidenceDir))
			}
			st, err := results.Open(t.Context(), db)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			row, err := st.Run(t.Context(), filepath.Base(run.Dir))
			if err != nil || row.Verdict != string(verdict.Error) {
				t.Errorf("results store row %+v (%v), want the run recorded as error", row, err)
			}
		})
	}
}

func TestRecordPreflightFailure_RefusesAReadyTarget(t *testing.T) {
	_, err := RecordPreflightFailure(t.Context(), Config{Target: newStaticTarget(t), OutDir: t.TempDir()}, PreflightResult{Ready: true}, nil)
	if err == nil || err.Error() != "record a preflight failure: the target is ready; run the soak instead" {
		t.Errorf("err %v, want the refusal", err)
	}
}

func TestLoadRun_ReadsTheFastGridOnlyInsideTheRunFolder(t *testing.T) {
	run, err := Soak(t.Context(), Config{Target: newStaticTarget(t), Duration: time.Hour, Interval: 10 * time.Minute,
		FastInterval: time.Minute, OutDir: t.TempDir(), Clock: newFakeClock(), Policy: shortRunPolicy(6)})
	if err != nil {
		t.Fatal(err)
	}
	fast := filepath.Join(run.Dir, RawDir, FastRawDir)
	if run.FastSamples == 0 {
		t.Fatalf("the soak took no fast sample (status %s %q)", run.Meta.Status, run.Meta.Error)
	}
	whole, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if whole.FastSamples != run.FastSamples {
		t.Fatalf("loaded %d fast samples, the soak took %d", whole.FastSamples, run.FastSamples)
	}
	// raw/fast moved out of the folder and a symlink planted in its place.
	outside := filepath.Join(t.TempDir(), "fast")
	if err := os.Rename(fast, outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, fast); err != nil {
		t.Fatal(err)
	}

	loaded, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatal(err)
	}

	if loaded.FastSamples != 0 {
		t.Errorf("%d fast samples read through a symlink out of the run folder", loaded.FastSamples)
	}
	want := "list raw/fast: is a L---------, not a folder; no fast sample used"
	if !slices.Contains(loaded.Unused, want) {
		t.Errorf("Unused %q lacks %q", loaded.Unused, want)
	}
}
