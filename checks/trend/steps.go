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

// stepThreshold is how many robust standard deviations of the increments
// make an increment a step: Gaussian noise exceeds 3σ in 0.3 % of samples.
const stepThreshold = 3

// stepsResult counts a window's steps: increments beyond stepThreshold
// robust σ (1.4826 × the median absolute increment) in each direction.
type stepsResult struct {
	up, down int
	// growthLow is the steps' net height less two σ per √step, the noise
	// the steps themselves may carry: how much the staircase grew at least.
	growthLow float64
}

// stepsCheck measures the staircase in v; scratch holds len(v) floats. A
// series that grows only at a few large events has a growth whose AR(1)
// lower bound is far below zero, yet the events themselves, less the noise
// between them, are a lower bound on the growth that no wander reaches
// (a wander has no steps, a pool's steps go both ways).
func stepsCheck(v, scratch []float64) stepsResult {
	n := len(v)
	if n < 3 {
		return stepsResult{}
	}
	abs := scratch[:n-1]
	for i := 1; i < n; i++ {
		abs[i-1] = math.Abs(v[i] - v[i-1])
	}
	// Integer counts that mostly do not move give σ = 0: every move is a step.
	sigma := 1.4826 * selectK(abs, (len(abs)-1)/2)
	limit := stepThreshold * sigma
	var r stepsResult
	var net float64
	for i := 1; i < n; i++ {
		switch d := v[i] - v[i-1]; {
		case d > limit:
			r.up++
			net += d
		case d < -limit:
			r.down++
			net += d
		}
	}
	r.growthLow = net - 2*sigma*math.Sqrt(float64(r.up+r.down))
	return r
}

// stepResiduals writes into out the series less the running sum of its
// steps (increments beyond stepThreshold robust σ): the noise between the
// steps, whose correlation is what the trend test should allow for when the
// growth is a staircase.
func stepResiduals(v, out, scratch []float64) []float64 {
	n := len(v)
	abs := scratch[:n-1]
	for i := 1; i < n; i++ {
		abs[i-1] = math.Abs(v[i] - v[i-1])
	}
	limit := stepThreshold * 1.4826 * selectK(abs, (len(abs)-1)/2)
	out = out[:n]
	out[0] = v[0]
	net := 0.0
	for i := 1; i < n; i++ {
		if d := v[i] - v[i-1]; d > limit || d < -limit {
			net += d
		}
		out[i] = v[i] - net
	}
	return out
}

// signTestP is P(X ≥ up) for X ~ Binomial(up+down, ½): how often at least
// this many of the steps would go up if each step's direction were a coin.
func signTestP(up, down int) float64 {
	n := up + down
	if n == 0 || up == 0 {
		return 1
	}
	// Σ_{k=up}^{n} C(n,k) / 2ⁿ, in logs so long series do not overflow.
	var p float64
	for k := up; k <= n; k++ {
		lc, _ := math.Lgamma(float64(n + 1))
		l1, _ := math.Lgamma(float64(k + 1))
		l2, _ := math.Lgamma(float64(n - k + 1))
		p += math.Exp(lc - l1 - l2 - float64(n)*math.Ln2)
	}
	return math.Min(1, p)
}
