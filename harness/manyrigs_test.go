package harness

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
)

// rigs is how many targets one runner soaks at once in the many-rigs test.
const rigs = 32

// TestSoak_ThirtyTwoRigsAtOnceFromOneRunner soaks 32 in-process SSH targets
// at once into one --out folder: every odd rig leaks, every even rig is
// clean, and each rig's process carries the rig's own name. Each run must
// get its own verdict and folder, with no other rig's data in it.
func TestSoak_ThirtyTwoRigsAtOnceFromOneRunner(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	type result struct {
		run *Run
		err error
	}
	results := make([]result, rigs)
	targets := make([]*scriptedTarget, rigs)
	clocks := make([]*fakeClock, rigs)
	for i := range rigs {
		sc := scenario{interval: 10 * time.Minute, procName: fmt.Sprintf("rigproc%02d", i)}
		if i%2 == 1 {
			sc.leakObjects, sc.slabExtra = leakScenario.leakObjects, leakScenario.slabExtra
		}
		clocks[i] = newFakeClock()
		targets[i] = newScriptedTarget(t, clocks[i], sc)
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	var wg sync.WaitGroup
	for i := range rigs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run, err := Soak(context.Background(), Config{Target: targets[i], TargetName: fmt.Sprintf("rig%02d", i),
				Duration: 4 * time.Hour, Interval: 10 * time.Minute, OutDir: out, Clock: clocks[i]})
			results[i] = result{run, err}
		}()
	}
	wg.Wait()
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("heap held by %d finished runs: %.2f MiB per rig", rigs, (float64(after.HeapAlloc)-float64(before.HeapAlloc))/(1<<20)/rigs)

	dirs := map[string]bool{}
	for i, res := range results {
		if res.err != nil {
			t.Fatalf("rig %d: %v", i, res.err)
		}
		run := res.run
		if dirs[run.Dir] {
			t.Errorf("rig %d shares run folder %s", i, run.Dir)
		}
		dirs[run.Dir] = true
		want := verdict.Pass
		if i%2 == 1 {
			want = verdict.Fail
		}
		if run.Meta.Status != want {
			t.Errorf("rig %d: status %q (%s), want %s", i, run.Meta.Status, run.Meta.Error, want)
		}
		if want == verdict.Fail && !strings.Contains(run.Judgement.Summary(), "wlansim_rxbuf") {
			t.Errorf("rig %d: %s; want the wlansim_rxbuf leak", i, run.Judgement.Summary())
		}
		if len(run.Gaps) != 0 {
			t.Errorf("rig %d: gaps %v", i, gapIndexes(run))
		}
		samples, err := os.ReadFile(filepath.Join(run.Dir, SamplesFile))
		if err != nil {
			t.Fatal(err)
		}
		own := fmt.Sprintf("rigproc%02d", i)
		if !bytes.Contains(samples, []byte(own)) {
			t.Errorf("rig %d: samples.jsonl lacks its own process %s", i, own)
		}
		for k := range rigs {
			if other := fmt.Sprintf("rigproc%02d", k); k != i && bytes.Contains(samples, []byte(other)) {
				t.Errorf("rig %d: samples.jsonl holds rig %d's process", i, k)
			}
		}
		for _, f := range run.Judgement.Findings {
			if f.Kind == checks.KindProcess && !strings.HasPrefix(f.Subject, own+"/") && !strings.HasPrefix(f.Subject, "procd/") {
				t.Errorf("rig %d: finding on another rig's process %s", i, f.Subject)
			}
		}
	}
	if ents, _ := os.ReadDir(out); len(ents) != rigs {
		t.Errorf("%d entries in --out, want %d run folders", len(ents), rigs)
	}
}
