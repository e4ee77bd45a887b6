// Package compare judges one run against another on the same rig: for a
// series recorded by both, is the candidate's growth worse than the
// baseline's, the same, better, or not yet decided?
//
// Two figures per series, each with an interval that respects serial
// correlation:
//
//   - the difference of slopes: the candidate and the baseline are paired
//     by soak time (the run with fewer points gives the grid, the other is
//     interpolated onto it) and the Theil–Sen slope of B(t) − A(t) is the
//     slope difference, with Sen's interval from the Mann–Kendall variance
//     under trend.CorrectionStrict (the larger of the Hamed–Rao and the
//     AR(1) effective-sample-size inflations), so a wandering difference
//     gets a wide interval. Pairing cancels what both runs share (a pool's
//     warm-up fill) and leaves the independent noise;
//   - the difference of levels at the same soak hour (the end of the common
//     span): the mean of the difference over the last tenth of that span,
//     with the standard error of an AR(1) mean whose variance and lag-1
//     correlation come from the later half of the judged difference less
//     its own line (or the window's own, whichever is larger). It catches a
//     pool that saturates higher, whose slope no longer differs.
//
// An analytic interval was chosen over a block bootstrap: it costs three
// trend.Analyze calls, not thousands, reuses the interval the single-run
// judge reports, and tells in closed form how much longer a soak must run
// to decide (a slope's standard error falls as span^-3/2 at a fixed
// sampling interval, a level's as span^-1/2).
//
// The package is pure: no I/O, no clock.
package compare

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/leakgate/leakgate/checks/trend"
	"gonum.org/v1/gonum/stat/distuv"
)

// Verdict is the comparison's answer for one series.
type Verdict string

// The verdicts, after Pinpoint and Perfherder's DIFFERENT / SAME / UNKNOWN.
const (
	// Regressed: the candidate grows (or sits) higher than the baseline by
	// more than the policy's minimum practical change, beyond doubt.
	Regressed Verdict = "regressed"
	// Same: both differences are shown to be within the minimum change.
	Same Verdict = "same"
	// Improved: the candidate grows less than the baseline, beyond doubt.
	Improved Verdict = "improved"
	// Unknown: not enough evidence either way; Result.MoreSoak says how much
	// longer both soaks would need to run.
	Unknown Verdict = "unknown"
)

// The policy's regression actions.
const (
	ActionFail = "fail"
	ActionWarn = "warn"
)

// Policy holds the comparison's thresholds. DefaultPolicy documents them.
type Policy struct {
	// Regression is ActionFail (a regressed series fails the gate) or
	// ActionWarn (it is reported only).
	Regression string `json:"regression" yaml:"regression"`
	// MinSlopeChangeBytesPerHour and MinLevelChangeBytes are the smallest
	// differences worth acting on for series in bytes (or kB).
	MinSlopeChangeBytesPerHour float64 `json:"min_slope_change_bytes_per_hour" yaml:"min_slope_change_bytes_per_hour"`
	MinLevelChangeBytes        float64 `json:"min_level_change_bytes" yaml:"min_level_change_bytes"`
	// MinSlopeChangeObjectsPerHour and MinLevelChangeObjects are the same
	// for counted series (kmemleak signatures).
	MinSlopeChangeObjectsPerHour float64 `json:"min_slope_change_objects_per_hour" yaml:"min_slope_change_objects_per_hour"`
	MinLevelChangeObjects        float64 `json:"min_level_change_objects" yaml:"min_level_change_objects"`
	// ConfidenceLevel of both intervals (two-sided); Runs holds it for
	// the whole run (Bonferroni over its series).
	ConfidenceLevel float64 `json:"confidence_level" yaml:"confidence_level"`
	// Warmup is left out of each run's start, as the single-run judge does.
	Warmup time.Duration `json:"warmup_ns" yaml:"warmup"`
	// MinPoints is the fewest points after warm-up a run needs.
	MinPoints int `json:"min_points" yaml:"min_points"`
	// LevelWindowFraction is the share of the common span whose mean is the
	// level (at least 3 points are used).
	LevelWindowFraction float64 `json:"level_window_fraction" yaml:"level_window_fraction"`
}

