package trend

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sort"
	"testing"
)

// sortedPairSlopes is the brute-force reference: every pairwise slope, sorted.
func sortedPairSlopes(t, y []float64) []float64 {
	var all []float64
	for i := range t {
		for j := i + 1; j < len(t); j++ {
			all = append(all, (y[j]-y[i])/(t[j]-t[i]))
		}
	}
	slices.Sort(all)
	return all
}

// senRanks returns Sen's interval ranks (1-based, clamped) for n pairs.
func senRanks(pairs int, varS, level float64) (low, high int) {
	c := 1.959963984540054 * math.Sqrt(varS)
	if level != 0.95 {
		panic("level")
	}
	low = int(math.Round((float64(pairs) - c) / 2))
	high = int(math.Round((float64(pairs)+c)/2 + 1))
	return max(1, min(low, pairs)), max(1, min(high, pairs))
}

// wobbly returns an uneven time axis and values with a trend, AR(1) noise
// and, when ties is set, values rounded so that many slopes tie.
func wobbly(rng *rand.Rand, n int, ties bool) (t, y []float64) {
	t = make([]float64, n)
	y = make([]float64, n)
	now, level := 0.0, 0.0
	for i := range t {
		now += 1 + float64(rng.IntN(4))
		t[i] = now
		level = 0.7*level + rng.NormFloat64()
		y[i] = 0.05*now + 3*level
		if ties {
			y[i] = math.Round(y[i])
		}
	}
	return t, y
}

func TestSenSlopeInto_ReusedBufferGivesTheExactQuantilesOfAllPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	// One buffer for every case, in an order that shrinks and grows it,
	// pre-filled with garbage: reuse must not leak one series into the next.
	buf := make([]float64, 10)
	for i := range buf {
		buf[i] = math.Inf(1)
	}
	for _, n := range []int{2, 3, 4, 5, 600, 12, 73, 599, 33, 201, 7} {
		for _, ties := range []bool{false, true} {
			tt, y := wobbly(rng, n, ties)
			all := sortedPairSlopes(tt, y)
			N := len(all)
			s := senSlopeInto(tt, y, sampledSlopePairs, &buf)
			if s.sampled {
				t.Fatalf("n=%d: sampled, want exact up to %d points", n, exactSlopeMaxN)
			}
			want := all[(N+1)/2-1]
			if N%2 == 0 {
				want = (all[N/2-1] + all[N/2]) / 2
			}
			if s.slope != want {
				t.Fatalf("n=%d ties=%v: slope %v, want the median of all pairs %v", n, ties, s.slope, want)
			}
			for _, varS := range []float64{0, 1, float64(N) / 3, 10 * float64(N), 1e12} {
				lowRank, highRank := senRanks(N, varS, 0.95)
				low, high := s.interval(varS, 0.95)
				if low != all[lowRank-1] || high != all[highRank-1] {
					t.Fatalf("n=%d ties=%v varS=%v: interval [%v, %v], want ranks %d and %d of all pairs [%v, %v]",
						n, ties, varS, low, high, lowRank, highRank, all[lowRank-1], all[highRank-1])
				}
				if lb := s.lowerBound(varS, 0.95); lb != low {
					t.Fatalf("n=%d varS=%v: lower bound %v, interval's %v", n, varS, lb, low)
				}
			}
		}
	}
}

