package checks

import (
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
)

func TestLoadPolicy_EarlyRuleTrendKeepsTheOldFieldsWorking(t *testing.T) {
	p, err := LoadPolicy([]byte("early_rule: trend\nearly_stop_fdr: 0.000001\nearly_min_samples: 36\n"), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if p.EarlyRule != EarlyTrend || p.EarlyStopFDR != 1e-6 || p.EarlyMinSamples != 36 {
		t.Fatalf("got rule %q fdr %v min %d, want trend 1e-06 36", p.EarlyRule, p.EarlyStopFDR, p.EarlyMinSamples)
	}
}

func TestSequentialOptions_SplitTheRunBudgetOverItsSeries(t *testing.T) {
	p := DefaultPolicy()
	cases := []struct {
		series int
		want   float64
	}{
		{7, 0.005 / 300},   // fewer than EarlySeries: split over 300
		{600, 0.005 / 600}, // more: split over them all
		{300, 0.005 / 300},
	}
	for _, c := range cases {
		o := p.SequentialOptions(16<<10, 1<<20, c.series)
		if o.Alpha != c.want {
			t.Errorf("%d series: Alpha %v, want %v", c.series, o.Alpha, c.want)
		}
	}
	o := p.SequentialOptions(16<<10, 1<<20, 1)
	if o.Warmup != time.Hour || o.MinPoints != 12 || o.MinSpan != 2*time.Hour || o.Horizon != 11*time.Hour ||
		o.MinSlopePerHour != 16<<10 || o.MinGrowth != 1<<20 || o.PersistFraction != 0.7 || o.MaxDrawdown != 0.6 {
		t.Fatalf("options %+v do not carry the policy's early fields", o)
	}
}

// firstEarlyFail returns the number of samples after which early judging
// first fails the run, 0 for never, and that judgement.
func firstEarlyFail(samples []Sample, pol Policy) (int, Judgement) {
	for k := 2; k <= len(samples); k++ {
		if j := Judge(samples[:k], pol, JudgeOptions{}); j.Verdict == verdict.Fail {
			return k, j
		}
	}
	return 0, Judgement{}
}

func TestJudge_SequentialRuleStopsALeakBeforeTheTrendRuleAndSaysWhen(t *testing.T) {
	samples := soakRun(73, 4, leakingKmalloc128)
	pol := DefaultPolicy()
	pol.EarlyRule = EarlySequential
	seq, j := firstEarlyFail(samples, pol)
	old := DefaultPolicy()
	old.EarlyRule = EarlyTrend
	trendAt, _ := firstEarlyFail(samples, old)
	if seq == 0 || trendAt == 0 || seq >= trendAt {
		t.Fatalf("sequential stopped after %d samples, trend rule after %d; want both, sequential first", seq, trendAt)
	}
	// Warm-up is 6 samples; the first look needs 2 h of judged samples
	// (13 at 10 min).
	if seq < 19 {
		t.Fatalf("stopped after %d samples, before the first look at 19", seq)
	}
	if len(j.Findings) != 1 || j.Findings[0].Subject != "kmalloc-128" || !strings.HasPrefix(j.Findings[0].Reason, "stopped at ") {
		t.Fatalf("findings %+v, want one kmalloc-128 leak whose reason says when it stopped", j.Findings)
	}
}

func TestJudge_CleanRunIsNeverStoppedEarlyBySequentialRule(t *testing.T) {
	pol := DefaultPolicy()
	pol.EarlyRule = EarlySequential
	if k, j := firstEarlyFail(soakRun(73, 2, nil), pol); k != 0 {
		t.Fatalf("stopped after %d samples: %+v", k, j.Findings)
	}
}

func TestJudgeAfterEarlyStop_KeepsTheLeakThatStoppedTheRun(t *testing.T) {
	pol := DefaultPolicy()
	pol.EarlyRule = EarlySequential
	// The slab leak alone: kmemleak's corroboration would make the final
	// judge call it a leak anyway.
	samples := soakRun(73, 4, func(i int, s *Sample) { leakingKmalloc128(i, s); s.Leaks = nil })
	k, _ := firstEarlyFail(samples, pol)
	if k == 0 {
		t.Fatal("the leak never stopped the run early")
	}
	b := NewSeriesBuilder()
	for _, s := range samples[:k] {
		b.Add(s)
	}
	// The final judge alone, on the shortened run: 2.7 MiB over 12 h is
	// about 0.5 MiB after 2 h of judged samples, under the 1 MiB floor.
	if plain := findSubject(b.Judge(pol, JudgeOptions{Final: true}), "kmalloc-128"); plain != nil && plain.Verdict == verdict.Leak {
		t.Fatalf("the final judge alone already calls the shortened run a leak (%s); the test no longer shows the problem", plain.Reason)
	}
	j := b.JudgeAfterEarlyStop(pol)
	f := findSubject(j, "kmalloc-128")
	if j.Verdict != verdict.Fail || f == nil || f.Verdict != verdict.Leak || !strings.HasPrefix(f.Reason, "stopped at ") || !j.Final {
		t.Fatalf("verdict %s, kmalloc-128 %+v; want a final fail naming kmalloc-128 as the leak that stopped the run", j.Verdict, f)
	}
}

func TestSequentialOptions_CarryTheLookSpacing(t *testing.T) {
	p, err := LoadPolicy([]byte("early_look_every: 5m\n"), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if got := p.SequentialOptions(1, 1, 300).LookEvery; got != 5*time.Minute {
		t.Fatalf("LookEvery = %v, want 5m0s from early_look_every", got)
	}
	if got := DefaultPolicy().SequentialOptions(1, 1, 300).LookEvery; got != 10*time.Minute {
		t.Fatalf("default LookEvery = %v, want 10m0s", got)
	}
}

func TestJudge_ASequentialStopCarriesTheGrowthAndRisingStepsOfTheWindowItJudged(t *testing.T) {
	pol := DefaultPolicy()
	pol.EarlyRule = EarlySequential
	// kmalloc-128 (128-byte objects) gains 300 objects a sample; every
	// fourth sample holds 200 more for one sample, so the step into it
	// rises by 500 and the step out of it rises by 100: all rise. Every
	// seventh sample instead loses 400 for one sample, a step that falls.
	wobble := func(i int) int64 {
		switch {
		case i%7 == 0:
			return -400
		case i%4 == 0:
			return 200
		}
		return 0
	}
	objects := func(i int) int64 { return 3000 + 300*int64(i) + wobble(i) }
	samples := soakRun(73, 4, func(i int, s *Sample) { s.Slabs[1].ActiveObjects = objects(i) })
	k, j := firstEarlyFail(samples, pol)
	if k == 0 {
		t.Fatal("the leak never stopped the run early")
	}
	f := findSubject(j, "kmalloc-128")
	if f == nil || f.Verdict != verdict.Leak {
		t.Fatalf("findings %+v, want a kmalloc-128 leak", j.Findings)
	}
	// The judged window runs from the first sample past the 1 h warm-up
	// (sample 6, 60 min after the first) to the sample it stopped at.
	first, last := 6, k-1
	rising := 0
	for i := first + 1; i <= last; i++ {
		if objects(i) > objects(i-1) {
			rising++
		}
	}
	wantGrowth := float64(128 * (objects(last) - objects(first)))
	if f.Samples != last-first+1 || f.Growth != wantGrowth || f.Rising != rising || rising == 0 {
		t.Fatalf("stopped after %d samples: finding has %d samples, growth %v bytes, %d rising steps; want %d samples, growth %v bytes (%d objects), %d rising steps",
			k, f.Samples, f.Growth, f.Rising, last-first+1, wantGrowth, objects(last)-objects(first), rising)
	}
}