// DefaultPolicy fails the gate on a regression of at least 16 KiB/h (the
// single-run slab floor) or a level 1 MiB higher, 2 objects/h or 8 objects
// for kmemleak counts, at 95 % confidence, after a 1 h warm-up.
func DefaultPolicy() Policy {
	return Policy{
		Regression:                   ActionFail,
		MinSlopeChangeBytesPerHour:   16 << 10,
		MinLevelChangeBytes:          1 << 20,
		MinSlopeChangeObjectsPerHour: 2,
		MinLevelChangeObjects:        8,
		ConfidenceLevel:              0.95,
		Warmup:                       time.Hour,
		MinPoints:                    12,
		LevelWindowFraction:          0.1,
	}
}

// Validate reports the first unusable threshold.
func (p Policy) Validate() error {
	switch {
	case p.Regression != ActionFail && p.Regression != ActionWarn:
		return fmt.Errorf("comparison policy: regression %q is neither %q nor %q", p.Regression, ActionFail, ActionWarn)
	case !(p.ConfidenceLevel > 0 && p.ConfidenceLevel < 1):
		return fmt.Errorf("comparison policy: confidence level %g is not in (0, 1)", p.ConfidenceLevel)
	case p.MinSlopeChangeBytesPerHour < 0 || p.MinLevelChangeBytes < 0 || p.MinSlopeChangeObjectsPerHour < 0 || p.MinLevelChangeObjects < 0:
		return errors.New("comparison policy: a minimum change is negative; use 0 for no minimum")
	case p.Warmup < 0:
		return fmt.Errorf("comparison policy: warm-up %v is negative", p.Warmup)
	case !(p.LevelWindowFraction > 0 && p.LevelWindowFraction <= 1):
		return fmt.Errorf("comparison policy: level window fraction %g is not in (0, 1]", p.LevelWindowFraction)
	}
	return nil
}

// Series is one judged signal of one run: times in seconds (any origin,
// strictly increasing) and values in Unit.
type Series struct {
	Kind    string
	Subject string
	// Unit is "bytes", "kB" or "objects" (anything else is compared with
	// the object thresholds).
	Unit    string
	Seconds []float64
	Values  []float64
	// Decreasing marks a series whose fall is the bad direction
	// (MemAvailable); its differences are compared with the sign flipped.
	Decreasing bool
}

// Result is the comparison of one series of the candidate (B) with the
// baseline (A). Slopes are per hour and levels in the series' unit; a
// positive difference is B worse than A (for a Decreasing series the sign
// is already flipped).
type Result struct {
	Kind    string  `json:"kind"`
	Subject string  `json:"subject"`
	Unit    string  `json:"unit"`
	Verdict Verdict `json:"verdict"`
	// Fails is true when the verdict is Regressed and the policy says fail.
	Fails bool `json:"fails"`
	// Reason says in one line why.
	Reason string `json:"reason"`

	SlopeAPerHour        float64 `json:"slope_a_per_hour"`
	SlopeBPerHour        float64 `json:"slope_b_per_hour"`
	SlopeDiffPerHour     float64 `json:"slope_diff_per_hour"`
	SlopeDiffLowPerHour  float64 `json:"slope_diff_low_per_hour"`
	SlopeDiffHighPerHour float64 `json:"slope_diff_high_per_hour"`
	SlopeVerdict         Verdict `json:"slope_verdict"`

	// AtHour is the soak hour (from each run's first point) where the
	// levels are read.
	AtHour          float64 `json:"at_hour"`
	LevelA          float64 `json:"level_a"`
	LevelB          float64 `json:"level_b"`
	LevelDiff       float64 `json:"level_diff"`
	LevelDiffLow    float64 `json:"level_diff_low"`
	LevelDiffHigh   float64 `json:"level_diff_high"`
	LevelVerdict    Verdict `json:"level_verdict"`
	OnlyInBaseline  bool    `json:"only_in_baseline,omitempty"`
	OnlyInCandidate bool    `json:"only_in_candidate,omitempty"`

	// MoreSoak is, for Unknown, how much longer both soaks would have to run
	// for the undecided difference to be decided if it stayed where it is;
	// 0 when decided, and MaxMoreSoak when it would never decide (the
	// difference sits on the threshold).
	MoreSoak time.Duration `json:"more_soak_ns,omitempty"`
}

