package trend

import "math"

// The change-point check models a leak that starts part-way: flat (or slow)
// up to a break, then growing. Judged against a straight line, such a
// series leaves residuals that are low in the middle and high at both ends,
// which the AR(1) model reads as strong serial correlation and so vetoes a
// leak that grew fifty times the floor. Fitting the segmented line first
// leaves the noise alone, and the segment after the break is then judged on
// its own, with the correlation measured on the segmented fit's residuals.

// changeMinFraction and changeMaxFraction bound where the break may fall, as
// a fraction of the judged points: the segment after it keeps at least a
// quarter of the window, so its own trend test has points to stand on.
const (
	changeMinFraction = 0.15
	changeMaxFraction = 0.75
	// changeMinPoints is the fewest points either segment may have.
	changeMinPoints = 8
)

// hinge is the least-squares fit v ≈ a + b·t + c·max(0, t − t[k]): a
// continuous two-segment line with its break at point k.
type hinge struct {
	k       int
	a, b, c float64
	rss     float64
}

// fitHinge returns the continuous two-segment least-squares fit with the
// smallest residual sum of squares over the allowed breaks, or ok=false when
// the series is too short to place one. O(n): every break is solved from
// suffix sums.
func fitHinge(t, v []float64) (best hinge, breaks int, ok bool) {
	n := len(t)
	lo := max(changeMinPoints, int(math.Ceil(changeMinFraction*float64(n))))
	hi := min(n-changeMinPoints, int(changeMaxFraction*float64(n)))
	if lo > hi {
		return hinge{}, 0, false
	}
	// Centre both axes so the normal equations keep their precision on a
	// 64 MiB base that moves by a few KiB.
	var tm, vm float64
	for i := range t {
		tm += t[i]
		vm += v[i]
	}
	tm /= float64(n)
	vm /= float64(n)
	var stt, stv, svv float64
	for i := range t {
		x, y := t[i]-tm, v[i]-vm
		stt += x * x
		stv += x * y
		svv += y * y
	}
	// Suffix sums from k: Σx, Σx², Σy, Σxy and the count.
	var sx, sxx, sy, sxy float64
	best.rss = math.Inf(1)
	for k := n - 1; k >= lo; k-- {
		x, y := t[k]-tm, v[k]-vm
		sx += x
		sxx += x * x
		sy += y
		sxy += x * y
		if k > hi {
			continue
		}
		m := float64(n - k)
		xk := t[k] - tm
		// h_i = x_i − x_k for i ≥ k, else 0. The intercept is absorbed by
		// centring h as well: with centred columns x and h (Σx = 0), the
		// fit is y ≈ b·x + c·(h − h̄).
		sh := sx - m*xk
		shh := sxx - 2*xk*sx + m*xk*xk
		sxh := sxx - xk*sx
		shy := sxy - xk*sy
		nf := float64(n)
		hh := shh - sh*sh/nf
		// Σx·(h − h̄) = Σx·h and Σ(h − h̄)·y = Σh·y, as Σx = Σy = 0.
		xh, hy := sxh, shy
		det := stt*hh - xh*xh
		if det <= 1e-12*stt*hh || hh <= 0 {
			continue
		}
		b := (hh*stv - xh*hy) / det
		c := (stt*hy - xh*stv) / det
		rss := svv - b*stv - c*hy
		if rss < best.rss {
			best = hinge{k: k, b: b, c: c, rss: rss, a: vm - b*tm - c*sh/nf}
		}
	}
	if math.IsInf(best.rss, 1) {
		return hinge{}, 0, false
	}
	return best, hi - lo + 1, true
}

// at returns the fitted value at time x (same origin as the fitted times).
func (h hinge) at(t []float64, x float64) float64 {
	return h.a + h.b*x + h.c*math.Max(0, x-t[h.k])
}

// changeResult is the change-point check on one window; breaks is how many
// breaks the fit tried.
type changeResult struct {
	ok bool
	// at is the break's index; p the one-sided trend p of the segment from
	// it, with Var(S) inflated by the strict correction of the segmented
	// fit's residuals (inflation); low the segment's slope lower bound
	// under the same variance, per second.
	at, breaks int
	p          float64
	inflation  float64
	slope      float64
	low        float64
}

// changeCheck fits the segmented line to the judged window, measures the
// serial correlation of its residuals with the strict correction, and tests
// the segment after the break on its own with that correlation. scratch
// holds len(v) floats; ws.keys at least 2·len(v).
func changeCheck(t, v []float64, ws *workspace, scratch []float64, level float64) changeResult {
	h, breaks, ok := fitHinge(t, v)
	if !ok || h.c <= 0 {
		return changeResult{p: 1, inflation: 1}
	}
	res := scratch[:len(v)]
	for i := range v {
		res[i] = v[i] - h.at(t, t[i])
	}
	inflation := 1.0
	if !negligible(res, v) {
		_, inflation = ws.inflations(res, CorrectionStrict)
	}
	post := v[h.k:]
	k := mannKendall(post, ws.keys[:2*len(post)])
	sen := senSlopeInto(t[h.k:], post, sampledSlopePairs/4, &ws.slopes)
	// The break is chosen to fit best, which flatters a wander: its last
	// stretch, bent into a fresh trend, leaves the segmented fit less
	// correlated residuals than it has. So the segment is also judged on
	// its own line's residuals, and the larger inflation counts.
	own := res[:len(post)]
	for i := range post {
		own[i] = post[i] - sen.slope*t[h.k+i]
	}
	if !negligible(own, post) {
		_, alone := ws.inflations(own, CorrectionStrict)
		inflation = math.Max(inflation, alone)
	}
	// inflations leaves ws.slopes alone: the bound below reads them.
	out := changeResult{ok: true, at: h.k, breaks: breaks, inflation: inflation, slope: sen.slope,
		p: upperP(k.S, k.Var*inflation), low: sen.lowerBound(k.Var*inflation, level)}
	return out
}
