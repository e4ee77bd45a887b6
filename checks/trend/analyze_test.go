package trend

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// soak returns n times 10 minutes apart, in seconds.
func soak(n int) []float64 {
	t := make([]float64, n)
	for i := range t {
		t[i] = float64(i) * 600
	}
	return t
}

func TestAnalyze_RejectsBadInput(t *testing.T) {
	tests := []struct {
		name   string
		times  []float64
		values []float64
	}{
		{"a NaN value", []float64{0, 1, 2}, []float64{1, math.NaN(), 3}},
		{"an infinite value", []float64{0, 1, 2}, []float64{1, math.Inf(1), 3}},
		{"an infinite time", []float64{0, math.Inf(1), 2}, []float64{1, 2, 3}},
		{"times out of order", []float64{0, 2, 1}, []float64{1, 2, 3}},
		{"a repeated time", []float64{0, 1, 1}, []float64{1, 2, 3}},
		{"lengths that differ", []float64{0, 1}, []float64{1, 2, 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Analyze(tc.times, tc.values, DefaultOptions())
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("err = %v, want ErrBadInput", err)
			}
		})
	}
}

func TestAnalyze_TooFewPointsAfterWarmupIsInsufficient(t *testing.T) {
	// 12 points over 110 min; warm-up 1 h leaves 6.
	times := soak(12)
	values := make([]float64, 12)
	for i := range values {
		values[i] = float64(i)
	}
	r, err := Analyze(times, values, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Insufficient || r.N != 6 {
		t.Fatalf("verdict %s with N=%d, want insufficient with 6", r.Verdict, r.N)
	}
}

func TestAnalyze_ConstantSeriesIsOK(t *testing.T) {
	values := make([]float64, 73)
	for i := range values {
		values[i] = 4096
	}
	r, err := Analyze(soak(73), values, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	// Both looks give 0.5; doubled and capped, P is 1.
	if r.Verdict != OK || r.S != 0 || r.PWhole != 0.5 || r.P != 1 || r.SlopePerHour != 0 || r.Growth != 0 {
		t.Fatalf("got %+v, want ok with S=0, whole-window p 0.5, P 1, slope 0", r)
	}
}

func TestAnalyze_SteadyLinearGrowthIsALeakWithExactSlope(t *testing.T) {
	values := make([]float64, 73)
	for i := range values {
		values[i] = 1000 + 50*float64(i) // 50 per 10 min = 300/h
	}
	r, err := Analyze(soak(73), values, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Leak {
		t.Fatalf("verdict %s (%s), want leak", r.Verdict, r.Reason)
	}
	if !near(r.SlopePerHour, 300, 1e-9) || !near(r.SlopeLow, 300, 1e-9) || !near(r.SlopeHigh, 300, 1e-9) {
		t.Fatalf("slope %v [%v, %v], want 300 [300, 300]", r.SlopePerHour, r.SlopeLow, r.SlopeHigh)
	}
	// 67 points after the 1 h warm-up span 11 h.
	if r.N != 67 || !near(r.Growth, 3300, 1e-9) || !near(r.FittedGrowth, 3300, 1e-9) || r.Monotonic != 1 || r.Rising != 66 {
		t.Fatalf("N=%d growth=%v fitted=%v tau=%v rising=%d", r.N, r.Growth, r.FittedGrowth, r.Monotonic, r.Rising)
	}
}

func TestAnalyze_RampThatPlateausIsNotALeak(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	values := make([]float64, 73)
	for i := range values {
		h := float64(i) / 6
		values[i] = 1e6*(1-math.Exp(-h/2)) + rng.NormFloat64()*5e3
	}
	r, err := Analyze(soak(73), values, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != OK || r.Persistent {
		t.Fatalf("verdict %s persistent=%v (%s), want ok and not persistent", r.Verdict, r.Persistent, r.Reason)
	}
	if r.P > 0.01 {
		t.Fatalf("the ramp itself should be significant, p=%v", r.P)
	}
}

func TestAnalyze_DecreasingSeriesIsOK(t *testing.T) {
	values := make([]float64, 73)
	for i := range values {
		values[i] = 1e6 - 100*float64(i)
	}
	r, err := Analyze(soak(73), values, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != OK || r.P < 0.99 {
		t.Fatalf("verdict %s p=%v, want ok with p near 1", r.Verdict, r.P)
	}
}

func TestAnalyze_GrowthBelowFloorIsNotALeak(t *testing.T) {
	values := make([]float64, 73)
	for i := range values {
		values[i] = float64(i)
	}
	opts := DefaultOptions()
	opts.MinGrowth = 1000
	r, err := Analyze(soak(73), values, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != OK || !r.Significant || r.Material {
		t.Fatalf("verdict %s significant=%v material=%v, want ok, significant, not material", r.Verdict, r.Significant, r.Material)
	}
}

func TestAnalyze_FloorFilterSeesDriftUnderSawTooth(t *testing.T) {
	// A 2 h saw-tooth of amplitude 100 k over a drift of 2 k/h.
	values := make([]float64, 73)
	for i := range values {
		values[i] = 1e6 + 2000*float64(i)/6 + 1e5*float64(i%12)/11
	}
	opts := DefaultOptions()
	opts.FloorWindow = 2 * time.Hour
	r, err := Analyze(soak(73), values, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The floor is a staircase: its interval, not its point slope, holds the drift.
	if r.Verdict != Leak || r.SlopeLow > 2000 || r.SlopeHigh < 2000 {
		t.Fatalf("verdict %s slope %v [%v, %v] (%s), want leak with 2000/h inside", r.Verdict, r.SlopePerHour, r.SlopeLow, r.SlopeHigh, r.Reason)
	}
}

func TestAnalyze_AutocorrelationWidensTheTest(t *testing.T) {
	// A slow random walk looks like a trend to a plain Mann–Kendall test;
	// the Hamed–Rao factor must inflate the variance.
	rng := rand.New(rand.NewPCG(13, 14))
	values := make([]float64, 200)
	level := 0.0
	for i := range values {
		level = 0.95*level + rng.NormFloat64()
		values[i] = level
	}
	opts := DefaultOptions()
	opts.Warmup = 0
	r, err := Analyze(soak(200), values, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.VarianceInflation <= 2 {
		t.Fatalf("variance inflation %v, want > 2 for AR(1) φ=0.95", r.VarianceInflation)
	}
}

func TestAnalyzeRun_ControlsFalseDiscoveries(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	var series []Series
	for range 300 {
		v := make([]float64, 73)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		series = append(series, Series{Name: "noise", Times: soak(73), Values: v, Options: DefaultOptions()})
	}
	leak := make([]float64, 73)
	for i := range leak {
		leak[i] = float64(i) + rng.NormFloat64()
	}
	series = append(series, Series{Name: "leak", Times: soak(73), Values: leak, Options: DefaultOptions()})
	results, err := AnalyzeRun(context.Background(), series)
	if err != nil {
		t.Fatal(err)
	}
	leaks := 0
	for _, r := range results[:300] {
		if r.Verdict == Leak {
			leaks++
		}
		if r.PAdjusted < r.P {
			t.Fatalf("adjusted p %v below raw %v", r.PAdjusted, r.P)
		}
	}
	if leaks > 0 {
		t.Fatalf("%d of 300 noise series called leaks", leaks)
	}
	if results[300].Verdict != Leak {
		t.Fatalf("the leak was missed: %s", results[300].Reason)
	}
}

func TestAnalyzeRun_NamesTheBadSeries(t *testing.T) {
	_, err := AnalyzeRun(context.Background(), []Series{{Name: "kmalloc-64", Times: []float64{0, 1}, Values: []float64{1, math.NaN()}}})
	if !errors.Is(err, ErrBadInput) || err == nil || !contains(err.Error(), "kmalloc-64") {
		t.Fatalf("err = %v, want ErrBadInput naming the series", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func FuzzAnalyze(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, int64(600))
	f.Add([]byte{255, 0, 255, 0, 7, 7, 7, 7}, int64(1))
	f.Fuzz(func(t *testing.T, raw []byte, step int64) {
		if step <= 0 || len(raw) > 4096 {
			return
		}
		times := make([]float64, len(raw))
		values := make([]float64, len(raw))
		for i, b := range raw {
			times[i] = float64(int64(i) * step)
			values[i] = float64(b) * 1e6
		}
		r, err := Analyze(times, values, DefaultOptions())
		if err != nil {
			t.Fatalf("valid input rejected: %v", err)
		}
		if math.IsNaN(r.P) || r.P < 0 || r.P > 1 || math.IsNaN(r.SlopePerHour) || r.SlopeLow > r.SlopeHigh {
			t.Fatalf("bad result %+v", r)
		}
	})
}
