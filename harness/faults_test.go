package harness

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
)

// leakScenario leaks a slab cache and a kmemleak signature steadily.
var leakScenario = scenario{
	leakObjects: func(n int) int { return 3 * n },
	slabExtra:   func(n int) map[string]int64 { return map[string]int64{"wlansim_rxbuf": int64(160 * n)} },
}

// killedAfter is how many samples the SIGKILLed soak has on disk when it
// is killed: 20, or 120 (20 h) in the long variant.
func killedAfter() int {
	if faultsLong() {
		return 120
	}
	return 20
}

// TestHelperSoakUntilKilled is not a test: TestSoak_SIGKILLMidRun runs the
// test binary with LEAKGATE_HELPER_OUT set, and this soak then stalls at
// sample killedAfter() until the parent kills it.
func TestHelperSoakUntilKilled(t *testing.T) {
	out := os.Getenv("LEAKGATE_HELPER_OUT")
	if out == "" {
		return
	}
	sc := leakScenario
	sc.stallAt = killedAfter()
	soakFor(t, sc, func(c *Config) {
		c.OutDir = out
		c.Duration = 24 * time.Hour
		// The leak is certain long before it is killed: judge only at the
		// end, so the run is still going when it is killed.
		pol := endOnlyPolicy()
		c.Policy = &pol
	})
}

func TestSoak_SIGKILLMidRunThenLoadRunJudgesThePartialFolder(t *testing.T) {
	t.Parallel()
	out := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSoakUntilKilled$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), "LEAKGATE_HELPER_OUT="+out)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	// Wait (in real time, no assertion on it) until the samples are on disk.
	want := killedAfter()
	var dir string
	for {
		dirs, _ := filepath.Glob(filepath.Join(out, "*"))
		if len(dirs) == 1 {
			dir = dirs[0]
			if b, err := os.ReadFile(filepath.Join(dir, SamplesFile)); err == nil && bytes.Count(b, []byte("\n")) >= want {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("the helper soak ended before it was killed:\n%s", logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited

	run, err := LoadRun(dir)
	if err != nil {
		t.Fatalf("LoadRun on the killed run: %v", err)
	}
	if !run.Interrupted || len(run.Samples) != want {
		t.Fatalf("interrupted=%v samples=%d, want an interrupted run with samples 0-%d", run.Interrupted, len(run.Samples), want-1)
	}
	run.Rejudge(nil)
	if err := run.WriteReports(); err != nil {
		t.Fatalf("write reports of the killed run: %v", err)
	}
	if status, reason := run.Outcome(); status != verdict.Fail || !strings.Contains(reason, "interrupted") {
		t.Errorf("status %q error %q: want fail, saying it was interrupted (the leak is certain in %d samples)", status, reason, want)
	}
	if run.Meta.Status != verdict.Running {
		t.Errorf("run.json's status became %q; what the soak recorded must stay %q", run.Meta.Status, verdict.Running)
	}
	if !strings.Contains(run.Message(), "wlansim_rxbuf") {
		t.Errorf("message does not name the leak:\n%s", run.Message())
	}
	if _, err := os.Stat(filepath.Join(run.RejudgedReportDir(), "report.json")); err != nil {
		t.Errorf("no re-judged report.json after analyze: %v", err)
	}
}

func TestSoak_ArtifactDiskFullEndsTheRunSayingSo(t *testing.T) {
	t.Parallel()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=192k,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs for the artifacts (the test needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })

	run, _ := soakFor(t, scenario{}, func(c *Config) { c.OutDir = mnt; c.Duration = faultSoakDuration() })

	if run.Meta.Status != verdict.Error || !strings.Contains(run.Meta.Error, "disk full") {
		t.Fatalf("status %q error %q: want error saying the artifact disk is full", run.Meta.Status, run.Meta.Error)
	}
	if len(run.Samples) < 2 || len(run.Samples) > run.Meta.PlannedSamples {
		t.Errorf("%d samples before the disk filled; want some, not all", len(run.Samples))
	}
}

func TestSoak_InterruptedByTheCallerKeepsWhatItHas(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	// The read of sample 8 hangs (sample 100 of a 24 h soak in the long variant).
	stallAt := 8
	if faultsLong() {
		stallAt = 100
	}
	sc := scenario{}
	sc.stallAt = stallAt
	clock := newFakeClock()
	sc.interval = 10 * time.Minute
	tgt := newScriptedTarget(t, clock, sc)
	done := make(chan *Run, 1)
	go func() {
		run, err := Soak(ctx, Config{Target: tgt, Duration: faultSoakDuration(), Interval: sc.interval, OutDir: t.TempDir(), Clock: clock})
		if err != nil {
			t.Errorf("Soak: %v", err)
		}
		done <- run
	}()
	// Cancel while the read hangs, as a Ginkgo SpecTimeout or Ctrl-C would.
	for {
		if recs, _ := filepath.Glob(filepath.Join(tgt.root, "proc", "meminfo")); len(recs) > 0 && tgt.sampleN() >= stallAt {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	run := <-done

	if run == nil {
		t.Fatal("no run")
	}
	if run.Meta.Status != verdict.Error || !strings.Contains(run.Meta.Error, "interrupted") {
		t.Errorf("status %q error %q, want error saying interrupted", run.Meta.Status, run.Meta.Error)
	}
	if len(run.Samples) != stallAt {
		t.Errorf("%d samples kept, want %d (0-%d)", len(run.Samples), stallAt, stallAt-1)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "report.json")); err != nil {
		t.Errorf("an interrupted run still writes its reports: %v", err)
	}
}

// slowScanAt reports whether the first kmemleak scan of sample n takes 15
// minutes: at 20, and every 40 samples of the long variant.
func slowScanAt(n int) bool {
	if faultsLong() {
		return n%40 == 20
	}
	return n == 20
}

func TestSoak_ScanSlowerThanAnIntervalDelaysButLosesNoSample(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	st := newScriptedTarget(t, clock, scenario{interval: 10 * time.Minute})
	// The first call of a selected sample's slot is its first scan write.
	slow := &dropOnce{fault: slowScanAt, drop: func(int) { clock.After(15 * time.Minute) }}
	tgt := &faultTarget{scriptedTarget: st, fault: func(n int) { slow.at(n) }}

	run := soakDropping(t, tgt, clock)

	if run.Meta.Status != verdict.Pass {
		t.Fatalf("status %q (%s), want pass", run.Meta.Status, run.Meta.Error)
	}
	if len(run.Gaps) != 0 || len(run.Samples) != run.Meta.PlannedSamples+1 {
		t.Errorf("%d samples, gaps %v: a slow scan must delay samples, not lose them", len(run.Samples), run.Gaps)
	}
	var late []int
	for i := 1; i < len(run.Samples); i++ {
		if d := run.Samples[i].At.Sub(run.Samples[i-1].At); d > 20*time.Minute {
			late = append(late, run.Samples[i].Index)
		}
	}
	var want []int
	for n := 1; n <= run.Meta.PlannedSamples; n++ {
		if slowScanAt(n) {
			want = append(want, n)
		}
	}
	if !equalInts(late, want) || !equalInts(slow.samples(), want) {
		t.Errorf("samples %v came late (slow scans injected at %v), want %v: the slow scans were not exercised", late, slow.samples(), want)
	}
}

// endOnlyPolicy is the default policy with no early stop under either early
// rule: the run is judged only at its end.
func endOnlyPolicy() Policy {
	pol := DefaultPolicy()
	pol.EarlyMinSamples = 1 << 20
	pol.EarlySequentialMinSamples = 1 << 20
	return pol
}
