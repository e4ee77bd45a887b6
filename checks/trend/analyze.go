// Package trend decides whether a memory series grows like a leak: a
// Theil–Sen slope with Sen's confidence interval, a Mann–Kendall test
// corrected for serial correlation (Hamed–Rao), persistence on the later
// half of the window, materiality floors, and Benjamini–Hochberg control of
// false discoveries across all the series of a run. Every statistic is
// O(n log n).
package trend

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
)

// Verdict is the judgement on one series: the project's one finding
// vocabulary (package verdict), of which a trend gives Leak, OK or
// Insufficient.
type Verdict = verdict.Finding

// The verdicts a series can get here.
const (
	Leak         = verdict.Leak
	OK           = verdict.OK
	Insufficient = verdict.Insufficient
)

// Options are the thresholds for one series; the zero value of a field
// disables that test where that makes sense. DefaultOptions suits a 12 h soak
// sampled every 10 min.
type Options struct {
	// Alpha is the significance level of the one-sided trend test (after
	// Benjamini–Hochberg adjustment when judged in a run: the FDR q).
	Alpha float64
	// MinPoints below which, after warm-up, the verdict is Insufficient.
	MinPoints int
	// Warmup is excluded from the start of the series.
	Warmup time.Duration
	// MinSlopePerHour and MinGrowth are materiality floors in value units:
	// the Theil–Sen slope, and the slope times the judged span.
	MinSlopePerHour float64
	MinGrowth       float64
	// PersistFraction: the later half's slope must not be shown to be below
	// this fraction of the earlier half's (its interval's upper bound must
	// reach it), so a ramp that plateaus is not a leak.
	PersistFraction float64
	// PersistAlpha: the later half's own one-sided trend p must be at most this.
	PersistAlpha float64
	// MinMonotonic is the smallest Kendall tau (S over pairs) of a leak: a
	// leak rises steadily, a wandering series only on average.
	MinMonotonic float64
	// FloorWindow, when > 0, judges the rolling minimum over this window
	// instead of the raw values (saw-tooth series).
	FloorWindow time.Duration
	// ConfidenceLevel of the slope interval (two-sided), e.g. 0.95.
	ConfidenceLevel float64
	// WholeWindowOnly drops the second look at the later half from P (early
	// judging: the later half of a short prefix is too short to trust).
	WholeWindowOnly bool
	// Correction chooses how serial correlation widens the test.
	Correction Correction
	// StrictAlpha, when > 0, also requires the trend's p under
	// CorrectionStrict to be at most this (not adjusted across series).
	StrictAlpha float64
	// MaterialAtLowerBound judges the materiality floors at the slope's
	// lower bound under CorrectionStrict (the larger of the whole window's
	// and the later half's) instead of at the point estimate: a wandering
	// series that happens to end a floor higher is not called a leak unless
	// its growth clears the floor even when its correlation is modelled
	// pessimistically.
	MaterialAtLowerBound bool
	// SteadyDrawdown, when > 0, marks a rise as steady when it never falls
	// from its running maximum by more than this fraction of its fitted
	// growth; a steady rise needs only SteadyStrictAlpha (if larger) under
	// CorrectionStrict. Serial correlation is what the strict check guards
	// against, and a wandering series gives back what it gained; a leak that
	// grows in bursts, or under a saw-tooth smaller than its growth, does
	// not, yet its residuals look like a random walk to an AR(1) model.
	SteadyDrawdown    float64
	SteadyStrictAlpha float64
	// PeriodicDrawdown and PeriodicMaxInflation, when both > 0, also mark a
	// rise as steady when it falls back by at most PeriodicDrawdown of its
	// fitted growth and the test's variance inflation (VarianceInflation:
	// Hamed–Rao over every lag up to 512 points) is at most
	// PeriodicMaxInflation. A leak under a saw-tooth gives back up to its
	// amplitude at every drop, but its residual correlations change sign
	// over a period and cancel, so every lag together inflates little; an
	// AR(1) wander's correlations are all positive.
	PeriodicDrawdown     float64
	PeriodicMaxInflation float64
	// ShapeChecks lets models of the shapes the AR(1) check mistakes for
	// serial correlation stand in for it and for its lower-bound floors,
	// each on its own evidence: a change point (a segmented line leaving
	// little correlation — at most 2.5 and a quarter of the straight
	// line's strict inflation — the segment after the break tested alone at
	// StrictAlpha over the breaks tried and clearing the floors at its own
	// lower bound); steps (increments beyond 3 robust σ, at least four up
	// for one down and up by a sign test at 1/8: the noise between them
	// sets the variance, their net height bounds the growth); and the
	// increments (growth over √Σd², a bound valid for a random walk). A
	// later half slower than the earlier persists if it alone clears the
	// floors. The main test, tau and persistence still apply to those;
	// the size check (size.go) calls a leak on its own evidence, over every
	// other check. Ignored with WholeWindowOnly: early judging keeps its
	// own rules.
	ShapeChecks bool
	// RetainedBudgetFloors, when > 0, is growth no run may keep whatever
	// its shape, in multiples of MinGrowth: a rise of the hour medians by
	// at least this many floors, kept (its hour medians gave back at most
	// 30 % of it), is a leak over every other check, a single step
	// included. Below it a single step is a benign step's shape (a table
	// resized, a pool filled once), and the other checks judge. Needs
	// ShapeChecks and a MinGrowth; ignored with WholeWindowOnly.
	RetainedBudgetFloors float64
	// Bytes says the values are bytes: reasons print them in B, KiB, MiB
	// or GiB rather than as bare numbers.
	Bytes bool
}