func TestSenSlopeInto_SampledQuantilesStayWithinTheirDocumentedAccuracy(t *testing.T) {
	// A sampled quantile's rank among all pairs has a standard error of at
	// most 0.5/√m (m sampled pairs): 0.002 for the whole window, 0.004 for a
	// half. Four standard errors bound every quantile checked here.
	rng := rand.New(rand.NewPCG(43, 44))
	var buf []float64
	for _, n := range []int{601, 1500} {
		tt, y := wobbly(rng, n, n == 601)
		all := sortedPairSlopes(tt, y)
		N := len(all)
		for _, m := range []int{sampledSlopePairs, sampledSlopePairs / 4} {
			s := senSlopeInto(tt, y, m, &buf)
			if !s.sampled || len(s.slopes) != m {
				t.Fatalf("n=%d: %d slopes sampled=%v, want %d sampled", n, len(s.slopes), s.sampled, m)
			}
			tol := 4 * 0.5 / math.Sqrt(float64(m))
			// The share of all pairs at or below v, a range when v ties.
			shares := func(v float64) (float64, float64) {
				lo := sort.SearchFloat64s(all, v)
				hi := sort.Search(N, func(i int) bool { return all[i] > v })
				return float64(lo) / float64(N), float64(hi) / float64(N)
			}
			check := func(what string, v, target float64) {
				lo, hi := shares(v)
				if target < lo-tol || target > hi+tol {
					t.Errorf("n=%d m=%d %s: %v sits at %.4f–%.4f of all pairs, want %.4f ± %.4f", n, m, what, v, lo, hi, target, tol)
				}
			}
			check("median", s.slope, 0.5)
			for _, varS := range []float64{float64(N) * 10, float64(N) * 200} {
				lowRank, highRank := senRanks(N, varS, 0.95)
				low, high := s.interval(varS, 0.95)
				check("lower bound", low, float64(lowRank)/float64(N))
				check("upper bound", high, float64(highRank)/float64(N))
			}
		}
	}
}

func TestWorkspaceInflations_MatchEachCorrectionComputedAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	ws := &workspace{}
	for _, n := range []int{3, 16, 67, 512, 513, 2000, 40} {
		_, y := wobbly(rng, n, n == 67)
		for _, c := range []Correction{CorrectionHamedRao, CorrectionStrict, CorrectionNone} {
			got, gotStrict := ws.inflations(y, c)
			if want := varianceInflation(y, c); got != want {
				t.Fatalf("n=%d correction %d: %v, want %v", n, c, got, want)
			}
			if want := varianceInflation(y, CorrectionStrict); gotStrict != want {
				t.Fatalf("n=%d correction %d: strict %v, want %v", n, c, gotStrict, want)
			}
		}
	}
}

func TestAnalyzeRun_AWorkerReusingItsWorkspaceJudgesAsFreshOnes(t *testing.T) {
	rng := rand.New(rand.NewPCG(47, 48))
	var run []Series
	for _, n := range []int{73, 1500, 12, 600, 601, 5, 300, 2000, 73} {
		tt, y := wobbly(rng, n, n == 300)
		opts := DefaultOptions()
		opts.Warmup = 0
		run = append(run, Series{Name: "s", Times: tt, Values: y, Options: opts})
	}
	// Twice: the judgement must not depend on what ran before it.
	for round := range 2 {
		got, err := AnalyzeRun(context.Background(), run)
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range run {
			want := describe(s.Times, s.Values, s.Options, &workspace{})
			g := got[i]
			// Verdict fields are AnalyzeRun's (after BH); compare the statistics.
			g.Verdict, g.Reason, g.PAdjusted, g.Significant, g.Persistent, g.Material, g.Steady = "", "", 0, false, false, false, false
			if !reflect.DeepEqual(g, want) {
				t.Fatalf("round %d series %d (%d points): reused %+v\nfresh %+v", round, i, len(s.Times), g, want)
			}
		}
	}
}

func TestDescribe_AWarmWorkspaceAllocatesNothing(t *testing.T) {
	rng := rand.New(rand.NewPCG(49, 50))
	for _, n := range []int{73, 600, 5000} {
		tt, y := wobbly(rng, n, false)
		opts := DefaultOptions()
		ws := &workspace{}
		describe(tt, y, opts, ws)
		if allocs := testing.AllocsPerRun(5, func() { describe(tt, y, opts, ws) }); allocs != 0 {
			t.Errorf("n=%d: %.0f allocations per series with a warm workspace, want 0", n, allocs)
		}
	}
}
