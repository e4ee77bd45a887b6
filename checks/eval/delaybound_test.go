package eval

import (
	"math"
	"testing"

	"github.com/leakgate/leakgate/checks"
)

func TestGLSSlopeSD_HandComputedCases(t *testing.T) {
	cases := []struct {
		name       string
		r          []float64
		sigma, phi float64
		want       float64
	}{
		// White noise, r = 0, 1, 2: Sxx = 2, Var(b) = σ²/Sxx = 1/2.
		{"white noise, three points", []float64{0, 1, 2}, 1, 0, math.Sqrt(0.5)},
		// Two points: b = y1 − y0, Var = 2σ²(1 − φ) = 2·4·0.5.
		{"two points under correlation 0.5", []float64{0, 1}, 2, 0.5, math.Sqrt(4)},
		// A regressor that does not vary says nothing about a slope.
		{"flat regressor", []float64{3, 3, 3}, 1, 0.3, math.NaN()},
	}
	for _, c := range cases {
		got := glsSlopeSD(c.r, c.sigma, c.phi)
		if math.IsNaN(c.want) != math.IsNaN(got) || (!math.IsNaN(got) && math.Abs(got-c.want) > 1e-12) {
			t.Errorf("%s: glsSlopeSD = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestGLSSlopeSD_CorrelatedNoiseNeedsMorePointsThanWhite(t *testing.T) {
	// 121 points a minute apart: under AR(1) 0.7 the GLS variance is about
	// (1+φ)/(1−φ) = 5.67 times the white one (the long-run factor), so
	// the standard deviation is about 2.4 times larger.
	r := make([]float64, 121)
	for i := range r {
		r[i] = float64(i)
	}
	ratio := glsSlopeSD(r, 1, 0.7) / glsSlopeSD(r, 1, 0)
	if math.Abs(ratio-math.Sqrt(1.7/0.3)) > 0.15 {
		t.Fatalf("sd ratio %.3f, want about %.3f", ratio, math.Sqrt(1.7/0.3))
	}
}

func TestSawShareUnbroken_HandComputedShares(t *testing.T) {
	// (1/2)[(3 − w) − w ln(3/w)] for w in [1, 3].
	for _, c := range []struct{ w, want float64 }{
		{1, (2 - math.Log(3)) / 2},
		{2, (1 - 2*math.Log(1.5)) / 2},
		{2.5, (0.5 - 2.5*math.Log(1.2)) / 2},
		{3, 0},
		{4, 0},
	} {
		if got := sawShareUnbroken(c.w); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("sawShareUnbroken(%v) = %v, want %v", c.w, got, c.want)
		}
	}
}

func TestOracleDelayBound_HalfOfTheHeadlineLeaksNeedMoreThanOneAndAHalfHours(t *testing.T) {
	// α = 0.005/300 = 1.67e-5, z_α = 4.15. Linear leaks of growth 1 over
	// 12 h (slope 1/12 per hour) at 10 min, noise nearly white (0.7^10 =
	// 0.028 between neighbours, variance × (1.028/0.972) = 1.058 for the
	// slope): n points span (n−1)/6 h, Sxx = n(n²−1)/12 · (1/6)².
	// 2 % noise: n = 7 gives Sxx 0.778, z = (1/12)·√0.778/0.02/√1.058 = 3.57;
	// n = 8 gives Sxx 1.167, z = 4.37: half stopped by 7/6 h.
	// 25 % noise: n = 41 gives Sxx 159.4, z = 4.09; n = 42 gives Sxx 171.5,
	// z = 4.24: by 41/6 h.
	cfg := DefaultEarlyConfig(checks.DefaultPolicy(), 1, 1, 1)
	b := OracleDelayBound(cfg)
	if math.Abs(b.ZAlpha-4.15) > 0.01 {
		t.Errorf("z_α = %.3f, want 4.15", b.ZAlpha)
	}
	for _, c := range []struct {
		class int
		want  float64
	}{{0, 7.0 / 6}, {2, 41.0 / 6}} {
		if h := b.SpanFor(slowRate, c.class, 0.5); math.Abs(h-c.want) > 1e-6 {
			t.Errorf("%s at 10 min: half stopped by %.3f h, want %.3f h", b.ClassNames[c.class], h, c.want)
		}
	}
	for rate := range 2 {
		if m := b.MedianHours(rate); !(m > 1.5) {
			t.Errorf("rate %d: oracle median %.2f h, want above 1.5 h", rate, m)
		}
	}
}