// Correction is a way to account for serial correlation in the trend test.
type Correction int

// The corrections. All are O(n) or O(n²) only up to 512 points.
const (
	// CorrectionHamedRao: Hamed & Rao (1998) on every lag up to 512 points,
	// Yue & Wang's lag-1 effective sample size above.
	CorrectionHamedRao Correction = iota
	// CorrectionStrict: the larger of Hamed–Rao and the AR(1) effective
	// sample size from a bias-corrected lag-1 autocorrelation; fewer false
	// alarms on wandering series, less power on irregular leaks.
	CorrectionStrict
	// CorrectionNone: plain Mann–Kendall (evaluation only).
	CorrectionNone
)

// DefaultOptions returns thresholds for a 12 h soak at 10 min sampling
// with no materiality floor (callers set floors in their own units).
func DefaultOptions() Options {
	return Options{
		Alpha:           0.01,
		MinPoints:       12,
		Warmup:          time.Hour,
		MinMonotonic:    0.35,
		StrictAlpha:     0.0001,
		PersistFraction: 0.3,
		PersistAlpha:    0.3,
		ConfidenceLevel: 0.95,

		MaterialAtLowerBound: true,
		SteadyDrawdown:       0.6,
		SteadyStrictAlpha:    0.2,
		PeriodicDrawdown:     1,
		PeriodicMaxInflation: 1.6,
		ShapeChecks:          true,
		RetainedBudgetFloors: 32,
	}
}