// MaxMoreSoak caps Result.MoreSoak: a difference on the threshold would
// need an endless soak.
const MaxMoreSoak = 30 * 24 * time.Hour

// ErrBadSeries is wrapped by every error about an input series.
var ErrBadSeries = errors.New("bad series")

// Compare compares one series of the baseline run a with the same series
// of the candidate run b under pol.
func Compare(a, b Series, pol Policy) (Result, error) {
	if err := pol.Validate(); err != nil {
		return Result{}, err
	}
	r := Result{Kind: b.Kind, Subject: b.Subject, Unit: b.Unit}
	if r.Unit == "" {
		r.Unit = a.Unit
	}
	ta, err := judge(a, pol)
	if err != nil {
		return Result{}, fmt.Errorf("compare %s %s: baseline: %w", b.Kind, b.Subject, err)
	}
	tb, err := judge(b, pol)
	if err != nil {
		return Result{}, fmt.Errorf("compare %s %s: candidate: %w", b.Kind, b.Subject, err)
	}
	sign := 1.0
	if b.Decreasing || a.Decreasing {
		sign = -1
	}
	r.SlopeAPerHour, r.SlopeBPerHour = ta.SlopePerHour, tb.SlopePerHour
	minSlope, minLevel := pol.minima(r.Unit)
	if ta.Verdict == trend.Insufficient || tb.Verdict == trend.Insufficient {
		r.Verdict, r.SlopeVerdict, r.LevelVerdict = Unknown, Unknown, Unknown
		r.Reason = fmt.Sprintf("too few points after warm-up (baseline %d, candidate %d, need %d)", ta.N, tb.N, max(pol.MinPoints, 3))
		r.MoreSoak = moreForPoints(a, b, pol)
		return r, nil
	}
	z := distuv.UnitNormal.Quantile(1 - (1-pol.ConfidenceLevel)/2)
	// Paired by soak time: B(t) − A(t). What both runs share cancels; its
	// Theil–Sen slope is the slope difference, with Sen's interval.
	d := difference(a, b)
	td, err := judge(d, pol)
	if err != nil {
		return Result{}, fmt.Errorf("compare %s %s: difference: %w", b.Kind, b.Subject, err)
	}
	if td.Verdict == trend.Insufficient {
		r.Verdict, r.SlopeVerdict, r.LevelVerdict = Unknown, Unknown, Unknown
		r.Reason = fmt.Sprintf("the runs overlap on %d points after warm-up, need %d", td.N, max(pol.MinPoints, 3))
		r.MoreSoak = moreForPoints(a, b, pol)
		return r, nil
	}
	low, high := td.SlopeLow, td.SlopeHigh
	if sign < 0 {
		low, high = -high, -low
	}
	half := (high - low) / 2
	r.SlopeDiffPerHour = sign * td.SlopePerHour
	r.SlopeDiffLowPerHour, r.SlopeDiffHighPerHour = low, high
	r.SlopeVerdict = decide(r.SlopeDiffLowPerHour, r.SlopeDiffHighPerHour, minSlope)

	at := d.Seconds[len(d.Seconds)-1] - d.Seconds[0]
	window := at * pol.LevelWindowFraction
	la, lb, ld := levelAt(a, at, window), levelAt(b, at, window), levelAt(d, at, window)
	r.AtHour = at / 3600
	r.LevelA, r.LevelB = la.mean, lb.mean
	// A few points in the window say little about their correlation: the
	// later half of the judged difference, less its own line, says more
	// (the whole difference when that half is short). The larger wins. Not
	// the whole difference less one line: a pool that filled higher early
	// and then sat flat leaves its fill in those residuals as noise.
	sigma2, rho, ok := laterHalfAR1(d, pol.Warmup.Seconds())
	if !ok {
		sigma2, rho = residualAR1(d, td.SlopePerHour, pol.Warmup.Seconds())
	}
	lhalf := z * math.Max(ld.se, meanSE(sigma2, rho, ld.n))
	r.LevelDiff = sign * ld.mean
	r.LevelDiffLow, r.LevelDiffHigh = r.LevelDiff-lhalf, r.LevelDiff+lhalf
	r.LevelVerdict = decide(r.LevelDiffLow, r.LevelDiffHigh, minLevel)

	r.Verdict = combine(r.SlopeVerdict, r.LevelVerdict)
	r.Fails = r.Verdict == Regressed && pol.Regression == ActionFail
	if r.Verdict == Unknown {
		spanHours := td.SpanHours
		var more float64
		if r.SlopeVerdict == Unknown {
			// SE ∝ span^-3/2 at a fixed interval.
			more = moreHours(r.SlopeDiffPerHour, half, minSlope, spanHours, 2.0/3)
		}
		if r.LevelVerdict == Unknown && r.SlopeVerdict != Unknown {
			// The level window grows with the span: SE ∝ span^-1/2.
			more = moreHours(r.LevelDiff, lhalf, minLevel, spanHours, 2)
		}
		r.MoreSoak = hoursDuration(more)
	}
	r.Reason = reason(r, minSlope, minLevel)
	return r, nil
}

