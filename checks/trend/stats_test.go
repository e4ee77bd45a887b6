package trend

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestMannKendall_HandComputedValues(t *testing.T) {
	tests := []struct {
		name    string
		x       []float64
		wantS   float64
		wantVar float64
		ties    bool
	}{
		{"a steady rise of five points has S of ten", []float64{1, 2, 3, 4, 5}, 10, 300.0 / 18, false},
		{"a steady fall has S of minus ten", []float64{5, 4, 3, 2, 1}, -10, 300.0 / 18, false},
		// Pairs: 7 rise, 2 fall, 1 tied; one tie group of 2 removes 2·1·9 from n(n−1)(2n+5).
		{"a tie lowers the variance", []float64{1, 3, 2, 2, 5}, 5, 282.0 / 18, true},
		{"a constant series has S and variance zero", []float64{7, 7, 7, 7}, 0, 0, true},
		{"two points rising", []float64{1, 2}, 1, 2 * 1 * 9.0 / 18, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := mannKendall(tc.x, make([]uint64, 2*len(tc.x)))
			if k.S != tc.wantS || !near(k.Var, tc.wantVar, 1e-12) || k.Ties != tc.ties {
				t.Fatalf("S=%v Var=%v ties=%v, want S=%v Var=%v ties=%v", k.S, k.Var, k.Ties, tc.wantS, tc.wantVar, tc.ties)
			}
		})
	}
}

func TestMannKendallSplit_LaterPartMatchesItsOwnTest(t *testing.T) {
	x := []float64{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5}
	full, later := mannKendallSplit(x, 6, make([]uint64, 2*len(x)))
	wantFull := mannKendallBrute(x)
	wantLater := mannKendallBrute(x[6:])
	if full.S != wantFull || later.S != wantLater {
		t.Fatalf("S full %v later %v, want %v and %v", full.S, later.S, wantFull, wantLater)
	}
	// x[6:] = 2,6,5,3,5: rises 2→6,2→5,2→3,2→5,3→5 = 5, falls 6→5,6→3,6→5,5→3 = 4, one tie.
	if wantLater != 1 {
		t.Fatalf("brute force later S = %v, want 1", wantLater)
	}
}

func TestOrderedKey_KeepsFloatOrder(t *testing.T) {
	vals := []float64{math.Inf(-1), -1e300, -2.5, -1e-300, math.Copysign(0, -1), 0, 1e-300, 3, 1e300, math.Inf(1)}
	for i := 1; i < len(vals); i++ {
		a, b := orderedKey(vals[i-1]), orderedKey(vals[i])
		if vals[i-1] == vals[i] && a != b || vals[i-1] < vals[i] && a >= b {
			t.Fatalf("key order breaks between %v and %v", vals[i-1], vals[i])
		}
	}
}

func mannKendallBrute(x []float64) float64 {
	var s float64
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			switch {
			case x[j] > x[i]:
				s++
			case x[j] < x[i]:
				s--
			}
		}
	}
	return s
}

func TestMergeCountStrict_MatchesBruteForceWithTies(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 15, 16, 17, 33, 100, 1000} {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(rng.IntN(20)) // many ties
		}
		var want int64
		for i := range x {
			for j := i + 1; j < n; j++ {
				if x[i] > x[j] {
					want++
				}
			}
		}
		a := make([]uint64, n)
		for i, v := range x {
			a[i] = orderedKey(v - 10) // negative and positive values
		}
		got := mergeCountStrict(a, make([]uint64, n))
		if got != want {
			t.Fatalf("n=%d: %d inversions, want %d", n, got, want)
		}
		if !slices.IsSorted(a) {
			t.Fatalf("n=%d: output not sorted", n)
		}
	}
}

func TestExactUpperP_SmallSamples(t *testing.T) {
	tests := []struct {
		name string
		n    int
		s    float64
		want float64
	}{
		{"four rising points happen once in 24 orders", 4, 6, 1.0 / 24},
		{"five rising points happen once in 120 orders", 5, 10, 1.0 / 120},
		// S = 8 means one inversion: the identity plus 4 adjacent swaps.
		{"five points with one inversion", 5, 8, 5.0 / 120},
		{"S of minus the pairs is certain", 4, -6, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exactUpperP(tc.n, tc.s); !near(got, tc.want, 1e-12) {
				t.Fatalf("P(S ≥ %v | n=%d) = %v, want %v", tc.s, tc.n, got, tc.want)
			}
		})
	}
}