// Result is the judgement and the statistics behind it for one series.
// Slopes are in value units per hour; Growth and FittedGrowth in value units.
type Result struct {
	Verdict Verdict `json:"verdict"`
	// Reason says in one line why.
	Reason string `json:"reason"`
	// N is the number of points judged (after warm-up).
	N            int     `json:"n"`
	SlopePerHour float64 `json:"slope_per_hour"`
	// SlopeLow and SlopeHigh bound the slope at ConfidenceLevel (per hour).
	SlopeLow  float64 `json:"slope_low_per_hour"`
	SlopeHigh float64 `json:"slope_high_per_hour"`
	// SlopeSampled is true when the slope quantiles come from random pairs
	// (series longer than 600 points).
	SlopeSampled bool `json:"slope_sampled,omitempty"`
	// S is Mann–Kendall's statistic; VarS its variance after tie and
	// autocorrelation corrections; VarianceInflation the Hamed–Rao n/n*.
	S                 float64 `json:"s"`
	VarS              float64 `json:"var_s"`
	VarianceInflation float64 `json:"variance_inflation"`
	// P is the one-sided p-value for an upward trend, the smaller of the
	// whole window's and the later half's, doubled; PAdjusted the
	// Benjamini–Hochberg value when judged in a run (else equal to P).
	P float64 `json:"p_value"`
	// PWhole is the whole window's own p (P may also look at the later half).
	PWhole float64 `json:"p_whole"`
	// PStrict is P under CorrectionStrict: a check that the trend survives
	// a pessimistic model of serial correlation, at StrictAlpha.
	PStrict   float64 `json:"p_strict"`
	PAdjusted float64 `json:"p_adjusted"`
	// Monotonic is Kendall's tau (S over pairs): 1 for a steady rise.
	Monotonic float64 `json:"monotonic"`
	// Rising counts the steps that rose, out of N−1.
	Rising int `json:"rising"`
	// Growth is last minus first of the judged values; FittedGrowth the
	// slope times the judged span, which noise does not move as much.
	Growth       float64 `json:"growth"`
	FittedGrowth float64 `json:"fitted_growth"`
	// SpanHours is the judged time span.
	SpanHours float64 `json:"span_hours"`
	// PersistP and PersistSlopePerHour are the trend test and slope on the
	// later half of the window.
	PersistP            float64 `json:"persist_p"`
	PersistSlopePerHour float64 `json:"persist_slope_per_hour"`
	// PersistSlopeHighPerHour is the upper bound of the later half's slope.
	PersistSlopeHighPerHour float64 `json:"persist_slope_high_per_hour"`
	// PersistStrictLowPerHour is the later half's slope lower bound under
	// CorrectionStrict (its own correlation), PersistSpanHours its span.
	PersistStrictLowPerHour float64 `json:"persist_strict_low_per_hour"`
	PersistSpanHours        float64 `json:"persist_span_hours"`
	// PersistIncrementsP and PersistIncrementsGrowthLow are the increments
	// check on the later half alone (shape checks only).
	PersistIncrementsP         float64 `json:"persist_increments_p"`
	PersistIncrementsGrowthLow float64 `json:"persist_increments_growth_low"`
	// EarlierSlopePerHour is the slope on the earlier half.
	EarlierSlopePerHour float64 `json:"earlier_slope_per_hour"`
	// Significant, Persistent and Material are the three tests a leak passes.
	Significant bool `json:"significant"`
	Persistent  bool `json:"persistent"`
	Material    bool `json:"material"`
	// StrictSlopeLowPerHour is the slope's lower bound (at ConfidenceLevel)
	// under CorrectionStrict, the larger of the whole window's and the
	// later half's; MaterialAtLowerBound judges the floors on it.
	StrictSlopeLowPerHour float64 `json:"strict_slope_low_per_hour"`
	// StrictInflation is the whole window's variance inflation under
	// CorrectionStrict.
	StrictInflation float64 `json:"strict_inflation"`
	// Drawdown is the largest fall of the judged values from their running
	// maximum; Steady reports Drawdown ≤ SteadyDrawdown × FittedGrowth, or
	// ≤ PeriodicDrawdown × FittedGrowth with VarianceInflation ≤
	// PeriodicMaxInflation.
	Drawdown float64 `json:"drawdown"`
	Steady   bool    `json:"steady"`
	// Last is the last judged value (after floor filtering).
	Last float64 `json:"last"`
	// ChangeAtHours is where the change-point check put the break (hours
	// after the first judged point, 0 when it found none); ChangeP the
	// segment after it's one-sided trend p with ChangeInflation, the strict
	// variance inflation of the segmented fit's residuals;
	// ChangeSlopePerHour and ChangeSlopeLowPerHour its slope and lower
	// bound; ChangeGrowthLow that bound times the segment's span.
	ChangeAtHours         float64 `json:"change_at_hours,omitempty"`
	ChangeP               float64 `json:"change_p"`
	ChangeInflation       float64 `json:"change_inflation"`
	ChangeSlopePerHour    float64 `json:"change_slope_per_hour"`
	ChangeSlopeLowPerHour float64 `json:"change_slope_low_per_hour"`
	ChangeGrowthLow       float64 `json:"change_growth_low"`
	// ChangeBreaks is how many breaks the fit tried: the check's p is
	// Bonferroni-corrected for the search (ChangeP × ChangeBreaks).
	ChangeBreaks int `json:"change_breaks,omitempty"`
	// IncrementsZ is the judged growth over √(Σd²) of its increments d;
	// IncrementsP the bound exp(−z²/2) on how often a series whose
	// increments are as likely down as up grows that far (a random walk,
	// the AR(1) model's worst case); IncrementsGrowthLow the growth less
	// √(2·ln 20)·√(Σ(d − d̄)²), its 95 % lower bound under that model.
	IncrementsZ         float64 `json:"increments_z"`
	IncrementsP         float64 `json:"increments_p"`
	IncrementsGrowthLow float64 `json:"increments_growth_low"`
	// StepsUp and StepsDown count the increments beyond 3 robust σ;
	// StepsGrowthLow is their net height less 2σ per √step. For a steady
	// rise it may stand in for the AR(1) lower bound in the floors.
	StepsUp        int     `json:"steps_up"`
	StepsDown      int     `json:"steps_down"`
	StepsGrowthLow float64 `json:"steps_growth_low"`
	// StepsTrendP and StepsStrictP are the whole window's trend p with the
	// variance inflation (Hamed–Rao, and the strict correction) of the
	// series less its steps, doubled for the extra look; 1 unless the steps
	// pass the sign test at 1/8. P is at most StepsTrendP.
	StepsTrendP  float64 `json:"steps_trend_p"`
	StepsStrictP float64 `json:"steps_strict_p"`
	// SizeGrowth is the median of the judged window's last hour less the
	// median of its first; SizeLaterGrowth the same on the later half;
	// SizeNoise the robust σ of the increments (1.4826 × their median
	// absolute value). The size check reads them (see size.go).
	SizeGrowth      float64 `json:"size_growth"`
	SizeLaterGrowth float64 `json:"size_later_growth"`
	SizeNoise       float64 `json:"size_noise"`
	// SizeEvents and SizeEventsDown count the increments of at least 6 of
	// those σ up and down, SizeEventsHeight the height of those up, and
	// SizeLastEventHours is when the last one up came (hours after the
	// first judged point): a counting process whose quiet tail is not
	// improbable may stand in for the later half's own growth.
	SizeEvents         int     `json:"size_events"`
	SizeEventsDown     int     `json:"size_events_down"`
	SizeEventsHeight   float64 `json:"size_events_height"`
	SizeLastEventHours float64 `json:"size_last_event_hours"`
	// SizeRetainedDrawdown is the largest fall of the hour medians (the
	// median of each hour-long stretch) from their running maximum: what
	// Options.RetainedBudgetFloors lets a kept rise give back.
	SizeRetainedDrawdown float64 `json:"size_retained_drawdown"`
	// Shape names the model that stood in for the AR(1) check ("change
	// point", "steps", "increments"), or the check on size that overruled
	// them ("size", "budget"); empty when it was not needed or none did.
	Shape string `json:"shape,omitempty"`
}

