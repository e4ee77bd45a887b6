package trend

import "math"

// The increments check models growth that comes in steps: allocation
// bursts, or an object count rising in whole objects. Between steps such a
// series is flat, so against a straight line its residuals drift like a
// random walk and the AR(1) model vetoes it. But the AR(1) model's worst
// case, a random walk, goes down as often and as far as it goes up: with
// independent increments of symmetric distribution every sign pattern is
// equally likely, so the growth (the sum of the increments d) exceeds
// z·√(Σd²) with probability at most exp(−z²/2) (Hoeffding's bound for a
// sum of randomly signed terms). An AR(1) series with φ < 1 — increments
// negatively correlated — or white noise, a saw-tooth or a spike return
// what they gain and pass even more rarely. A leak's decreases are rare and
// small, so its growth stands many √(Σd²) tall.

// incrementsResult is the increments check on one window.
type incrementsResult struct {
	// z is the growth over √(Σd²); p the bound exp(−z²/2) (1 when the series
	// did not grow); growthLow the growth less incrementsMargin times the
	// spread of the increments about their mean, √(Σ(d − d̄)²).
	z, p, growthLow float64
}

// incrementsMargin is √(2·ln 20): the same bound at 5 % one-sided, so
// growthLow is a 95 % lower bound on the drift's total under the
// sign-symmetric model.
var incrementsMargin = math.Sqrt(2 * math.Log(20))

// incrementsCheck runs the increments check on v.
func incrementsCheck(v []float64) incrementsResult {
	n := len(v)
	r := incrementsResult{p: 1}
	if n < 3 {
		return r
	}
	growth := v[n-1] - v[0]
	mean := growth / float64(n-1)
	var ss, centred float64
	for i := 1; i < n; i++ {
		d := v[i] - v[i-1]
		ss += d * d
		centred += (d - mean) * (d - mean)
	}
	if ss <= 0 || growth <= 0 {
		return r
	}
	r.z = growth / math.Sqrt(ss)
	r.p = math.Min(1, math.Exp(-r.z*r.z/2))
	r.growthLow = growth - incrementsMargin*math.Sqrt(centred)
	return r
}
