package trend

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// kendall holds Mann–Kendall's S and its variance for one series.
type kendall struct {
	S float64
	// Var is Var(S) under independence, corrected for ties in the values.
	Var float64
	// Pairs is n(n-1)/2.
	Pairs float64
	// Ties reports whether any two values are equal.
	Ties bool
}

// mannKendall computes S = #(x_j > x_i) − #(x_j < x_i) over i < j in
// O(n log n): discordant pairs are the strict inversions a merge sort counts,
// tied pairs come from runs in the sorted output, concordant pairs are the rest.
// scratch must hold 2n values; it is overwritten.
func mannKendall(x []float64, scratch []uint64) kendall {
	full, _ := mannKendallSplit(x, len(x), scratch)
	return full
}

// mannKendallSplit returns S for the whole of x and for x[h:] from one merge
// sort: the two parts are sorted separately (the later part's inversions are
// its own S's discordant pairs) and then merged, counting the pairs across.
func mannKendallSplit(x []float64, h int, scratch []uint64) (full, later kendall) {
	n := len(x)
	a := scratch[:n]
	b := scratch[n : 2*n]
	for i, v := range x {
		a[i] = orderedKey(v)
	}
	invEarly := mergeCountStrict(a[:h], b[:h])
	invLater := mergeCountStrict(a[h:], b[h:])
	later = fromSorted(a[h:], invLater)
	if h == 0 || h == n {
		return fromSorted(a, invEarly+invLater), later
	}
	cross := mergeCount(a[:h], a[h:], b)
	copy(a, b)
	return fromSorted(a, invEarly+invLater+cross), later
}

// fromSorted completes S and its tie-corrected variance from the sorted
// values and the count of discordant pairs.
func fromSorted(sorted []uint64, discordant int64) kendall {
	n := len(sorted)
	var tiedPairs, tieVarTerm float64
	ties := false
	for i := 0; i < n; {
		j := i + 1
		for j < n && sorted[j] == sorted[i] {
			j++
		}
		if t := float64(j - i); t > 1 {
			ties = true
			tiedPairs += t * (t - 1) / 2
			tieVarTerm += t * (t - 1) * (2*t + 5)
		}
		i = j
	}
	nf := float64(n)
	pairs := nf * (nf - 1) / 2
	concordant := pairs - float64(discordant) - tiedPairs
	return kendall{
		S:     concordant - float64(discordant),
		Var:   (nf*(nf-1)*(2*nf+5) - tieVarTerm) / 18,
		Pairs: pairs,
		Ties:  ties,
	}
}

// mergeCount merges sorted left and right into dst and returns how many
// pairs (l in left, r in right) have l > r.
func mergeCount(left, right, dst []uint64) int64 {
	var inv int64
	i, j, k := 0, 0, 0
	nl, nr := len(left), len(right)
	for i < nl && j < nr {
		// Branch-free on integer keys (the compiler emits CMOV; it cannot
		// for floats): random data mispredicts a branch half the time.
		a, b := left[i], right[j]
		v, take := a, 0
		if b < a {
			v, take = b, 1
		}
		dst[k] = v
		inv += int64(take * (nl - i))
		j += take
		i += 1 - take
		k++
	}
	k += copy(dst[k:], left[i:])
	copy(dst[k:], right[j:])
	return inv
}

// mergeCountStrict sorts a ascending (buf is scratch of the same length) and
// returns the number of pairs i < j with a[i] > a[j] in the original order.
// Equal values are not counted. Bottom-up to avoid recursion.
func mergeCountStrict(a, buf []uint64) int64 {
	n := len(a)
	var inv int64
	// Insertion-sort small runs first: fewer passes, same count.
	const run = 16
	for lo := 0; lo < n; lo += run {
		hi := min(lo+run, n)
		for i := lo + 1; i < hi; i++ {
			v := a[i]
			j := i
			for j > lo && a[j-1] > v {
				a[j] = a[j-1]
				j--
			}
			inv += int64(i - j)
			a[j] = v
		}
	}
	src, dst := a, buf
	for width := run; width < n; width *= 2 {
		for lo := 0; lo < n; lo += 2 * width {
			mid := min(lo+width, n)
			hi := min(lo+2*width, n)
			inv += mergeCount(src[lo:mid], src[mid:hi], dst[lo:hi])
		}
		src, dst = dst, src
	}
	if n > 0 && &src[0] != &a[0] {
		copy(a, src)
	}
	return inv
}

// orderedKey maps a finite float to a uint64 with the same order, so sorting
// compares integers; −0 and +0 share a key as they compare equal.
func orderedKey(v float64) uint64 {
	if v == 0 {
		v = 0
	}
	b := math.Float64bits(v)
	if b>>63 == 1 {
		return ^b
	}
	return b | 1<<63
}

// upperP is the one-sided p-value of S under "no upward trend", from the
// normal approximation with continuity correction on variance v.
func upperP(s, v float64) float64 {
	if v <= 0 {
		return 0.5
	}
	var z float64
	switch {
	case s > 0:
		z = (s - 1) / math.Sqrt(v)
	case s < 0:
		z = (s + 1) / math.Sqrt(v)
	}
	return distuv.UnitNormal.Survival(z)
}

// exactMaxN is the largest n for which S's exact null distribution is used
// (no ties, no autocorrelation correction): the normal approximation is poor
// below about ten points.
const exactMaxN = 10

// exactUpperP returns P(S ≥ s) under independence for n distinct values,
// counting permutations by inversions (Mahonian numbers): S = pairs − 2·inv.
func exactUpperP(n int, s float64) float64 {
	pairs := n * (n - 1) / 2
	counts := make([]float64, pairs+1)
	counts[0] = 1
	for m := 2; m <= n; m++ {
		next := make([]float64, pairs+1)
		for k := 0; k <= pairs; k++ {
			if counts[k] == 0 {
				continue
			}
			for add := 0; add < m && k+add <= pairs; add++ {
				next[k+add] += counts[k]
			}
		}
		counts = next
	}
	total := 0.0
	for _, c := range counts {
		total += c
	}
	// S ≥ s  ⇔  inv ≤ (pairs − s)/2.
	limit := int(math.Floor((float64(pairs) - s) / 2))
	var hit float64
	for k := 0; k <= limit && k <= pairs; k++ {
		hit += counts[k]
	}
	return hit / total
}

// averageRanksInto sets ranks to the 1-based ranks of x, ties sharing their
// mean rank; idx is scratch. All three have the same length.
func averageRanksInto(x []float64, idx []int32, ranks []float64) {
	n := len(x)
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(p, q int32) int {
		switch {
		case x[p] < x[q]:
			return -1
		case x[p] > x[q]:
			return 1
		}
		return 0
	})
	for i := 0; i < n; {
		j := i + 1
		for j < n && x[idx[j]] == x[idx[i]] {
			j++
		}
		r := float64(i+j+1) / 2 // mean of ranks i+1 .. j
		for k := i; k < j; k++ {
			ranks[idx[k]] = r
		}
		i = j
	}
}