// ErrBadInput is wrapped by every error about the series itself.
var ErrBadInput = errors.New("bad series")

// Analyze judges one series. times are seconds (any origin), strictly
// increasing; values must be finite. It returns an error wrapping
// ErrBadInput for NaN or Inf, unequal lengths or unordered times.
func Analyze(times, values []float64, opts Options) (Result, error) {
	if err := validate(times, values); err != nil {
		return Result{}, err
	}
	r := describe(times, values, opts, &workspace{})
	r.PAdjusted = r.P
	Decide(&r, r.P, opts)
	return r, nil
}

// Decide sets r's verdict from p (raw or adjusted) and the options' floors;
// it is how a run applies Benjamini–Hochberg after the fact.
func Decide(r *Result, p float64, opts Options) {
	minPoints := max(opts.MinPoints, 3)
	if r.N < minPoints {
		r.Verdict = Insufficient
		r.Reason = fmt.Sprintf("%d points after warm-up, need %d", r.N, minPoints)
		r.Significant, r.Persistent, r.Material = false, false, false
		return
	}
	r.Steady = steady(r, opts)
	strictAlpha := opts.StrictAlpha
	if r.Steady && strictAlpha > 0 {
		strictAlpha = max(strictAlpha, opts.SteadyStrictAlpha)
	}
	strictOK := strictAlpha <= 0 || r.PStrict <= strictAlpha
	shape := ""
	switch {
	case !opts.ShapeChecks || opts.WholeWindowOnly:
	case r.ChangeAtHours > 0 && r.ChangeInflation <= changeMaxInflation && r.StrictInflation >= changeExplains*r.ChangeInflation && r.ChangeP*float64(r.ChangeBreaks) <= changeAlpha(opts) && r.ChangeSlopeLowPerHour >= opts.MinSlopePerHour &&
		r.ChangeSlopeLowPerHour > 0 && r.ChangeGrowthLow >= opts.MinGrowth:
		shape = "change point"
	case r.StepsStrictP <= strictAlpha && r.StepsGrowthLow > 0 && r.StepsGrowthLow >= opts.MinGrowth &&
		r.StepsGrowthLow >= opts.MinSlopePerHour*r.SpanHours:
		shape = "steps"
	case r.IncrementsP <= strictAlpha && r.IncrementsGrowthLow > 0 && r.IncrementsGrowthLow >= opts.MinGrowth &&
		r.IncrementsGrowthLow >= opts.MinSlopePerHour*r.SpanHours:
		shape = "increments"
	}
	r.Significant = p <= opts.Alpha && r.SlopePerHour > 0 && r.Monotonic >= opts.MinMonotonic &&
		(strictOK || shape != "")
	// A later half slower than the earlier still persists when it alone
	// is a leak above the floors at its own strict lower bound: a leak
	// whose rate follows a falling load has not stopped.
	// With no growth floor there is nothing for the later half to clear.
	laterAlone := opts.ShapeChecks && !opts.WholeWindowOnly && opts.MinGrowth > 0 &&
		(r.PersistStrictLowPerHour > 0 && r.PersistStrictLowPerHour >= opts.MinSlopePerHour &&
			r.PersistStrictLowPerHour*r.PersistSpanHours >= opts.MinGrowth ||
			r.PersistIncrementsP <= strictAlpha && r.PersistIncrementsGrowthLow > 0 &&
				r.PersistIncrementsGrowthLow >= opts.MinGrowth && r.PersistIncrementsGrowthLow >= opts.MinSlopePerHour*r.PersistSpanHours)
	r.Persistent = (r.PersistSlopeHighPerHour >= opts.PersistFraction*r.EarlierSlopePerHour || laterAlone) &&
		r.PersistSlopePerHour > 0 &&
		(opts.PersistAlpha <= 0 || r.PersistP <= opts.PersistAlpha)
	r.Material = r.SlopePerHour >= opts.MinSlopePerHour && r.FittedGrowth >= opts.MinGrowth
	atLow := true
	if opts.MaterialAtLowerBound {
		// Only the floors that are set: a zero floor asks for no materiality.
		low := r.StrictSlopeLowPerHour
		atLow = (opts.MinSlopePerHour <= 0 || low >= opts.MinSlopePerHour) &&
			(opts.MinGrowth <= 0 || low*r.SpanHours >= opts.MinGrowth)
		if !atLow && shape == "" && opts.ShapeChecks && !opts.WholeWindowOnly && r.Steady && strictOK &&
			isStaircase(r.StepsUp, r.StepsDown) && r.StepsGrowthLow > 0 && r.StepsGrowthLow >= opts.MinGrowth && r.StepsGrowthLow >= opts.MinSlopePerHour*r.SpanHours {
			shape = "steps"
		}
		r.Material = r.Material && (atLow || shape != "")
	}
	r.Shape = ""
	if r.Significant && r.Material && (!strictOK || !atLow) {
		r.Shape = shape
	}
	r.Verdict = OK
	if r.Significant && r.Persistent && r.Material {
		r.Verdict = Leak
	} else if by, text := sizeOverrule(r, opts); by != "" {
		// The size check and the retained-growth budget stand on their
		// own evidence: a rise this large against the floor (and, for the
		// size check, its own noise), kept, is a leak whichever of the
		// other checks vetoed it; the reason names them.
		failed := vetoList(r, p, strictAlpha, strictOK || shape != "", atLow || shape != "", opts)
		r.Significant, r.Persistent, r.Material = true, true, true
		r.Verdict, r.Shape = Leak, by
		r.Reason = overruledReason(r, p, failed, text, opts)
		return
	}
	r.Reason = reason(r, p, strictAlpha, strictOK, atLow, opts)
}