// judge is the single-run statistics the comparison builds on.
func judge(s Series, pol Policy) (trend.Result, error) {
	if len(s.Seconds) != len(s.Values) {
		return trend.Result{}, fmt.Errorf("%w: %d times but %d values", ErrBadSeries, len(s.Seconds), len(s.Values))
	}
	opts := trend.DefaultOptions()
	opts.Warmup = pol.Warmup
	opts.MinPoints = pol.MinPoints
	opts.ConfidenceLevel = pol.ConfidenceLevel
	opts.Correction = trend.CorrectionStrict
	r, err := trend.Analyze(s.Seconds, s.Values, opts)
	if err != nil {
		return trend.Result{}, fmt.Errorf("%w: %w", ErrBadSeries, err)
	}
	return r, nil
}

// minima are the policy's minimum practical changes in the unit's terms.
func (p Policy) minima(unit string) (slopePerHour, level float64) {
	switch unit {
	case "bytes":
		return p.MinSlopeChangeBytesPerHour, p.MinLevelChangeBytes
	case "kB":
		return p.MinSlopeChangeBytesPerHour / 1024, p.MinLevelChangeBytes / 1024
	}
	return p.MinSlopeChangeObjectsPerHour, p.MinLevelChangeObjects
}

// decide reads an interval of a difference (B worse when positive) against
// the minimum practical change.
func decide(low, high, minChange float64) Verdict {
	switch {
	case low > minChange:
		return Regressed
	case high < -minChange:
		return Improved
	case low >= -minChange && high <= minChange:
		return Same
	}
	return Unknown
}

// combine joins the slope's and the level's verdicts: either regressed is a
// regression; an improvement needs the other not to be worse; same needs both.
func combine(slope, level Verdict) Verdict {
	switch {
	case slope == Regressed || level == Regressed:
		return Regressed
	case slope == Improved && level != Unknown, level == Improved && slope != Unknown:
		return Improved
	case slope == Same && level == Same:
		return Same
	}
	return Unknown
}

