package eval

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks"
)

// TestEvaluateEarly_FastCountersStopLeaksSoonerAndCleanRunsStayUp runs a
// small version of the early-stopping evaluation (one seed, 60 series per
// class, 10 runs of 300 series) and guards what the full one shows: the
// low-noise linear leak is stopped in every series at both rates and
// sooner with fast counters; no benign series of any shape is stopped; the
// first stop comes no earlier than the policy's first look.
func TestEvaluateEarly_FastCountersStopLeaksSoonerAndCleanRunsStayUp(t *testing.T) {
	pol := checks.DefaultPolicy()
	cfg := DefaultEarlyConfig(pol, 20261125, 60, 10)
	cfg.Seeds = cfg.Seeds[:1]
	rep, err := EvaluateEarly(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	first := (pol.EarlyMinSpan.Hours())
	for _, c := range rep.Classes {
		switch {
		case c.Name == "linear, noise 2 %":
			slow, fast := quantileHours(c.DelayHours[slowRate], 0.5), quantileHours(c.DelayHours[fastRate], 0.5)
			if c.Stopped != [2]int{60, 60} || !(fast < slow) {
				t.Errorf("%s: stopped %v of 60, median delay %.2f h slow, %.2f h fast; want all stopped, fast sooner", c.Name, c.Stopped, slow, fast)
			}
		case !c.Leak && c.Stopped != [2]int{}:
			t.Errorf("benign %s: stopped %v of 60 at (slow, fast), want none", c.Name, c.Stopped)
		}
		for rate := range 2 {
			for _, h := range c.DelayHours[rate] {
				if h < first-1e-9 {
					t.Fatalf("%s stopped %.2f h after warm-up, before the first look at %.2f h", c.Name, h, first)
				}
			}
		}
	}
	// One AR(1) series (noise correlated 0.9 over 10 min) in run 4 of this
	// seed rises 1.7 MiB/h for 3 h and is stopped: 1 of 3000 clean series,
	// about what the bound allows over the 100 runs of the full evaluation
	// (0.5 runs expected), so a second stopped run here would be a regression.
	if r := rep.Runs[0]; r.CleanStopped > 1 || r.BenignStopped > 1 {
		t.Errorf("runs stopped early: %+v, want at most 1 of 10", r)
	}
	if h := rep.HeadlineMedianHours(fastRate); math.IsNaN(h) || h < first {
		t.Errorf("headline median %.2f h at the fast rate, want a figure ≥ %.2f h", h, first)
	}
	md := rep.Markdown()
	for _, want := range []string{"## Early stopping (sequential rule)", "| linear, noise 2 % | leak | straight growth, noise σ = 2 % of the growth | 100.0 % |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestNoiseGen_WhiteNoiseIsCorrelatedAsConfiguredAtTheFastRate(t *testing.T) {
	// Lag-1 correlation of the OU noise at 1 min must be about 0.7 and at
	// 10 min about 0.7^10 = 0.028 (20 000 points: standard error ≈ 0.007).
	cfg := DefaultEarlyConfig(checks.DefaultPolicy(), 1, 1, 1)
	for _, c := range []struct {
		step, want float64
	}{{60, 0.7}, {600, math.Pow(0.7, 10)}} {
		g := newNoiseGen(cfg, 1, 99)
		x := g.white(grid(20000*c.step/hour, c.step), 1)
		var num, den float64
		for i := 1; i < len(x); i++ {
			num += x[i] * x[i-1]
		}
		for _, v := range x {
			den += v * v
		}
		if r := num / den; math.Abs(r-c.want) > 0.03 {
			t.Errorf("step %v s: lag-1 correlation %.3f, want %.3f ± 0.03", c.step, r, c.want)
		}
	}
}
