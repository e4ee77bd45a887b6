package harness

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/remote"
)

// briefOutageTarget fails the first calls after sample 2 with a lost link,
// as a dropbear restart does for a few seconds.
type briefOutageTarget struct {
	*scriptedTarget
	mu       sync.Mutex
	failLeft int
	armed    bool
}

func (b *briefOutageTarget) fault() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sampleN() >= 3 && !b.armed {
		b.armed, b.failLeft = true, 2
	}
	if b.failLeft > 0 {
		b.failLeft--
		return &remote.LinkError{Op: "run", Target: "rig", Err: io.ErrUnexpectedEOF}
	}
	return nil
}

func (b *briefOutageTarget) Run(ctx context.Context, argv []string, opts remote.RunOptions) (remote.Result, error) {
	if err := b.fault(); err != nil {
		return remote.Result{}, err
	}
	return b.scriptedTarget.Run(ctx, argv, opts)
}

func (b *briefOutageTarget) ReadFiles(ctx context.Context, paths []string, opts remote.ReadOptions) (*remote.Snapshot, error) {
	if err := b.fault(); err != nil {
		return nil, err
	}
	return b.scriptedTarget.ReadFiles(ctx, paths, opts)
}

func TestSoak_ABriefOutageWhileBehindScheduleLosesNoSample(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	// Sample 2's scan takes 15 min: the soak is 5 min behind when sample 3
	// (due at 30 min) starts, and the link is lost for two calls right then.
	sc := scenario{interval: 10 * time.Minute, slowScanAt: 2}
	tgt := &briefOutageTarget{scriptedTarget: newScriptedTarget(t, clock, sc)}
	cfg := Config{Target: tgt, Duration: 2 * time.Hour, Interval: sc.interval, OutDir: t.TempDir(), Clock: clock, Policy: shortRunPolicy(12)}

	run, err := Soak(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}

	if !tgt.armed || tgt.failLeft != 0 {
		t.Fatalf("the outage did not happen (armed %v, %d failures left)", tgt.armed, tgt.failLeft)
	}
	if run.Meta.Status != verdict.Pass || len(run.Gaps) != 0 || len(run.Samples) != 13 {
		t.Fatalf("status %q (%s), gaps %v, %d samples; want a pass with all 13 samples", run.Meta.Status, run.Meta.Error, gapIndexes(run), len(run.Samples))
	}
	s3 := run.Samples[3]
	if due := run.Meta.BaselineAt.Add(30 * time.Minute); !s3.At.After(due) {
		t.Errorf("sample 3 at %s, want after its due time %s (the soak was behind)", s3.At, due)
	}
}

// stallOnceTarget's first read of sample 5 hangs until its context ends,
// as a read does when the link stalls without breaking.
type stallOnceTarget struct {
	*scriptedTarget
	mu      sync.Mutex
	stalled bool
}

func (s *stallOnceTarget) ReadFiles(ctx context.Context, paths []string, opts remote.ReadOptions) (*remote.Snapshot, error) {
	s.mu.Lock()
	stall := s.sampleN() == 5 && !s.stalled
	s.stalled = s.stalled || stall
	s.mu.Unlock()
	if stall {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.scriptedTarget.ReadFiles(ctx, paths, opts)
}

func TestSoak_AReadThatOutlivesItsTimeoutIsRetriedNotTheEndOfTheRun(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	sc := scenario{interval: 10 * time.Minute}
	tgt := &stallOnceTarget{scriptedTarget: newScriptedTarget(t, clock, sc)}
	cfg := Config{Target: tgt, Duration: 2 * time.Hour, Interval: sc.interval, OutDir: t.TempDir(), Clock: clock, ReadTimeout: 300 * time.Millisecond, Policy: shortRunPolicy(12)}

	run, err := Soak(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}

	if !tgt.stalled {
		t.Fatal("the read never stalled")
	}
	if run.Meta.Status != verdict.Pass || len(run.Gaps) != 0 || len(run.Samples) != 13 {
		t.Fatalf("status %q (%s), gaps %v, %d samples; want a pass with all 13 samples", run.Meta.Status, run.Meta.Error, gapIndexes(run), len(run.Samples))
	}
}

func TestSoak_ARunThatLostMostOfItsSamplesIsAnErrorNotAPass(t *testing.T) {
	t.Parallel()
	// 4 h at 10 min: the link is down from sample 5 to 17 of 24, 13 gaps.
	sc := scenario{down: func(n int) bool { return n >= 5 && n < 18 }}
	run, _ := soakFor(t, sc, func(c *Config) { c.Duration = 4 * time.Hour })

	if got := len(run.Gaps); got != 13 {
		t.Fatalf("%d gaps, want 13", got)
	}
	if run.Meta.Status != verdict.Error || !strings.Contains(run.Meta.Error, "lost 13 of 25 planned samples") {
		t.Errorf("status %q (%s), want error saying 13 of 25 samples were lost", run.Meta.Status, run.Meta.Error)
	}
}
