// Package sequential decides, while a soak runs, whether a memory series is
// already certain to leak: a test that looks after every point yet keeps a
// stated probability of ever stopping a clean series over its whole length.
//
// The model: after warm-up a series is a straight line plus stationary
// noise with AR(1) serial correlation (a counter read every minute is far
// more correlated than one read every 10 minutes). At each look the test
// fits the judged window by least squares, estimates the residuals' lag-1
// correlation over the whole run so far with a bias correction and two
// standard errors added (so the correlation is overstated rather than
// understated), widens the slope's
// variance by the AR(1) factor (1+φ)/(1−φ), and compares the slope's
// t statistic, on the effective sample size, with a level that shrinks with
// the number of looks: look k of epoch j = ⌊log₂ k⌋ is tested at
// Alpha / (2^j (j+1)(j+2)). Those levels sum to Alpha over an unbounded run
// (a union bound over looks), so under the model a clean series is stopped
// with probability at most Alpha over its whole length; a run of N series
// given Alpha = budget / N is stopped with probability at most the budget.
//
// Guards that only ever prevent a stop keep benign shapes outside the model
// from ending a run: materiality floors on the slope's lower bound (a
// significant but tiny growth never stops a run), persistence (the later
// half of the run so far must keep a fraction of the earlier half's pace, so
// a warm-up ramp that flattens does not stop), and a drawdown limit (a
// series that fell back by more than part of its growth, a saw-tooth or a
// wander, does not stop).
package sequential

import (
	"errors"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"math"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// Options are the thresholds of the early test for one series. Values and
// floors are in the series' unit (bytes for memory), times in seconds.
type Options struct {
	// Alpha is the probability, under the noise model, that a series
	// without a trend is ever stopped over its whole length (spent over
	// looks by a union bound). Split a run's budget over its series.
	Alpha float64
	// Warmup is excluded from the judged window (it still counts for
	// persistence and drawdown, which look at the whole run).
	Warmup time.Duration
	// MinPoints and MinSpan: no look before this many judged points
	// spanning at least this long.
	MinPoints int
	MinSpan   time.Duration
	// LookEvery spaces the looks after the first: a look happens at the
	// first point whose judged span has passed the next multiple of
	// LookEvery past MinSpan; 0 looks at every point. Evidence for a slope
	// grows slowly, so looking every minute buys at most LookEvery of delay
	// but spends the false-alarm budget over ten times the looks (each
	// look's level is lower, its bar on z higher).
	LookEvery time.Duration
	// MinSlopePerHour: the slope's lower bound (at ConfidenceLevel) must
	// reach it.
	MinSlopePerHour float64
	// MinGrowth: the slope's lower bound times Horizon (or, when Horizon is
	// 0, times the judged span so far) must reach it.
	MinGrowth float64
	// Horizon is the planned judged length of the soak (its duration minus
	// warm-up): a leak that will clear the growth floor by the end of the
	// soak is material before it has done so.
	Horizon time.Duration
	// ConfidenceLevel of the slope's two-sided interval used for the floors.
	ConfidenceLevel float64
	// PersistFraction: the later half of the run so far (warm-up included)
	// must grow at least this fraction of the earlier half's slope; 0 turns
	// the guard off.
	PersistFraction float64
	// MaxDrawdown: the run so far must never have fallen from its running
	// maximum by more than this fraction of the judged window's fitted
	// growth plus DrawdownNoise residual standard deviations; 0 turns the
	// guard off.
	MaxDrawdown   float64
	DrawdownNoise float64
	// MaxPhi caps the correlation estimate; at or above it the series is
	// too correlated to judge early and never stops.
	MaxPhi float64
}

// DefaultOptions returns the thresholds for one series of a 300-series run
// whose budget is 0.005 (the policy's early_false_alarm), slab floors, a
// 12 h soak after a 1 h warm-up.
func DefaultOptions() Options {
	return Options{
		Alpha:           0.005 / 300,
		Warmup:          time.Hour,
		MinPoints:       12,
		MinSpan:         20 * time.Minute,
		LookEvery:       10 * time.Minute,
		MinSlopePerHour: 16 << 10,
		MinGrowth:       1 << 20,
		Horizon:         11 * time.Hour,
		ConfidenceLevel: 0.95,
		PersistFraction: 0.7,
		MaxDrawdown:     0.6,
		DrawdownNoise:   5,
		MaxPhi:          0.95,
	}
}

// ErrOptions is wrapped by every error about Options.
var ErrOptions = errors.New("invalid sequential options")

// Validate reports the first option out of range.
func (o Options) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s is %v, want %s", ErrOptions, field, v, want)
	}
	switch {
	case !(o.Alpha > 0 && o.Alpha < 1):
		return bad("Alpha", o.Alpha, "between 0 and 1")
	case o.Warmup < 0 || o.MinSpan < 0 || o.Horizon < 0 || o.LookEvery < 0:
		return bad("Warmup/MinSpan/Horizon/LookEvery", []time.Duration{o.Warmup, o.MinSpan, o.Horizon, o.LookEvery}, "not negative")
	case o.MinPoints < 4:
		return bad("MinPoints", o.MinPoints, "at least 4")
	case !(o.ConfidenceLevel > 0 && o.ConfidenceLevel < 1):
		return bad("ConfidenceLevel", o.ConfidenceLevel, "between 0 and 1")
	case !(o.PersistFraction >= 0 && o.PersistFraction <= 1):
		return bad("PersistFraction", o.PersistFraction, "between 0 and 1")
	case o.MaxDrawdown < 0 || o.DrawdownNoise < 0:
		return bad("MaxDrawdown/DrawdownNoise", []float64{o.MaxDrawdown, o.DrawdownNoise}, "not negative")
	case !(o.MaxPhi > 0 && o.MaxPhi < 1):
		return bad("MaxPhi", o.MaxPhi, "between 0 and 1")
	case o.MinSlopePerHour < 0 || o.MinGrowth < 0:
		return bad("MinSlopePerHour/MinGrowth", []float64{o.MinSlopePerHour, o.MinGrowth}, "not negative")
	}
	return nil
}