// stepsSignAlpha is the sign test's level for the steps to count as a
// staircase: 3 steps up and none down (1/8), 5 up and 1 down (7/64), … A
// single step is a benign step's shape, and a pool's steps go both ways.
const stepsSignAlpha = 0.125

// changeMaxInflation is the most variance inflation the segmented fit may
// leave and still stand in for the AR(1) check: the change point is there
// to explain the correlation a straight line saw. A leak that starts
// part-way under white noise leaves 1–2; a strongly correlated wander keeps
// 4 or more after its best break, and stays with the AR(1) check.
const changeMaxInflation = 2.5

// isStaircase reports whether steps up and down make a staircase: up far more
// often than down by the sign test (stepsSignAlpha), and no more than one
// step down for four up — a leak's decreases are rare, a pool's are not.
func isStaircase(up, down int) bool {
	return signTestP(up, down) <= stepsSignAlpha && 4*down <= up
}

// changeExplains is how many times less variance inflation the segmented
// fit must leave than the straight line under the strict correction: the
// change point stands in for the AR(1) check only when it explains the
// correlation the check saw. A leak starting part-way leaves the line tens
// of times the segmented fit's; a wander whose best break falls early in
// the window, about twice.
const changeExplains = 4

// changeAlpha is the level of the change-point check: StrictAlpha whether
// or not the rise is steady, as the break is chosen to fit the series best
// and a wander's best break makes its last stretch look like a fresh trend.
func changeAlpha(opts Options) float64 {
	if opts.StrictAlpha > 0 {
		return opts.StrictAlpha
	}
	return opts.Alpha
}

