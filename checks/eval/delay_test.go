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
// class for the sequential rule, 3 for the trend rule, 10 runs of 300
// series) and guards what the full one shows: the low-noise linear leak is
// stopped in every series at both rates and sooner with fast counters; no
// benign series of any shape is stopped by the sequential rule; no stop
// comes before the rule's first look.
func TestEvaluateEarly_FastCountersStopLeaksSoonerAndCleanRunsStayUp(t *testing.T) {
	pol := checks.DefaultPolicy()
	cfg := DefaultEarlyConfig(pol, 20261125, 60, 10)
	cfg.Seeds = cfg.Seeds[:1]
	cfg.TrendPerClass = 3
	rep, err := EvaluateEarly(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The sequential rule's first look: EarlyMinSpan after warm-up; the
	// trend rule's: EarlyMinSamples judged points at 10 min, or at the
	// harness's 5-min cadence on the 1-min grid.
	first := [2][2]float64{
		{pol.EarlyMinSpan.Hours(), pol.EarlyMinSpan.Hours()},
		{float64(pol.EarlyMinSamples-1) / 6, float64(pol.EarlyMinSamples-1) / 60},
	}
	for _, c := range rep.Classes {
		seq := SequentialRule
		switch {
		case c.Name == "linear, noise 2 %":
			slow, fast := quantileHours(c.DelayHours[seq][slowRate], 0.5), quantileHours(c.DelayHours[seq][fastRate], 0.5)
			if c.Stopped[seq] != [2]int{60, 60} || !(fast < slow) {
				t.Errorf("%s: stopped %v of 60, median delay %.2f h slow, %.2f h fast; want all stopped, fast sooner", c.Name, c.Stopped[seq], slow, fast)
			}
		case !c.Leak && c.Stopped[seq] != [2]int{}:
			t.Errorf("benign %s: stopped %v of 60 at (slow, fast), want none", c.Name, c.Stopped[seq])
		}
		if c.N != [2]int{60, 3} {
			t.Errorf("%s: %v series judged by (sequential, trend), want 60 and 3", c.Name, c.N)
		}
		for rule := range 2 {
			for rate := range 2 {
				for _, h := range c.DelayHours[rule][rate] {
					if h < first[rule][rate]-1e-9 {
						t.Fatalf("%s, rule %s, rate %d: stopped %.2f h after warm-up, before the first look at %.2f h", c.Name, ruleNames[rule], rate, h, first[rule][rate])
					}
				}
			}
		}
	}
	// The bound allows 0.005 of runs: 0.5 expected over the 100 runs of
	// the full evaluation, so a second stopped run in 10 is a regression.
	if r := rep.Runs[0]; r.CleanStopped > 1 || r.BenignStopped > 1 {
		t.Errorf("runs stopped early: %+v, want at most 1 of 10", r)
	}
	if h := rep.HeadlineMedianHours(SequentialRule, fastRate); math.IsNaN(h) || h < first[0][1] {
		t.Errorf("headline median %.2f h at the fast rate, want a figure ≥ %.2f h", h, first[0][1])
	}
	md := rep.Markdown()
	for _, want := range []string{
		"## Early stopping",
		"### What delay is possible",
		"### Per class, rule sequential",
		"### Per class, rule trend",
		"| linear, noise 2 % | leak | straight growth, noise σ = 2 % of the growth | 100.0 % |",
	} {
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