// Decision is the state of the early test after a point.
type Decision struct {
	// Stop is true once the test has crossed its bound with every guard
	// passed; it stays true for the rest of the series.
	Stop bool `json:"stop"`
	// At is the time (seconds) of the point at which it stopped, or of
	// the last point seen when it has not.
	At float64 `json:"at"`
	// SlopePerHour and SlopeLowPerHour: the least-squares slope of the
	// judged window and its lower bound at ConfidenceLevel (0 before the
	// first look).
	SlopePerHour    float64 `json:"slope_per_hour"`
	SlopeLowPerHour float64 `json:"slope_low_per_hour"`
	// P is the look's one-sided p and Bound the level it was tested at.
	P     float64 `json:"p"`
	Bound float64 `json:"bound"`
	// Phi is the AR(1) coefficient the look assumed (the overstated one).
	Phi float64 `json:"phi"`
	// Points is the number of judged points at the look.
	Points int `json:"points"`
	// Reason says why it stopped, or what held it back.
	Reason string `json:"reason"`
}

// Monitor runs the test on a series that gains a point at a time. The zero
// value is not usable; call NewMonitor.
type Monitor struct {
	opts    Options
	started bool
	t0      float64 // first point's time
	y0      float64 // first point's value (centring keeps sums exact)
	last    float64
	// all points, for the persistence halves
	pre prefix
	// running maximum and largest drawdown since the first point
	runMax, drawdown float64
	// least-squares sums of the judged window (after warm-up) and of
	// every point (for the correlation estimate)
	judged, all fit
	looks       int
	// nextLook is the judged span (hours) the next look waits for.
	nextLook float64
	decision Decision
	// quiet skips wording the reasons of looks that do not stop (Replay
	// words only the last); a stop is always worded.
	quiet bool
}