// steady reports whether r's rise is steady (Options.SteadyDrawdown, or
// Options.PeriodicDrawdown with little variance inflation).
func steady(r *Result, opts Options) bool {
	if r.FittedGrowth <= 0 {
		return false
	}
	if opts.SteadyDrawdown > 0 && r.Drawdown <= opts.SteadyDrawdown*r.FittedGrowth {
		return true
	}
	return opts.PeriodicDrawdown > 0 && opts.PeriodicMaxInflation > 0 &&
		r.Drawdown <= opts.PeriodicDrawdown*r.FittedGrowth && r.VarianceInflation <= opts.PeriodicMaxInflation
}

func validate(times, values []float64) error {
	if len(times) != len(values) {
		return fmt.Errorf("%w: %d times but %d values", ErrBadInput, len(times), len(values))
	}
	for i := range times {
		if math.IsNaN(times[i]) || math.IsInf(times[i], 0) {
			return fmt.Errorf("%w: time %d is %v; drop or repair that point", ErrBadInput, i, times[i])
		}
		if math.IsNaN(values[i]) || math.IsInf(values[i], 0) {
			return fmt.Errorf("%w: value %d is %v; drop or repair that point", ErrBadInput, i, values[i])
		}
		if i > 0 && times[i] <= times[i-1] {
			return fmt.Errorf("%w: time %d (%v) is not after time %d (%v); sort the points and drop duplicates",
				ErrBadInput, i, times[i], i-1, times[i-1])
		}
	}
	return nil
}