func TestUpperP_NormalApproximation(t *testing.T) {
	// S = 10, Var = 16.667: z = 9/4.0825 = 2.2045, one-sided p = 0.013745.
	if got := upperP(10, 300.0/18); !near(got, 0.013745, 1e-5) {
		t.Fatalf("p = %v, want 0.013745", got)
	}
	if got := upperP(0, 0); got != 0.5 {
		t.Fatalf("constant series p = %v, want 0.5", got)
	}
	if got := upperP(-10, 300.0/18); !near(got, 1-0.013745, 1e-5) {
		t.Fatalf("falling series p = %v, want 0.986255", got)
	}
}

func TestSenSlope_HandComputedMedians(t *testing.T) {
	tests := []struct {
		name string
		t, y []float64
		want float64
	}{
		// Slopes 2, 1.5, 1.
		{"three points take the middle slope", []float64{0, 1, 2}, []float64{0, 2, 3}, 1.5},
		// Slopes 1, 1, 10/3, 1, 4.5, 8: mean of 1 and 10/3.
		{"an even count of slopes takes the mean of the middle two", []float64{0, 1, 2, 3}, []float64{0, 1, 2, 10}, (1 + 10.0/3) / 2},
		{"uneven spacing divides by the gap", []float64{0, 10, 30}, []float64{0, 5, 15}, 0.5},
		{"a constant series has slope zero", []float64{0, 1, 2, 3}, []float64{4, 4, 4, 4}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := senSlope(tc.t, tc.y, sampledSlopePairs).slope; !near(got, tc.want, 1e-12) {
				t.Fatalf("slope %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSenInterval_HandComputedRanks(t *testing.T) {
	// Slopes sorted: −1, 0.5, 0.5, 2/3, 1, 1, 1, 1.5, 2, 2 (N = 10).
	// Var(S) = 16.667, level 0.90: C = 1.6449·4.0825 = 6.715;
	// ranks round(1.64) = 2 and round(9.36) = 9.
	s := senSlope([]float64{0, 1, 2, 3, 4}, []float64{0, 1, 3, 2, 4}, sampledSlopePairs)
	if s.slope != 1 {
		t.Fatalf("slope %v, want 1", s.slope)
	}
	low, high := s.interval(300.0/18, 0.90)
	if low != 0.5 || high != 2 {
		t.Fatalf("interval [%v, %v], want [0.5, 2]", low, high)
	}
}

func TestSenSlope_SampledAgreesWithExactOnLongSeries(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 2000
	tt := make([]float64, n)
	y := make([]float64, n)
	for i := range tt {
		tt[i] = float64(i)
		y[i] = 0.5*float64(i) + rng.NormFloat64()*100
	}
	sampled := senSlope(tt, y, sampledSlopePairs)
	if !sampled.sampled {
		t.Fatal("a 2000-point series should be sampled")
	}
	// The exact median of all pairs, by brute force.
	all := make([]float64, 0, n*(n-1)/2)
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			all = append(all, (y[j]-y[i])/(tt[j]-tt[i]))
		}
	}
	slices.Sort(all)
	exact := all[len(all)/2]
	// Quantile error ≤ 0.5/√65536 ≈ 0.002: the 0.49 and 0.51 quantiles bound it.
	lo, hi := all[len(all)*49/100], all[len(all)*51/100]
	if sampled.slope < lo || sampled.slope > hi {
		t.Fatalf("sampled slope %v outside [%v, %v] around exact %v", sampled.slope, lo, hi, exact)
	}
}

func TestSelectK_MatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 2, 3, 10, 101, 1000} {
		a := make([]float64, n)
		for i := range a {
			a[i] = float64(rng.IntN(7))
		}
		sorted := slices.Clone(a)
		slices.Sort(sorted)
		for _, k := range []int{0, n / 2, n - 1} {
			b := slices.Clone(a)
			if got := selectK(b, k); got != sorted[k] {
				t.Fatalf("n=%d k=%d: %v, want %v", n, k, got, sorted[k])
			}
			for i := 0; i < k; i++ {
				if b[i] > b[k] {
					t.Fatalf("n=%d k=%d: left part not ≤ pivot", n, k)
				}
			}
		}
	}
}