// moreHours is how many more hours of soak would shrink an interval of
// half-width half around d until it clears minChange on the side d is on,
// when the half-width falls as span^(-1/exp): the span needed is
// span·(half/target)^exp. A difference on the threshold needs MaxMoreSoak.
func moreHours(d, half, minChange, spanHours, exp float64) float64 {
	target := math.Abs(math.Abs(d) - minChange)
	limit := MaxMoreSoak.Hours()
	if target == 0 || spanHours <= 0 {
		return limit
	}
	need := spanHours * math.Pow(half/target, exp)
	return math.Min(math.Max(need-spanHours, 0), limit)
}

// moreForPoints is the soak that reaches MinPoints after warm-up at the
// shorter run's median interval.
func moreForPoints(a, b Series, pol Policy) time.Duration {
	var step, have float64
	for _, s := range []Series{a, b} {
		n := len(s.Seconds)
		if n < 2 {
			return MaxMoreSoak
		}
		st := (s.Seconds[n-1] - s.Seconds[0]) / float64(n-1)
		step = math.Max(step, st)
		span := s.Seconds[n-1] - s.Seconds[0]
		if have == 0 || span < have {
			have = span
		}
	}
	need := pol.Warmup.Seconds() + float64(max(pol.MinPoints, 3))*step
	return hoursDuration(math.Max(need-have, 0) / 3600)
}

func hoursDuration(h float64) time.Duration {
	if h >= MaxMoreSoak.Hours() {
		return MaxMoreSoak
	}
	return time.Duration(h * float64(time.Hour)).Round(time.Minute)
}

// difference is B − A on one grid of soak time (seconds from each run's
// first point): the grid of the run with fewer points in the common span,
// the other run interpolated linearly onto it.
func difference(a, b Series) Series {
	ra, rb := relative(a.Seconds), relative(b.Seconds)
	span := math.Min(ra[len(ra)-1], rb[len(rb)-1])
	grid, gv, other, ov, sign := ra, a.Values, rb, b.Values, 1.0
	if countUpTo(rb, span) < countUpTo(ra, span) {
		grid, gv, other, ov, sign = rb, b.Values, ra, a.Values, -1
	}
	d := Series{Kind: b.Kind, Subject: b.Subject, Unit: b.Unit}
	j := 0
	for i, t := range grid {
		if t > span {
			break
		}
		for j+1 < len(other) && other[j+1] < t {
			j++
		}
		var o float64
		switch {
		case j+1 >= len(other) || other[j] >= t:
			o = ov[j]
		default:
			f := (t - other[j]) / (other[j+1] - other[j])
			o = ov[j] + f*(ov[j+1]-ov[j])
		}
		// sign makes the difference B − A whichever run is the grid.
		d.Seconds = append(d.Seconds, t)
		d.Values = append(d.Values, sign*(o-gv[i]))
	}
	return d
}

func relative(t []float64) []float64 {
	out := make([]float64, len(t))
	for i, v := range t {
		out[i] = v - t[0]
	}
	return out
}

func countUpTo(t []float64, limit float64) int {
	n := 0
	for _, v := range t {
		if v <= limit {
			n++
		}
	}
	return n
}

// level is a window mean with its standard error, over n points.
type level struct {
	mean, se float64
	n        int
}