// describe computes every statistic of a validated series; it sets no verdict.
func describe(times, values []float64, opts Options, ws *workspace) Result {
	// Warm-up: drop points less than Warmup after the first.
	start := 0
	if len(times) > 0 && opts.Warmup > 0 {
		cut := times[0] + opts.Warmup.Seconds()
		for start < len(times) && times[start] < cut {
			start++
		}
	}
	v := values[start:]
	if opts.FloorWindow > 0 && len(v) > 0 {
		// The floor of the first judged points looks back into the
		// warm-up, so the judged floor starts as a floor too.
		v = floorFilter(times, values, opts.FloorWindow.Seconds())[start:]
	}
	// Times from the first judged point keep detrending precise.
	t := ws.floats(&ws.times, len(v))
	for i := range t {
		t[i] = times[start+i] - times[start]
	}
	r := Result{N: len(v), P: 1, PWhole: 1, PStrict: 1, PersistP: 1, VarianceInflation: 1, ChangeP: 1, ChangeInflation: 1, IncrementsP: 1, PersistIncrementsP: 1, StepsTrendP: 1, StepsStrictP: 1}
	if len(v) == 0 {
		return r
	}
	r.Last = v[len(v)-1]
	r.Growth = v[len(v)-1] - v[0]
	r.SpanHours = (t[len(t)-1] - t[0]) / 3600
	peak := v[0]
	for i := 1; i < len(v); i++ {
		if v[i] > v[i-1] {
			r.Rising++
		}
		peak = math.Max(peak, v[i])
		r.Drawdown = math.Max(r.Drawdown, peak-v[i])
	}
	if len(v) < 3 {
		return r
	}
	// Later half by time.
	midT := t[0] + (t[len(t)-1]-t[0])/2
	h := 0
	for h < len(t) && t[h] < midT {
		h++
	}
	if cap(ws.keys) < 2*len(v) {
		ws.keys = make([]uint64, 2*len(v))
	}
	kFull, kLater := mannKendallSplit(v, h, ws.keys[:2*len(v)])
	scratch := ws.floats(&ws.scratch, len(v))
	full := trendTest(t, v, kFull, ws, scratch, opts, true, sampledSlopePairs, 0, 0)
	r.S, r.VarS, r.VarianceInflation, r.PWhole = full.k.S, full.varS, full.inflation, full.p
	r.P = r.PWhole
	r.Monotonic = full.k.S / full.k.Pairs
	r.SlopePerHour = full.sen.slope * 3600
	r.SlopeLow = full.low * 3600
	r.SlopeHigh = full.high * 3600
	r.SlopeSampled = full.sen.sampled
	r.StrictSlopeLowPerHour = full.strictLow * 3600
	r.StrictInflation = full.strictInflation
	r.FittedGrowth = r.SlopePerHour * r.SpanHours
	if len(t)-h >= 3 {
		// Long series reuse the whole window's inflation for the half.
		reuse, reuseStrict := 0.0, 0.0
		if len(v) > fullACFMaxN {
			reuse, reuseStrict = full.inflation, full.strictInflation
		}
		// The later half's interval only gates persistence: a quarter of
		// the random pairs is enough for long series.
		half := trendTest(t[h:], v[h:], kLater, ws, scratch, opts, true, sampledSlopePairs/4, reuse, reuseStrict)
		if half.strictInflation < full.strictInflation {
			// The later half alone (33 of 67 points) rarely shows its
			// correlation as significant, so an AR(1) swing over the last
			// hours passes as a fresh trend; the strict check keeps at
			// least the whole window's correlation. The slope interval
			// keeps the half's own (a leak that starts mid-run bends the
			// whole window's residuals into a false correlation).
			half.pStrict = upperP(kLater.S, kLater.Var*full.strictInflation)
		}
		r.PersistP = half.p
		r.PersistSlopeHighPerHour = half.high * 3600
		r.PersistStrictLowPerHour = half.strictLow * 3600
		r.PersistSpanHours = (t[len(t)-1] - t[h]) / 3600
		if !opts.WholeWindowOnly {
			r.StrictSlopeLowPerHour = math.Max(r.StrictSlopeLowPerHour, half.strictLow*3600)
		}
		if h >= 2 {
			r.EarlierSlopePerHour = senSlopeInto(t[:h], v[:h], sampledSlopePairs/4, &ws.slopes).slope * 3600
		}
		r.PersistSlopePerHour = half.sen.slope * 3600
		// Two looks, whole window and later half, Bonferroni-combined: a
		// leak that starts mid-run is plain on the later half.
		r.P = math.Min(1, 2*math.Min(r.PWhole, r.PersistP))
		r.PStrict = math.Min(1, 2*math.Min(full.pStrict, half.pStrict))
		if opts.WholeWindowOnly {
			r.P, r.PStrict = r.PWhole, full.pStrict
		}
	}
	if opts.ShapeChecks && !opts.WholeWindowOnly {
		shapes(&r, t, v, ws, scratch, opts)
		if len(t)-h >= 3 {
			later := incrementsCheck(v[h:])
			r.PersistIncrementsP, r.PersistIncrementsGrowthLow = later.p, later.growthLow
		}
		sz := sizeCheck(t, v, h, scratch)
		r.SizeGrowth, r.SizeLaterGrowth, r.SizeNoise = sz.growth, sz.later, sz.noise
		r.SizeEvents, r.SizeEventsDown, r.SizeEventsHeight, r.SizeLastEventHours = sz.events, sz.eventsDown, sz.eventsHeight, sz.lastEvent/3600
		r.SizeRetainedDrawdown = sz.retainedDrawdown
	}
	return r
}

// shapes runs the change-point and steps checks on the judged window.
func shapes(r *Result, t, v []float64, ws *workspace, scratch []float64, opts Options) {
	level := opts.ConfidenceLevel
	if level <= 0 || level >= 1 {
		level = 0.95
	}
	if c := changeCheck(t, v, ws, scratch, level); c.ok {
		r.ChangeAtHours = (t[c.at] - t[0]) / 3600
		r.ChangeP, r.ChangeInflation, r.ChangeBreaks = c.p, c.inflation, c.breaks
		r.ChangeSlopePerHour, r.ChangeSlopeLowPerHour = c.slope*3600, c.low*3600
		r.ChangeGrowthLow = c.low * (t[len(t)-1] - t[c.at])
	}
	st := stepsCheck(v, scratch)
	r.StepsUp, r.StepsDown, r.StepsGrowthLow = st.up, st.down, st.growthLow
	if isStaircase(st.up, st.down) {
		// A staircase: the trend test again, with the correlation of the
		// noise between the steps instead of the staircase's; a further
		// look, so doubled.
		res := stepResiduals(v, ws.floats(&ws.stepRes, len(v)), scratch)
		infl, strict := 1.0, 1.0
		if !negligible(res, v) {
			infl, strict = ws.inflations(res, opts.Correction)
		}
		pairs := float64(r.N) * float64(r.N-1) / 2
		plain := r.VarS / r.VarianceInflation
		r.StepsTrendP = math.Min(1, 2*upperP(r.Monotonic*pairs, plain*infl))
		r.StepsStrictP = math.Min(1, 2*upperP(r.Monotonic*pairs, plain*strict))
		r.P = math.Min(r.P, r.StepsTrendP)
	}
	inc := incrementsCheck(v)
	r.IncrementsZ, r.IncrementsP, r.IncrementsGrowthLow = inc.z, inc.p, inc.growthLow
	// The increments test is a trend test in its own right, valid (and
	// conservative) against every AR(1) series: a third look at the
	// series, Bonferroni-combined with the other two.
	r.P = math.Min(r.P, math.Min(1, 2*inc.p))
}

