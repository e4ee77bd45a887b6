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

	"github.com/leakgate/leakgate/harness/report"
)

// leakScenario leaks a slab cache and a kmemleak signature steadily.
var leakScenario = scenario{
	leakObjects: func(n int) int { return 3 * n },
	slabExtra:   func(n int) map[string]int64 { return map[string]int64{"wlansim_rxbuf": int64(160 * n)} },
}

// TestHelperSoakUntilKilled is not a test: TestSoak_SIGKILLMidRun runs the
// test binary with LEAKGATE_HELPER_OUT set, and this soak then stalls at
// sample 20 until the parent kills it.
func TestHelperSoakUntilKilled(t *testing.T) {
	out := os.Getenv("LEAKGATE_HELPER_OUT")
	if out == "" {
		return
	}
	sc := leakScenario
	sc.stallAt = 20
	soakFor(t, sc, func(c *Config) { c.OutDir = out; c.Duration = 24 * time.Hour })
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
	// Wait (in real time, no assertion on it) until 20 samples are on disk.
	var dir string
	for {
		dirs, _ := filepath.Glob(filepath.Join(out, "*"))
		if len(dirs) == 1 {
			dir = dirs[0]
			if b, err := os.ReadFile(filepath.Join(dir, SamplesFile)); err == nil && bytes.Count(b, []byte("\n")) >= 20 {
				break
			}
		}
		if cmd.ProcessState != nil {
			t.Fatalf("the helper soak ended before it was killed:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	run, err := LoadRun(dir)
	if err != nil {
		t.Fatalf("LoadRun on the killed run: %v", err)
	}
	if !run.Interrupted || len(run.Samples) != 20 {
		t.Fatalf("interrupted=%v samples=%d, want an interrupted run with samples 0-19", run.Interrupted, len(run.Samples))
	}
	run.Rejudge(nil)
	if err := run.WriteReports(); err != nil {
		t.Fatalf("write reports of the killed run: %v", err)
	}
	if run.Meta.Status != report.VerdictFail || !strings.Contains(run.Meta.Error, "interrupted") {
		t.Errorf("status %q error %q: want fail, saying it was interrupted (the leak is certain in 20 samples)", run.Meta.Status, run.Meta.Error)
	}
	if !strings.Contains(run.Message(), "wlansim_rxbuf") {
		t.Errorf("message does not name the leak:\n%s", run.Message())
	}
	if _, err := os.Stat(filepath.Join(dir, "report.json")); err != nil {
		t.Errorf("no report.json after analyze: %v", err)
	}
}

func TestSoak_ArtifactDiskFullEndsTheRunSayingSo(t *testing.T) {
	t.Parallel()
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=192k,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount a small tmpfs for the artifacts (the test needs root): %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })

	run, _ := soakFor(t, scenario{}, func(c *Config) { c.OutDir = mnt })

	if run.Meta.Status != report.VerdictError || !strings.Contains(run.Meta.Error, "disk full") {
		t.Fatalf("status %q error %q: want error saying the artifact disk is full", run.Meta.Status, run.Meta.Error)
	}
	if len(run.Samples) < 2 || len(run.Samples) >= 73 {
		t.Errorf("%d samples before the disk filled; want some, not all", len(run.Samples))
	}
}

func TestSoak_InterruptedByTheCallerKeepsWhatItHas(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	sc := scenario{}
	sc.stallAt = 8
	clock := newFakeClock()
	sc.interval = 10 * time.Minute
	tgt := newScriptedTarget(t, clock, sc)
	done := make(chan *Run, 1)
	go func() {
		run, err := Soak(ctx, Config{Target: tgt, Duration: 12 * time.Hour, Interval: sc.interval, OutDir: t.TempDir(), Clock: clock})
		if err != nil {
			t.Errorf("Soak: %v", err)
		}
		done <- run
	}()
	// The read of sample 8 hangs; cancel as a Ginkgo SpecTimeout or Ctrl-C would.
	for {
		if recs, _ := filepath.Glob(filepath.Join(tgt.root, "proc", "meminfo")); len(recs) > 0 && tgt.sampleN() >= 8 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	run := <-done

	if run == nil {
		t.Fatal("no run")
	}
	if run.Meta.Status != report.VerdictError || !strings.Contains(run.Meta.Error, "interrupted") {
		t.Errorf("status %q error %q, want error saying interrupted", run.Meta.Status, run.Meta.Error)
	}
	if len(run.Samples) != 8 {
		t.Errorf("%d samples kept, want 8 (0-7)", len(run.Samples))
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "report.json")); err != nil {
		t.Errorf("an interrupted run still writes its reports: %v", err)
	}
}

func TestSoak_ScanSlowerThanAnIntervalDelaysButLosesNoSample(t *testing.T) {
	t.Parallel()
	run, _ := soakFor(t, scenario{slowScanAt: 20}, nil)

	if run.Meta.Status != report.VerdictPass {
		t.Fatalf("status %q (%s), want pass", run.Meta.Status, run.Meta.Error)
	}
	if len(run.Gaps) != 0 || len(run.Samples) != 73 {
		t.Errorf("%d samples, gaps %v: a slow scan must delay samples, not lose them", len(run.Samples), run.Gaps)
	}
	var late bool
	for i := 1; i < len(run.Samples); i++ {
		if d := run.Samples[i].At.Sub(run.Samples[i-1].At); d > 20*time.Minute {
			late = true
		}
	}
	if !late {
		t.Errorf("no sample came late; the slow scan was not exercised")
	}
}
