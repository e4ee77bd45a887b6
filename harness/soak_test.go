package harness

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/harness/report"
)

// soakFor runs a whole soak against a scripted target on the fake clock.
func soakFor(t *testing.T, sc scenario, mutate func(*Config)) (*Run, *scriptedTarget) {
	t.Helper()
	clock := newFakeClock()
	if sc.interval == 0 {
		sc.interval = 10 * time.Minute
	}
	tgt := newScriptedTarget(t, clock, sc)
	cfg := Config{
		Target:   tgt,
		Duration: 12 * time.Hour,
		Interval: sc.interval,
		OutDir:   filepath.Join(t.TempDir(), "out", "wifi_soak"),
		Clock:    clock,
		Versions: map[string]string{"leakgate": "test"},
	}
	if testing.Verbose() {
		cfg.Log = os.Stderr
	}
	if mutate != nil {
		mutate(&cfg)
	}
	run, err := Soak(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Soak: %v", err)
	}
	return run, tgt
}

func TestSoak_CleanTargetPassesAfterTheFullDuration(t *testing.T) {
	run, tgt := soakFor(t, scenario{}, nil)

	if run.Meta.Status != report.VerdictPass {
		t.Fatalf("status = %q (%s), want pass", run.Meta.Status, run.Meta.Error)
	}
	if got, want := len(run.Samples), 73; got != want {
		t.Errorf("samples = %d, want %d (baseline + 72)", got, want)
	}
	if len(run.Gaps) != 0 {
		t.Errorf("gaps = %v, want none", run.Gaps)
	}
	writes := tgt.kmemleakWrites()
	if len(writes) < 3 || writes[0] != "scan=off" {
		t.Errorf("kmemleak writes start %v, want scan=off first", writes)
	}
	for _, w := range writes {
		if w == "clear" {
			t.Errorf("the soak wrote clear to kmemleak; it must never clear during a soak")
		}
	}
	assertRunFolder(t, run)
}

func TestSoak_SlabLeakWithKmemleakSignatureFails(t *testing.T) {
	sc := scenario{
		leakObjects: func(n int) int { return 3 * n },
		slabExtra:   func(n int) map[string]int64 { return map[string]int64{"kmalloc-512": 0, "wlansim_sta": int64(21 * n)} },
	}
	run, _ := soakFor(t, sc, nil)

	if run.Meta.Status != report.VerdictFail {
		t.Fatalf("status = %q (%s), want fail", run.Meta.Status, run.Meta.Error)
	}
	var slabLeak, kmLeak bool
	for _, f := range run.Judgement.Findings() {
		if f.Verdict != checks.VerdictLeak {
			continue
		}
		if f.Kind == checks.KindSlab && f.Subject == "wlansim_sta" {
			slabLeak = true
		}
		if f.Kind == checks.KindKmemleak && strings.Contains(f.Subject, "wl_add_sta") {
			kmLeak = true
		}
	}
	if !slabLeak || !kmLeak {
		t.Errorf("findings %+v: want a slab leak in wlansim_sta and a kmemleak leak blaming wl_add_sta", run.Judgement.Findings())
	}
	msg := run.Message()
	if !strings.Contains(msg, "wlansim_sta") {
		t.Errorf("message does not name the cache:\n%s", msg)
	}
	assertRunFolder(t, run)
}

// assertRunFolder checks the artifacts every finished run leaves.
func assertRunFolder(t *testing.T, run *Run) {
	t.Helper()
	for _, name := range []string{RunFile, SamplesFile, "report.json", "report.html"} {
		fi, err := os.Stat(filepath.Join(run.Dir, name))
		if err != nil {
			t.Errorf("run folder lacks %s: %v", name, err)
			continue
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; evidence must not be readable by other users", name, fi.Mode().Perm())
		}
	}
	var meta RunMeta
	data, err := os.ReadFile(filepath.Join(run.Dir, RunFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatalf("run.json: %v", err)
	}
	if meta.Status != run.Meta.Status || meta.Kernel == "" || meta.Ended.IsZero() {
		t.Errorf("run.json status=%q kernel=%q ended=%v; want the final status %q, a kernel and an end", meta.Status, meta.Kernel, meta.Ended, run.Meta.Status)
	}
	raws, _ := filepath.Glob(filepath.Join(run.Dir, RawDir, "*.tar.gz"))
	if len(raws) != len(run.Samples) {
		t.Errorf("raw snapshots = %d, samples = %d; every sample keeps its raw snapshot", len(raws), len(run.Samples))
	}
	loaded, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatalf("LoadRun: %v", err)
	}
	if len(loaded.Samples) != len(run.Samples) || len(loaded.Gaps) != len(run.Gaps) {
		t.Errorf("LoadRun: %d samples %d gaps, want %d and %d", len(loaded.Samples), len(loaded.Gaps), len(run.Samples), len(run.Gaps))
	}
}
