package trend

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/stat/distuv"
)

// exactSlopeMaxN is the largest series whose n(n−1)/2 pairwise slopes are all
// computed (180 k slopes, a few milliseconds). Longer series use
// sampledSlopePairs random pairs.
const exactSlopeMaxN = 600

// sampledSlopePairs is how many random pairs estimate the slope quantiles of
// a long series: the quantile's standard error is at most 0.5/√m ≈ 0.002.
const sampledSlopePairs = 1 << 16

// senSlopes holds a series' pairwise slopes, partitioned around the median.
type senSlopes struct {
	slopes  []float64
	pairs   int64
	sampled bool
	mid     int
	slope   float64
}

// senSlope returns the median of pairwise slopes (Theil 1950, Sen 1968),
// keeping the slopes for interval in a buffer of its own. Series longer than
// exactSlopeMaxN use sampled random pairs. Times must be strictly
// increasing. describe uses senSlopeInto to reuse one buffer instead.
func senSlope(t, y []float64, sampled int) senSlopes {
	var buf []float64
	return senSlopeInto(t, y, sampled, &buf)
}

// senSlopeInto is senSlope writing the slopes into *buf, grown when needed:
// at most n(n−1)/2 ≤ 179 700 slopes (1.4 MB) for an exact series, sampled
// slopes for a longer one, whatever the number of judgements. The result
// aliases *buf until the next call.
func senSlopeInto(t, y []float64, sampled int, buf *[]float64) senSlopes {
	n := len(t)
	if n < 2 {
		return senSlopes{}
	}
	s := senSlopes{pairs: int64(n) * int64(n-1) / 2, sampled: n > exactSlopeMaxN}
	m := int(s.pairs)
	if s.sampled {
		m = sampled
	}
	if cap(*buf) < m {
		*buf = make([]float64, m)
	}
	s.slopes = (*buf)[:m]
	if s.sampled {
		sampleSlopes(t, y, s.slopes)
	} else {
		k := 0
		for i := 0; i < n; i++ {
			yi, ti := y[i], t[i]
			for j := i + 1; j < n; j++ {
				s.slopes[k] = (y[j] - yi) / (t[j] - ti)
				k++
			}
		}
	}
	s.mid = s.at((s.pairs + 1) / 2)
	s.slope = selectK(s.slopes, s.mid)
	if !s.sampled && s.pairs%2 == 0 {
		// Even count: mean of the two middle slopes; the upper one is the
		// smallest of the right part after selection.
		upper := math.Inf(1)
		for _, v := range s.slopes[s.mid+1:] {
			upper = math.Min(upper, v)
		}
		s.slope = (s.slope + upper) / 2
	}
	return s
}

// at maps a 1-based rank among all pairs to an index into slopes.
func (s senSlopes) at(rank int64) int {
	rank = max(1, min(rank, s.pairs))
	if !s.sampled {
		return int(rank - 1)
	}
	m := len(s.slopes)
	i := int((float64(rank) - 0.5) / float64(s.pairs) * float64(m))
	return max(0, min(i, m-1))
}

// interval is Sen's distribution-free confidence interval: with
// C = z(1−(1−level)/2)·√Var(S), the bounds are the round((N−C)/2)-th and
// round((N+C)/2+1)-th ordered slopes of the N pairs (as R's trend::sens.slope).
// varS should be the autocorrelation-corrected variance so the interval
// agrees with the trend test.
func (s senSlopes) interval(varS, level float64) (low, high float64) {
	if len(s.slopes) == 0 {
		return 0, 0
	}
	c := distuv.UnitNormal.Quantile(1-(1-level)/2) * math.Sqrt(max(varS, 0))
	lowRank := int64(math.Round((float64(s.pairs) - c) / 2))
	highRank := int64(math.Round((float64(s.pairs)+c)/2 + 1))
	return rankedBelow(s.slopes, s.mid, s.at(lowRank)), rankedAbove(s.slopes, s.mid, s.at(highRank))
}

// lowerBound is interval's low bound alone (one selection instead of two).
func (s senSlopes) lowerBound(varS, level float64) float64 {
	if len(s.slopes) == 0 {
		return 0
	}
	c := distuv.UnitNormal.Quantile(1-(1-level)/2) * math.Sqrt(max(varS, 0))
	lowRank := int64(math.Round((float64(s.pairs) - c) / 2))
	return rankedBelow(s.slopes, s.mid, s.at(lowRank))
}

// rankedBelow returns the k-th smallest of slopes when k ≤ mid, where slopes
// is already partitioned around mid.
func rankedBelow(slopes []float64, mid, k int) float64 {
	if k >= mid {
		return slopes[mid]
	}
	return selectK(slopes[:mid], k)
}

// rankedAbove returns the k-th smallest of slopes when k ≥ mid.
func rankedAbove(slopes []float64, mid, k int) float64 {
	if k <= mid {
		return slopes[mid]
	}
	return selectK(slopes[mid+1:], k-mid-1)
}

// sampleSlopes fills out with the slopes of len(out) pairs i ≠ j drawn
// uniformly with a fixed seed, so a verdict is reproducible.
func sampleSlopes(t, y []float64, out []float64) {
	n := len(t)
	// The source alone (no rand.Rand around it): the same draws, no allocation.
	var rng rand.PCG
	rng.Seed(0x6c65616b, uint64(n))
	for k := range out {
		// One 64-bit draw gives both indexes (Lemire's multiply-shift).
		r := rng.Uint64()
		i := int((r & 0xffffffff) * uint64(n) >> 32)
		j := int((r >> 32) * uint64(n-1) >> 32)
		if j >= i {
			j++
		}
		if i > j {
			i, j = j, i
		}
		out[k] = (y[j] - y[i]) / (t[j] - t[i])
	}
}

// selectK partially orders a so that a[k] is its k-th smallest (0-based),
// a[:k] ≤ a[k] ≤ a[k+1:], and returns a[k]. Expected O(len(a)).
func selectK(a []float64, k int) float64 {
	lo, hi := 0, len(a)-1
	for lo < hi {
		// Median of three as pivot.
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		pivot := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < pivot {
				i++
			}
			for a[j] > pivot {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return a[k]
		}
	}
	return a[k]
}