type testResult struct {
	k         kendall
	varS      float64
	inflation float64
	p         float64
	sen       senSlopes
	low, high float64
	// strictInflation and pStrict are the CorrectionStrict figures.
	strictInflation, pStrict float64
	strictLow                float64
}

// trendTest completes Mann–Kendall k with the Hamed–Rao correction and runs Theil–Sen on
// one window; withCI also computes the slope interval. A positive inflation
// is used as is instead of being estimated. The slopes live in ws.slopes
// until the next call: the result keeps only their quantiles.
func trendTest(t, v []float64, k kendall, ws *workspace, scratch []float64, opts Options, withCI bool, pairs int, inflation, strictInflation float64) testResult {
	// The slope detrends the series for the autocorrelation estimate; its
	// interval needs the corrected variance, so compute the point first.
	sen := senSlopeInto(t, v, pairs, &ws.slopes)
	if inflation <= 0 {
		detrended := scratch[:len(v)]
		for i := range v {
			detrended[i] = v[i] - sen.slope*t[i]
		}
		if negligible(detrended, v) {
			// A straight line leaves only rounding: no correlation to model.
			inflation, strictInflation = 1, 1
		} else {
			inflation, strictInflation = ws.inflations(detrended, opts.Correction)
		}
	}
	varS := k.Var * inflation
	var p float64
	if len(v) <= exactMaxN && !k.Ties && inflation == 1 {
		p = exactUpperP(len(v), k.S)
	} else {
		p = upperP(k.S, varS)
	}
	res := testResult{k: k, varS: varS, inflation: inflation, p: p, sen: sen,
		strictInflation: strictInflation, pStrict: upperP(k.S, k.Var*strictInflation)}
	if withCI {
		level := opts.ConfidenceLevel
		if level <= 0 || level >= 1 {
			level = 0.95
		}
		res.low, res.high = sen.interval(varS, level)
		res.strictLow = sen.lowerBound(k.Var*strictInflation, level)
	}
	res.sen.slopes = nil // ws.slopes is reused by the next window
	return res
}

// negligible reports whether the residuals are rounding error next to the
// values (a noiseless straight line).
func negligible(residual, values []float64) bool {
	lo, hi := math.Inf(1), math.Inf(-1)
	scale := 0.0
	for i, r := range residual {
		lo, hi = math.Min(lo, r), math.Max(hi, r)
		scale = math.Max(scale, math.Abs(values[i]))
	}
	return hi-lo <= 1e-9*math.Max(scale, 1)
}

// workspace holds the buffers one goroutine reuses from series to series
// (AnalyzeRun has one per worker), so a judgement's memory is bounded by its
// workers, not its series: the pairwise slopes, the bulk of it, go into one
// buffer of at most 179 700 (exact, 600 points) or 65 536 (sampled) slopes,
// 1.4 MB. Nothing is kept between judgements: a soak judged every few
// minutes holds no buffers in between.
type workspace struct {
	times, scratch []float64
	keys           []uint64
	// slopes holds one window's pairwise slopes at a time.
	slopes []float64
	// stepRes holds a series less its steps.
	stepRes []float64
	// ranks, order and acov serve the Hamed–Rao correction.
	ranks, acov []float64
	order       []int32
}

// floats returns (*buf)[:n], growing it when needed.
func (ws *workspace) floats(buf *[]float64, n int) []float64 {
	if cap(*buf) < n {
		*buf = make([]float64, n)
	}
	return (*buf)[:n]
}