// residualAR1 is the variance and lag-1 autocorrelation (clamped to
// [0, 0.99]) of s after warmupSeconds, less its line of slope perHour
// through the median intercept.
func residualAR1(s Series, perHour, warmupSeconds float64) (sigma2, rho float64) {
	t0 := s.Seconds[0]
	var res []float64
	for i, t := range s.Seconds {
		if t-t0 >= warmupSeconds {
			res = append(res, s.Values[i]-perHour*(t-t0)/3600)
		}
	}
	if len(res) < 3 {
		return 0, 0
	}
	sorted := append([]float64(nil), res...)
	sort.Float64s(sorted)
	med := sorted[len(sorted)/2]
	var ss, lag float64
	for i := range res {
		res[i] -= med
	}
	var mean float64
	for _, x := range res {
		mean += x
	}
	mean /= float64(len(res))
	for i, x := range res {
		ss += (x - mean) * (x - mean)
		if i > 0 {
			lag += (x - mean) * (res[i-1] - mean)
		}
	}
	if ss == 0 {
		return 0, 0
	}
	return ss / float64(len(res)-1), math.Min(math.Max(lag/ss, 0), 0.99)
}

// meanSE is the standard error of the mean of n consecutive points of an
// AR(1) process with variance sigma2 and lag-1 autocorrelation rho:
// √(σ²/n · (1 + 2 Σₖ (1 − k/n) ρᵏ)).
func meanSE(sigma2, rho float64, n int) float64 {
	if n < 1 {
		return 0
	}
	sum, pk := 1.0, 1.0
	for k := 1; k < n; k++ {
		pk *= rho
		sum += 2 * (1 - float64(k)/float64(n)) * pk
	}
	return math.Sqrt(sigma2 / float64(n) * sum)
}

// levelAt is the mean of the points in (at−window, at] seconds after the
// series' first point (at least its last 3 points up to at), with the
// standard error of an AR(1) process: n_eff = n(1−r)/(1+r), r the lag-1
// autocorrelation clamped to [0, 0.99].
func levelAt(s Series, at, window float64) level {
	t0 := s.Seconds[0]
	end := 0
	for end < len(s.Seconds) && s.Seconds[end]-t0 <= at {
		end++
	}
	start := end
	for start > 0 && (s.Seconds[start-1]-t0 > at-window || end-start < 3) {
		start--
	}
	return windowStats(s.Values[start:end])
}

// windowStats is the mean of v and its AR(1) standard error.
func windowStats(v []float64) level {
	n := float64(len(v))
	out := level{n: len(v)}
	var mean float64
	for _, x := range v {
		mean += x
	}
	mean /= n
	out.mean = mean
	if len(v) < 2 {
		return out
	}
	var ss, lag float64
	for i, x := range v {
		d := x - mean
		ss += d * d
		if i > 0 {
			lag += d * (v[i-1] - mean)
		}
	}
	if ss == 0 {
		return out
	}
	r := math.Min(math.Max(lag/ss, 0), 0.99)
	neff := math.Max(n*(1-r)/(1+r), 1)
	variance := ss / (n - 1)
	out.se = math.Sqrt(variance / neff)
	return out
}

// laterHalfAR1 is residualAR1 over the later half of s after warmupSeconds,
// less that half's own least-squares line; false when that half has fewer
// than 6 points.
func laterHalfAR1(s Series, warmupSeconds float64) (sigma2, rho float64, ok bool) {
	t0 := s.Seconds[0]
	first := 0
	for first < len(s.Seconds) && s.Seconds[first]-t0 < warmupSeconds {
		first++
	}
	mid := first + (len(s.Seconds)-first)/2
	if len(s.Seconds)-mid < 6 {
		return 0, 0, false
	}
	h := Series{Seconds: s.Seconds[mid:], Values: s.Values[mid:]}
	var mt, mv float64
	for i := range h.Seconds {
		mt += h.Seconds[i]
		mv += h.Values[i]
	}
	n := float64(len(h.Seconds))
	mt, mv = mt/n, mv/n
	var sxy, sxx float64
	for i := range h.Seconds {
		sxy += (h.Seconds[i] - mt) * (h.Values[i] - mv)
		sxx += (h.Seconds[i] - mt) * (h.Seconds[i] - mt)
	}
	slope := 0.0
	if sxx > 0 {
		slope = sxy / sxx
	}
	sigma2, rho = residualAR1(h, slope*3600, 0)
	return sigma2, rho, true
}
