package trend

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestAnalyze_DrawdownIsTheLargestFallFromTheRunningMaximum(t *testing.T) {
	tests := []struct {
		name     string
		values   []float64
		drawdown float64
	}{
		{"a rise that never falls", []float64{1, 2, 3, 4, 5}, 0},
		{"two dips, the later deeper", []float64{1, 3, 2, 5, 4, 6, 3.5}, 2.5},
		{"a fall below the start", []float64{5, 6, 1, 2, 3}, 5},
		{"a constant series", []float64{7, 7, 7, 7}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := DefaultOptions()
			opts.Warmup = 0
			r, err := Analyze(soak(len(tc.values)), tc.values, opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.Drawdown != tc.drawdown {
				t.Fatalf("drawdown %v, want %v", r.Drawdown, tc.drawdown)
			}
		})
	}
}

// staircase is a leak that grows only at a few events under small noise:
// its residuals around a line look like a random walk to an AR(1) model.
func staircase(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	level := 0.0
	for i := range v {
		if rng.Float64() < 0.25 {
			level += rng.ExpFloat64() * (4 << 10)
		}
		v[i] = 64<<20 + level + rng.NormFloat64()*512
	}
	return v
}

func TestAnalyze_SteadyRiseNeedsOnlyTheLooseStrictLevel(t *testing.T) {
	opts := DefaultOptions()
	opts.StrictAlpha = 1e-12 // no series passes the strict path
	times := soak(73)
	found := false
	for seed := range uint64(50) {
		v := staircase(rand.New(rand.NewPCG(seed, 1)), len(times))
		r, err := Analyze(times, v, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Steady || r.PStrict > opts.SteadyStrictAlpha {
			continue
		}
		found = true
		if !r.Significant {
			t.Fatalf("seed %d: steady staircase with strict p %.3g is not significant (%s)", seed, r.PStrict, r.Reason)
		}
		off := opts
		off.SteadyDrawdown, off.PeriodicDrawdown = 0, 0
		if r2, _ := Analyze(times, v, off); r2.Significant {
			t.Fatalf("seed %d: without the steady path a strict p of %.3g passed StrictAlpha %g", seed, r2.PStrict, off.StrictAlpha)
		}
	}
	if !found {
		t.Fatal("no staircase was steady with a strict p within SteadyStrictAlpha")
	}
}

func TestAnalyze_WanderThatGivesBackItsGainIsNotSteady(t *testing.T) {
	// Up by 10, down by 8, up by 10: the fall (8) is under the growth, so
	// steady; then a fall of 15 is more than the whole growth.
	times := soak(40)
	v := make([]float64, 40)
	for i := range v {
		switch {
		case i < 10:
			v[i] = float64(i)
		case i < 18:
			v[i] = 9 - float64(i-9)
		default:
			v[i] = 1 + float64(i-18)
		}
	}
	opts := DefaultOptions()
	opts.Warmup = 0
	r, err := Analyze(times, v, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Steady {
		t.Fatalf("drawdown %.3g with fitted growth %.3g: want steady", r.Drawdown, r.FittedGrowth)
	}
	v[len(v)-1] = v[len(v)-2] - 40
	r, err = Analyze(times, v, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Steady {
		t.Fatalf("drawdown %.3g with fitted growth %.3g: want not steady", r.Drawdown, r.FittedGrowth)
	}
}

func TestAnalyze_MaterialityAtTheLowerBound(t *testing.T) {
	// A straight rise of 2 MiB over 12 h under AR(1) noise: the point
	// estimate clears a 1.5 MiB floor; under strong correlation the lower
	// bound of the slope need not, and then the series is not material.
	times := soak(73)
	opts := DefaultOptions()
	opts.StrictAlpha = 0
	opts.MinGrowth = 1.5 * (1 << 20)
	checked := 0
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 2))
		v := make([]float64, len(times))
		x := 0.0
		for i := range v {
			x = 0.9*x + rng.NormFloat64()*(200<<10)
			v[i] = 64<<20 + 2*(1<<20)*float64(i)/72 + x
		}
		r, err := Analyze(times, v, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Significant || !r.Persistent || r.FittedGrowth < opts.MinGrowth {
			continue
		}
		lowGrowth := r.StrictSlopeLowPerHour * r.SpanHours
		if lowGrowth >= opts.MinGrowth {
			continue
		}
		checked++
		if r.Material || r.Verdict == Leak {
			t.Fatalf("seed %d: growth %.4g at the lower bound is below the floor %.4g but the verdict is %s (%s)", seed, lowGrowth, opts.MinGrowth, r.Verdict, r.Reason)
		}
		point := opts
		point.MaterialAtLowerBound = false
		if r2, _ := Analyze(times, v, point); !r2.Material {
			t.Fatalf("seed %d: judged at the point estimate (%.4g ≥ %.4g) it should be material", seed, r2.FittedGrowth, opts.MinGrowth)
		}
	}
	if checked == 0 {
		t.Fatal("no series had its lower bound below the floor: the test checks nothing")
	}
}

func TestYueWangRatio_BiasCorrectedCountsCorrelationBelowTheSignificanceLine(t *testing.T) {
	n := 100
	for seed := range uint64(1000) {
		rng := rand.New(rand.NewPCG(seed, 3))
		x := make([]float64, n)
		prev := 0.0
		for i := range x {
			prev = 0.15*prev + rng.NormFloat64()
			x[i] = prev
		}
		mean := 0.0
		for _, v := range x {
			mean += v
		}
		mean /= float64(n)
		var c0, c1 float64
		for i := range x {
			c0 += (x[i] - mean) * (x[i] - mean)
			if i > 0 {
				c1 += (x[i-1] - mean) * (x[i] - mean)
			}
		}
		rho := c1 / c0
		if rho <= 0.05 || rho >= 0.19 { // below the 1.96/√100 line, above 0
			continue
		}
		if got := yueWangRatio(x, false); got != 1 {
			t.Fatalf("seed %d: uncorrected n/n* = %v for an insignificant ρ = %.3f, want 1", seed, got, rho)
		}
		rc := (100*rho + 1) / 96
		want := 1.0
		for k := 1.0; k < 100; k++ {
			want += 2 * (1 - k/100) * math.Pow(rc, k)
		}
		if got := yueWangRatio(x, true); !near(got, want, 1e-9) {
			t.Fatalf("seed %d: bias-corrected n/n* = %v, want %v (ρ = %.3f, corrected %.3f)", seed, got, want, rho, rc)
		}
		return
	}
	t.Fatal("no seed gave an insignificant positive ρ: the test checks nothing")
}
