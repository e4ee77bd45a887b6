package eval

import (
	"context"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks"
)

// issue16 names the classes issue 16 added: leaks the AR(1) check vetoed
// for their shape, and the chunk pool that guards the checks added for them.
var issue16 = map[string]bool{"starts 20–60 %": true, "bursts 0.5–4/h": true, "counts × size": true, "pool in chunks": true}

// TestEvaluate_DefaultPolicyMeetsTheDetectionTargets runs a small version of
// `make eval` (same seed, 300 series per class, 40 runs) and guards the
// headline figures on the classes from before issue 16: recall ≥ 98 % on
// leaks above the floor, no early stop of a benign series; and on all
// classes ≤ 1 % false alarms per benign series, ≤ 5 % of runs of 300
// benign series with any false alarm. The baselines must do worse than
// leakgate.
func TestEvaluate_DefaultPolicyMeetsTheDetectionTargets(t *testing.T) {
	rep, err := Evaluate(context.Background(), DefaultConfig(checks.DefaultPolicy(), 20261125, 300, 40))
	if err != nil {
		t.Fatal(err)
	}
	tot := rep.Totals()
	caught, leaks, early := 0, 0, 0
	for _, c := range rep.Classes {
		if c.Class.Hard || issue16[c.Class.Name] {
			continue
		}
		if c.Class.Leak {
			caught += c.Flagged[Judge]
			leaks += c.N
		}
		early += c.EarlyStops
	}
	if r := ratio(caught, leaks); r < 0.98 {
		t.Errorf("recall %.3f on the classes from before issue 16, want ≥ 0.98", r)
	}
	if early != 0 {
		t.Errorf("%d benign series of the classes from before issue 16 would have stopped a run early, want 0", early)
	}
	if tot.FalseAlarmPerSeries[Judge] > 0.01 {
		t.Errorf("false alarms per series %.4f, want ≤ 0.01", tot.FalseAlarmPerSeries[Judge])
	}
	if tot.FalseAlarmPerRun[Judge] > 0.05 {
		t.Errorf("runs with a false alarm %.3f, want ≤ 0.05", tot.FalseAlarmPerRun[Judge])
	}
	if tot.Recall[SeedRule] >= tot.Recall[Judge] || tot.FalseAlarmPerSeries[NaiveRule] <= tot.FalseAlarmPerSeries[Judge] {
		t.Errorf("baselines not worse: seed recall %.3f, naive false alarms %.3f", tot.Recall[SeedRule], tot.FalseAlarmPerSeries[NaiveRule])
	}
}

// TestEvaluate_ShapeChecksFindTheShapesOfIssue16AndCostNoFalseAlarm judges
// the same series with shape_checks on and off (today's judge): the leaks
// that start part-way are all but all found (≥ 98 %), the bursts and the
// object counts far more often than today (the full evaluation has the
// figures; both stay below 98 %, docs/detection.md says why), no benign
// class is flagged more often, no more runs have a false alarm, and early
// judging, which ignores the shape checks, stops exactly the same series.
func TestEvaluate_ShapeChecksFindTheShapesOfIssue16AndCostNoFalseAlarm(t *testing.T) {
	ctx := context.Background()
	on, err := Evaluate(ctx, DefaultConfig(checks.DefaultPolicy(), 7, 200, 40))
	if err != nil {
		t.Fatal(err)
	}
	offPolicy := checks.DefaultPolicy()
	offPolicy.ShapeChecks = false
	off, err := Evaluate(ctx, DefaultConfig(offPolicy, 7, 200, 40))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range on.Classes {
		was, is := ratio(off.Classes[i].Flagged[Judge], c.N), ratio(c.Flagged[Judge], c.N)
		switch {
		case c.Class.Name == "starts 20–60 %" && is < 0.98:
			t.Errorf("%s: recall %.3f (today %.3f), want ≥ 0.98", c.Class.Name, is, was)
		case (c.Class.Name == "bursts 0.5–4/h" || c.Class.Name == "counts × size") && is < was+0.1:
			t.Errorf("%s: recall %.3f, today %.3f; want at least 10 points more", c.Class.Name, is, was)
		case c.Class.Leak && is < was:
			t.Errorf("%s: recall %.3f, below today's %.3f", c.Class.Name, is, was)
		case !c.Class.Leak && is > was:
			t.Errorf("%s: %.3f flagged, more than today's %.3f", c.Class.Name, is, was)
		}
		if c.EarlyStops != off.Classes[i].EarlyStops {
			t.Errorf("%s: %d early stops with the shape checks, %d without; early judging must not change", c.Class.Name,
				c.EarlyStops, off.Classes[i].EarlyStops)
		}
	}
	if on.RunAlarms[Judge] > off.RunAlarms[Judge] {
		t.Errorf("%d of %d runs with a false alarm, today %d", on.RunAlarms[Judge], on.Config.Runs, off.RunAlarms[Judge])
	}
}

func TestEvaluate_IsReproducible(t *testing.T) {
	cfg := DefaultConfig(checks.DefaultPolicy(), 3, 20, 2)
	a, err := Evaluate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Evaluate(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a.Markdown() != b.Markdown() {
		t.Fatal("the same seed gave two different reports")
	}
	if !strings.Contains(a.Markdown(), "| figure | target | leakgate | seed rule | last − first |") {
		t.Fatal("report lacks the headline table")
	}
}

func TestClasses_LeaksGrowAndBenignSeriesStayBounded(t *testing.T) {
	cfg := DefaultConfig(checks.DefaultPolicy(), 1, 1, 1)
	times := timesOf(cfg)
	floor := cfg.Options.MinGrowth
	for i, c := range Classes() {
		rng := newRand(uint64(i))
		v := c.gen(rng, times, floor)
		if len(v) != len(times) {
			t.Fatalf("%s: %d values for %d times", c.Name, len(v), len(times))
		}
		// Mean of the last hour minus mean of the second hour.
		rise := mean(v[len(v)-6:]) - mean(v[6:12])
		if c.Leak && rise < floor {
			t.Errorf("%s: a leak rose by %.0f, less than the floor %.0f", c.Name, rise, floor)
		}
		if c.Name == "decreasing" && rise >= 0 {
			t.Errorf("decreasing rose by %.0f", rise)
		}
	}
}

func mean(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
