package trend

import (
	"math"
	"slices"
)

// AdjustBH returns Benjamini–Hochberg adjusted p-values ("q-values") in the
// order given: a series is a discovery at false discovery rate q when its
// adjusted p is ≤ q. It controls the FDR for independent or positively
// dependent tests (Benjamini & Hochberg 1995; Benjamini & Yekutieli 2001),
// which is what series sharing one target's memory are. NaN p-values are
// left as NaN and do not count as tests.
func AdjustBH(ps []float64) []float64 {
	out := make([]float64, len(ps))
	idx := make([]int, 0, len(ps))
	for i, p := range ps {
		if math.IsNaN(p) {
			out[i] = math.NaN()
			continue
		}
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case ps[a] < ps[b]:
			return -1
		case ps[a] > ps[b]:
			return 1
		}
		return 0
	})
	m := float64(len(idx))
	running := 1.0
	for r := len(idx) - 1; r >= 0; r-- {
		i := idx[r]
		adj := ps[i] * m / float64(r+1)
		running = math.Min(running, adj)
		out[i] = math.Max(0, running)
	}
	return out
}