func TestHamedRaoRatio_HandComputedWave(t *testing.T) {
	// Rank autocorrelations of this slow wave (n = 16, limit 1.96/4 = 0.49):
	// ρ1 = 0.89779, ρ2 = 0.66324, ρ7 = −0.49485 are significant, giving
	// 1 + 2/(16·15·14)·(15·14·13·ρ1 + 14·13·12·ρ2 + 9·8·7·ρ7) = 3.17267.
	x := []float64{0.0, 0.8, 1.5, 1.9, 2.0, 1.7, 1.1, 0.3, -0.5, -1.2, -1.8, -2.0, -1.9, -1.4, -0.7, 0.1}
	if got := hamedRaoRatio(x); !near(got, 3.172665441176, 1e-9) {
		t.Fatalf("n/n* = %.12f, want 3.172665441176", got)
	}
}

func TestHamedRaoRatio_NeverBelowOne(t *testing.T) {
	// Alternating values are negatively correlated: the factor stays 1.
	x := []float64{1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1}
	if got := hamedRaoRatio(x); got != 1 {
		t.Fatalf("n/n* = %v, want 1", got)
	}
	if got := hamedRaoRatio([]float64{3, 3, 3, 3, 3}); got != 1 {
		t.Fatalf("constant: n/n* = %v, want 1", got)
	}
}

func TestYueWangRatio_HandComputed(t *testing.T) {
	// x = 1,2,3,4,3,2,1,2,3,4,3,2 (+ repeats to n = 600), mean 2.5; the
	// lag-1 autocorrelation of this triangle wave is ρ = c1/c0.
	x := make([]float64, 600)
	wave := []float64{1, 2, 3, 4, 3, 2}
	for i := range x {
		x[i] = wave[i%6]
	}
	var c0, c1 float64
	for i := range x {
		c0 += (x[i] - 2.5) * (x[i] - 2.5)
		if i > 0 {
			c1 += (x[i-1] - 2.5) * (x[i] - 2.5)
		}
	}
	rho := c1 / c0 // per period c1 = 2.5, c0 = 5.5: (100·2.5 − 0.75)/550 = 0.453182
	n := 600.0
	var want float64 = 1
	for k := 1.0; k < n; k++ {
		want += 2 * (1 - k/n) * math.Pow(rho, k)
	}
	if got := yueWangRatio(x, false); !near(got, want, 1e-9) {
		t.Fatalf("n/n* = %v, want %v (ρ=%v)", got, want, rho)
	}
	if !near(rho, 249.25/550, 1e-12) {
		t.Fatalf("ρ = %v, want 0.453182", rho)
	}
}

func TestAdjustBH_HandComputed(t *testing.T) {
	// Sorted 0.01, 0.03, 0.04, 0.5 (m = 4): raw 0.04, 0.06, 0.0533, 0.5;
	// running minimum from the top: 0.04, 0.0533, 0.0533, 0.5.
	got := AdjustBH([]float64{0.01, 0.04, 0.03, 0.5})
	want := []float64{0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5}
	for i := range want {
		if !near(got[i], want[i], 1e-12) {
			t.Fatalf("adjusted %v, want %v", got, want)
		}
	}
}

func TestAdjustBH_IgnoresNaN(t *testing.T) {
	got := AdjustBH([]float64{0.02, math.NaN(), 0.04})
	if !near(got[0], 0.04, 1e-12) || !math.IsNaN(got[1]) || !near(got[2], 0.04, 1e-12) {
		t.Fatalf("adjusted %v, want [0.04 NaN 0.04]", got)
	}
}

func TestFloorFilter_TrailingMinimum(t *testing.T) {
	times := []float64{0, 1, 2, 3, 4, 5}
	values := []float64{5, 3, 4, 1, 2, 6}
	got := floorFilter(times, values, 3)
	want := []float64{5, 3, 3, 1, 1, 1}
	if !slices.Equal(got, want) {
		t.Fatalf("floor %v, want %v", got, want)
	}
}