// say words a reason unless the monitor is quiet.
func (m *Monitor) say(format string, args ...any) string {
	if m.quiet {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

// NewMonitor returns a monitor for one series; opts must be valid.
func NewMonitor(opts Options) (*Monitor, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return &Monitor{opts: opts}, nil
}

// Replay runs a monitor over a whole series and returns its decision after
// the last point (with the first stop, if any): the same answer a soak that
// judged after every point would have got.
func Replay(times, values []float64, opts Options) (Decision, error) {
	if len(times) != len(values) {
		return Decision{}, fmt.Errorf("sequential replay: %d times but %d values; give one time per value", len(times), len(values))
	}
	m, err := NewMonitor(opts)
	if err != nil {
		return Decision{}, err
	}
	var d Decision
	for i := range times {
		m.quiet = i < len(times)-1
		d, err = m.Add(times[i], values[i])
		if err != nil {
			return d, fmt.Errorf("sequential replay, point %d: %w", i, err)
		}
		if d.Stop {
			return d, nil
		}
	}
	return d, nil
}

// ErrPoint is wrapped by errors about a point given to Add.
var ErrPoint = errors.New("invalid point")

// Add appends the point (t seconds, value) and returns the decision. Times
// must increase and values be finite; a bad point is rejected with an error
// and leaves the monitor as it was. After a stop, Add returns the stopping
// decision.
func (m *Monitor) Add(t, value float64) (Decision, error) {
	if m.decision.Stop {
		return m.decision, nil
	}
	if math.IsNaN(t) || math.IsInf(t, 0) || math.IsNaN(value) || math.IsInf(value, 0) {
		return m.decision, fmt.Errorf("%w: (%v, %v) is not finite; drop it", ErrPoint, t, value)
	}
	if m.started && t <= m.last {
		return m.decision, fmt.Errorf("%w: time %v does not follow %v; times must increase", ErrPoint, t, m.last)
	}
	if !m.started {
		m.started, m.t0, m.y0 = true, t, value
		m.runMax = 0
	}
	m.last = t
	x := (t - m.t0) / 3600 // hours since the first point
	y := value - m.y0
	m.pre.add(x, y)
	m.all.add(x, y)
	m.runMax = math.Max(m.runMax, y)
	m.drawdown = math.Max(m.drawdown, m.runMax-y)
	m.decision = Decision{At: t}
	if t-m.t0 < m.opts.Warmup.Seconds() {
		m.decision.Reason = "warm-up"
		return m.decision, nil
	}
	m.judged.add(x, y)
	m.decision = m.look(t)
	return m.decision, nil
}

// look applies the test and the guards to the judged window so far.
func (m *Monitor) look(t float64) Decision {
	o := m.opts
	d := Decision{At: t, Points: m.judged.n}
	spanH := m.judged.lastX - m.judged.firstX
	if m.judged.n < o.MinPoints || spanH*3600+1e-6 < o.MinSpan.Seconds() {
		d.Reason = m.say("%d judged points over %s: too few to look", m.judged.n, hours(spanH))
		return d
	}
	// Between looks the statistics are worked out and reported against
	// the next look's level, but nothing stops: only looks spend Alpha.
	due := m.looks == 0 || spanH+1e-9 >= m.nextLook
	if due {
		m.looks++
		if step := o.LookEvery.Hours(); step > 0 {
			// The next look, on the grid MinSpan + k·LookEvery.
			k := math.Floor((spanH-o.MinSpan.Hours())/step+1e-9) + 1
			m.nextLook = o.MinSpan.Hours() + k*step
		}
		d.Bound = o.level(m.looks)
	} else {
		d.Bound = o.level(m.looks + 1)
	}
	d = m.test(d, spanH)
	if d.Stop && !due {
		d.Stop = false
		d.Reason = m.say("every check passes; waits for the next look at %s of judged points", hours(m.nextLook))
	}
	return d
}

// test works out the look's statistics and applies the bound and guards.
func (m *Monitor) test(d Decision, spanH float64) Decision {
	o := m.opts
	n := float64(m.judged.n)
	b, sxx, sse, r1, ok := m.judged.line()
	if !ok {
		d.Reason = "judged points share one time"
		return d
	}
	d.SlopePerHour = b
	if sse <= 0 {
		// A perfect line: no noise to doubt it.
		d.SlopeLowPerHour, d.P = b, 0
		if b <= 0 {
			d.P = 1
		}
		return m.guard(d, spanH, 0)
	}
	// The correlation is estimated on the judged window and on the whole
	// run (longer, so less biased towards 0 when it is strong); the larger
	// counts.
	phi, phiMid := phiUpper(r1, n)
	if _, _, sseAll, r1All, ok := m.all.line(); ok && sseAll > 0 && m.all.n > m.judged.n {
		phi, phiMid = phiUpper(r1All, float64(m.all.n))
	}
	d.Phi = phi
	if phi >= o.MaxPhi {
		d.Reason = m.say("residuals too correlated to judge early (lag-1 correlation up to %.3f)", phi)
		return d
	}
	inflation := (1 + phi) / (1 - phi)
	nEff := n / inflation
	if nEff < 4 {
		d.Reason = m.say("%.1f effective points (lag-1 correlation up to %.3f): too few to look", nEff, phi)
		return d
	}
	sigma2 := sse / (n - 2*inflation)
	if n-2*inflation <= 0 {
		d.Reason = "too few points for the correlation"
		return d
	}
	se := math.Sqrt(sigma2 * inflation / sxx)
	// Student's t has heavier tails than the normal: when even the normal
	// p is above the bound, skip the costly incomplete beta.
	if pNormal := 0.5 * math.Erfc(b/se/math.Sqrt2); pNormal > d.Bound {
		d.P = pNormal
		d.Reason = m.say("p above %.2g, the look's bound %.2g", d.P, d.Bound)
		return d
	}
	// The variance estimate of an AR(1) series has about
	// n(1−φ²)/(1+φ²) degrees of freedom (at the bias-corrected φ: the
	// inflation already pays for its uncertainty).
	df := math.Max(1, n*(1-phiMid*phiMid)/(1+phiMid*phiMid)-2)
	tdist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}
	d.P = tdist.Survival(b / se)
	d.SlopeLowPerHour = b - tdist.Quantile(1-(1-o.ConfidenceLevel)/2)*se
	return m.guard(d, spanH, math.Sqrt(sigma2))
}

// guard applies the bound and the guards that only prevent a stop.
func (m *Monitor) guard(d Decision, spanH, sigma float64) Decision {
	o := m.opts
	if d.P > d.Bound {
		d.Reason = m.say("p %.2g above the look's bound %.2g", d.P, d.Bound)
		return d
	}
	horizonH := o.Horizon.Hours()
	if horizonH == 0 {
		horizonH = spanH
	}
	switch {
	case d.SlopeLowPerHour < o.MinSlopePerHour:
		d.Reason = m.say("significant, but the slope's lower bound %s/h is below the %s/h floor", size(d.SlopeLowPerHour), size(o.MinSlopePerHour))
		return d
	case d.SlopeLowPerHour*horizonH < o.MinGrowth:
		d.Reason = m.say("significant, but %s/h over %s is below the %s growth floor", size(d.SlopeLowPerHour), hours(horizonH), size(o.MinGrowth))
		return d
	}
	if o.PersistFraction > 0 {
		mid := m.pre.x[len(m.pre.x)-1] / 2
		early, late, ok := m.pre.halves(mid)
		if ok && early > 0 && late < o.PersistFraction*early {
			d.Reason = m.say("slowing down: the later half of the run grows %s/h, under %.0f %% of the earlier half's %s/h",
				size(late), 100*o.PersistFraction, size(early))
			return d
		}
	}
	if o.MaxDrawdown > 0 {
		limit := o.MaxDrawdown*d.SlopePerHour*spanH + o.DrawdownNoise*sigma
		if m.drawdown > limit {
			d.Reason = m.say("fell back by %s since the run started, more than %.0f %% of its growth plus noise (%s)",
				size(m.drawdown), 100*o.MaxDrawdown, size(limit))
			return d
		}
	}
	d.Stop = true
	d.Reason = fmt.Sprintf("stopped at %s: grows %s/h (lower bound %s/h); sequential test crossed its bound after %s of judged points: p %.2g ≤ %.2g",
		hours((d.At-m.t0)/3600), size(d.SlopePerHour), size(d.SlopeLowPerHour), hours(spanH), d.P, d.Bound)
	return d
}

// phiUpper overstates the AR(1) coefficient behind a residual lag-1
// autocorrelation r1 of n points: after fitting a line the estimate is
// biased towards 0 by about (2+4φ)/n, and two standard errors √((1−φ²)/n)
// are added on top (one was not enough: AR(1) noise correlated 0.9 over
// 10 min, sampled every 10 min, stopped 10× more clean series than Alpha),
// or 30/n when that is more.
// mid is the bias-corrected estimate alone.
func phiUpper(r1, n float64) (upper, mid float64) {
	mid = math.Min(0.999, math.Max(0, r1+(2+4*math.Abs(r1))/n))
	upper = mid + 2*math.Sqrt(math.Max(0, 1-r1*r1)/n)
	// Near a unit root the estimate's spread is Dickey–Fuller's, not the
	// normal one: with a fitted trend n(φ̂−1) falls below −21.5 one time
	// in 20 and, asymptotically, below about −29.5 one time in 100, so
	// never assume less than r1 + 30/n (with 25/n, AR(1) noise correlated
	// 0.99 between 1-min samples stopped 3 of 500 clean runs of 300 series,
	// above the 0.5 % budget: docs/detection.md before this bound).
	return math.Max(0, math.Max(upper, r1+30/n)), mid
}

// overtimeShare is the part of Alpha kept for looks past the planned soak.
const overtimeShare = 0.1

// plannedLooks is the number of looks a soak of Horizon judged time holds
// (the first at MinSpan, then every LookEvery), or 0 when either is 0.
func (o Options) plannedLooks() int {
	if o.Horizon <= 0 || o.LookEvery <= 0 || o.Horizon < o.MinSpan {
		return 0
	}
	return int((o.Horizon-o.MinSpan)/o.LookEvery) + 1
}

// level is the level look k (1-based) is tested at. With a planned soak
// (Horizon and LookEvery set) its N looks share 90 % of Alpha equally and
// looks past it share the rest by epochs (lookLevel); otherwise every look
// is on the epochs. Either way the levels of all looks sum to at most
// Alpha, so the union bound holds however long the soak runs. Equal shares
// suit a soak whose leaks cross at any hour: on 55 looks each needs z ≈ 5.0
// where the epochs ask 5.2–5.6 from the third hour on.
func (o Options) level(k int) float64 {
	n := o.plannedLooks()
	switch {
	case n == 0:
		return lookLevel(o.Alpha, k)
	case k <= n:
		return o.Alpha * (1 - overtimeShare) / float64(n)
	}
	return lookLevel(o.Alpha*overtimeShare, k-n)
}

// lookLevel is the level of look k (1-based): epoch j = ⌊log₂ k⌋ holds 2^j
// looks sharing alpha/((j+1)(j+2)), and those shares sum to alpha.
func lookLevel(alpha float64, k int) float64 {
	j := 0
	for (2 << j) <= k {
		j++
	}
	return alpha / (math.Ldexp(1, j) * float64(j+1) * float64(j+2))
}

// fit keeps the running sums of a least-squares line and of its residuals'
// lag-1 cross-product, so each look costs O(1).
type fit struct {
	n                        int
	firstX, lastX, lastY     float64
	st, sy, stt, sty, syy    float64
	lagYY, lagTY, lagYT      float64
	lagTT, lagY, lagYp, lagT float64
	lagTp                    float64
}

func (f *fit) add(x, y float64) {
	if f.n == 0 {
		f.firstX = x
	} else {
		f.lagYY += y * f.lastY
		f.lagTY += x * f.lastY
		f.lagYT += y * f.lastX
		f.lagTT += x * f.lastX
		f.lagY += y
		f.lagYp += f.lastY
		f.lagT += x
		f.lagTp += f.lastX
	}
	f.n++
	f.st += x
	f.sy += y
	f.stt += x * x
	f.sty += x * y
	f.syy += y * y
	f.lastX, f.lastY = x, y
}

// line returns the slope, Σ(x−x̄)², the residual sum of squares and the
// residuals' lag-1 autocorrelation.
func (f *fit) line() (b, sxx, sse, r1 float64, ok bool) {
	n := float64(f.n)
	if f.n < 3 {
		return 0, 0, 0, 0, false
	}
	mt, my := f.st/n, f.sy/n
	sxx = f.stt - n*mt*mt
	sxy := f.sty - n*mt*my
	if sxx <= 0 {
		return 0, 0, 0, 0, false
	}
	b = sxy / sxx
	a := my - b*mt
	syy := f.syy - n*my*my
	sse = math.Max(0, syy-b*sxy)
	if sse <= 1e-12*syy {
		sse = 0 // a straight line up to rounding
	}
	// Σ (y_i − a − b x_i)(y_{i−1} − a − b x_{i−1}) over i = 2..n.
	lag := f.lagYY - a*(f.lagY+f.lagYp) - b*(f.lagTY+f.lagYT) +
		a*a*(n-1) + a*b*(f.lagT+f.lagTp) + b*b*f.lagTT
	if sse > 0 {
		r1 = lag / sse
	}
	return b, sxx, sse, r1, true
}

// prefix keeps cumulative sums of every point (warm-up included) so the
// least-squares slope of any range costs O(1) plus a binary search.
type prefix struct {
	x                    []float64
	s1, st, sy, stt, sty []float64
}

func (p *prefix) add(x, y float64) {
	k := len(p.x)
	p.x = append(p.x, x)
	last := func(s []float64) float64 {
		if k == 0 {
			return 0
		}
		return s[k-1]
	}
	p.s1 = append(p.s1, last(p.s1)+1)
	p.st = append(p.st, last(p.st)+x)
	p.sy = append(p.sy, last(p.sy)+y)
	p.stt = append(p.stt, last(p.stt)+x*x)
	p.sty = append(p.sty, last(p.sty)+x*y)
}

// slope returns the least-squares slope of points [i, j).
func (p *prefix) slope(i, j int) (float64, bool) {
	if j-i < 3 {
		return 0, false
	}
	at := func(s []float64, k int) float64 {
		if k == 0 {
			return 0
		}
		return s[k-1]
	}
	n := at(p.s1, j) - at(p.s1, i)
	st := at(p.st, j) - at(p.st, i)
	sy := at(p.sy, j) - at(p.sy, i)
	stt := at(p.stt, j) - at(p.stt, i)
	sty := at(p.sty, j) - at(p.sty, i)
	sxx := stt - st*st/n
	if sxx <= 0 {
		return 0, false
	}
	return (sty - st*sy/n) / sxx, true
}

// halves returns the slopes before and from time mid (hours).
func (p *prefix) halves(mid float64) (early, late float64, ok bool) {
	lo, hi := 0, len(p.x)
	for lo < hi {
		h := (lo + hi) / 2
		if p.x[h] < mid {
			lo = h + 1
		} else {
			hi = h
		}
	}
	e, ok1 := p.slope(0, lo)
	l, ok2 := p.slope(lo, len(p.x))
	return e, l, ok1 && ok2
}

// size formats bytes in the one unit style (internal/human).
func size(b float64) string { return human.Bytes(b) }

// hours formats a span in hours in the one style (internal/human): "1 h 12 min".
func hours(h float64) string { return human.Duration(time.Duration(h * float64(time.Hour))) }
