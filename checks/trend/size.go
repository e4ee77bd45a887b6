package trend

import (
	"math"
	"slices"
)

// The size check judges a rise by how far it went, in units of its own
// noise and of the floor, rather than by a model of its correlation. The
// AR(1) check asks whether serial correlation could explain the trend, and
// for a leak that grows in a few bursts, or counts objects at a rate that
// follows the load, its answer is yes: the residuals about one straight
// line drift like a random walk. But what each benign shape the evaluation
// knows can reach is bounded, measured robustly (medians of an hour at each
// end, the median absolute increment for the noise):
//
//   - AR(1) noise, φ ≤ 0.9: its increments have σ_d = σ·√(2(1−φ)) ≥
//     0.45σ, so a rise of sizeNoiseRatio = 12 σ_d is ≥ 5.4σ between two
//     hour-medians whose difference has a standard deviation ≤ √2·σ (3.8
//     of them, p < 10⁻⁴), and it must not give back more than 30 % of it
//     on the way, which a wander of that size does.
//   - a step then flat (2–20× the floor, noise 5 % of the step): the later
//     half grows by noise alone, the difference of two 6-point medians,
//     σ·√(π/6) = 0.72σ, against sizeLaterNoise = 3 σ_d = 4.2σ: 5.9 of its
//     standard deviations.
//   - a warm-up ramp A(1−e^(−t/τ)), τ ≤ 2 h, noise 2 % of A: from 6.5 h on
//     it rises by at most A·e^(−3.25) = 0.039A, under half of the 3 σ_d =
//     0.085A the later half must add.
//   - saw-teeth, bounded walks, spikes and chunk pools give back what they
//     gain: their drawdown is their amplitude, more than sizeMaxDrawdown =
//     30 % of the growth, and a pool's large steps go down about as often
//     as up (at most one down for four up passes).
//
// A leak that grows at a few events an hour may have none in its later
// half; then a counting process — at least 3 events of 5 σ_d up, none
// down, half the growth — persists unless its quiet tail is improbable:
// given K events at a constant rate, all K fall before the last fraction q
// of the window with probability (1−q)^K, and below 1 % it has stopped. A
// benign step is one event, a warm-up ramp's steepest judged increment is
// 0.061A against 5 σ_d = 0.14A, and a pool's events go both ways.
//
// A rise that clears all of it, and sizeFloors = 2 floors, is a leak on its
// own evidence whatever the AR(1) model says; the evaluation
// (docs/detection.md) measures that no benign class here reaches it. Leaks
// whose noise grows with their growth (a straight line under noise of a
// quarter of it, or under a saw-tooth) do not clear 12 σ_d and stay with
// the other checks.

// sizeResult is the size check's figures on one window.
type sizeResult struct {
	// growth is the median of the last hour less the median of the first
	// (each end at least sizeMinEndPoints points, at most a quarter of
	// the window); later the same on the later half alone.
	growth, later float64
	// noise is the robust σ of the increments: 1.4826 × their median
	// absolute value, or their mean absolute value when most are zero
	// (an integer count that mostly does not move).
	noise float64
	// events and eventsDown count the increments of at least
	// sizeEventNoise σ up and down; eventsHeight is the sum of those up;
	// lastEvent is the time of the last one up (seconds from t[0]).
	events, eventsDown int
	eventsHeight       float64
	lastEvent          float64
	// retainedDrawdown is the largest fall of the hour medians from their
	// running maximum (hourMedianDrawdown).
	retainedDrawdown float64
}

const (
	// sizeFloors is how many floors the robust growth must reach: the
	// noise and later-half bounds below keep the benign shapes out, this
	// keeps the call material (3 before: it only cost recall, bursts
	// 94 → 96 %, no benign series moved; docs/detection.md).
	sizeFloors = 2
	// sizeNoiseRatio is how many robust σ of the increments it must reach.
	sizeNoiseRatio = 12
	// sizeLaterNoise is how many σ of the increments the later half must
	// grow by on its own (and by one floor at least).
	sizeLaterNoise = 3
	// sizeMaxDrawdown is the most the rise may give back from its running
	// maximum, as a fraction of the robust growth.
	sizeMaxDrawdown = 0.3
	// sizeEventNoise is how many σ of the increments make one an event:
	// Gaussian noise passes 5σ once in 1.7 million increments (the
	// counting process needs three such, none down), and neither a
	// warm-up ramp's steepest judged increment (at most 0.061A against
	// 5σ_d = 0.14A) nor, by their mean absolute increment, a chunk pool
	// reaches it. At 4σ runs of benign series began to be flagged.
	sizeEventNoise = 5
	// sizeMinEvents is the fewest events that make a counting process
	// rather than a step (a benign step is one event).
	sizeMinEvents = 3
	// sizeQuietAlpha is the level below which the quiet tail after the
	// last event says the process stopped: given K events, a constant
	// rate puts them all before the last fraction q of the window with
	// probability (1−q)^K.
	sizeQuietAlpha = 0.01

	// sizeMinEndPoints is the fewest points a median of an end stands on.
	sizeMinEndPoints = 3
)

// sizeCheck measures v (times t in seconds from the first judged point;
// h is the first index of the later half); scratch holds len(v) floats.
func sizeCheck(t, v []float64, h int, scratch []float64) sizeResult {
	n := len(v)
	if n < 2*sizeMinEndPoints || h < 1 || n-h < 2*sizeMinEndPoints {
		return sizeResult{}
	}
	abs := scratch[:n-1]
	sum := 0.0
	for i := 1; i < n; i++ {
		abs[i-1] = math.Abs(v[i] - v[i-1])
		sum += abs[i-1]
	}
	r := sizeResult{noise: 1.4826 * selectK(abs, (len(abs)-1)/2)}
	if r.noise == 0 {
		r.noise = sum / float64(n-1)
	}
	for i := 1; i < n; i++ {
		switch d := v[i] - v[i-1]; {
		case d >= sizeEventNoise*r.noise:
			r.events++
			r.eventsHeight += d
			r.lastEvent = t[i] - t[0]
		case d <= -sizeEventNoise*r.noise:
			r.eventsDown++
		}
	}
	r.retainedDrawdown = hourMedianDrawdown(t, v, scratch)
	r.growth = endsRise(t, v, scratch)
	r.later = endsRise(t[h:], v[h:], scratch)
	return r
}

// endsRise is the median of the last hour of v less the median of its
// first hour, each end between sizeMinEndPoints points and a quarter of v.
func endsRise(t, v, scratch []float64) float64 {
	n, k := len(v), hourPoints(t)
	if k > n/2 {
		return 0
	}
	return medianOf(v[n-k:], scratch) - medianOf(v[:k], scratch)
}

// hourPoints is how many of the points t an hour median stands on: those
// in the first hour, at least sizeMinEndPoints, at most a quarter of them.
func hourPoints(t []float64) int {
	k := 0
	for k < len(t) && t[k]-t[0] < 3600 {
		k++
	}
	return max(sizeMinEndPoints, min(k, len(t)/4))
}

// medianOf returns the median of xs, using scratch (≥ len(xs)) as a copy.
func medianOf(xs, scratch []float64) float64 {
	s := scratch[:len(xs)]
	copy(s, xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// sizeSays reports whether r's rise is, by the size check alone, a leak
// above opts' floors: many floors and many σ of its own noise, given back
// little, still growing on its later half.
func sizeSays(r *Result, opts Options) bool {
	if !opts.ShapeChecks || opts.WholeWindowOnly || opts.MinGrowth <= 0 || r.SizeNoise < 0 {
		return false
	}
	g := r.SizeGrowth
	return g > 0 && g >= sizeFloors*opts.MinGrowth && g >= sizeFloors*opts.MinSlopePerHour*r.SpanHours &&
		g >= sizeNoiseRatio*r.SizeNoise && r.Drawdown <= sizeMaxDrawdown*g && 4*r.StepsDown <= r.StepsUp &&
		(sizeLaterGrew(r, opts) || sizeCounting(r) && sizeQuietP(r) >= sizeQuietAlpha) &&
		r.Monotonic >= opts.MinMonotonic && r.SlopePerHour > 0
}

// sizeLaterGrew reports whether r's later half grew by a floor and
// sizeLaterNoise σ of the increments on its own.
func sizeLaterGrew(r *Result, opts Options) bool {
	return r.SizeLaterGrowth >= opts.MinGrowth && r.SizeLaterGrowth >= opts.MinSlopePerHour*r.PersistSpanHours &&
		r.SizeLaterGrowth >= sizeLaterNoise*r.SizeNoise
}

// sizeCounting reports whether r's growth is a counting process: at least
// sizeMinEvents events up, none down, the events at least half the growth.
// Only then may a quiet tail that is not improbable stand in for the later
// half's own growth: a benign step is one event, and a pool's events go
// both ways.
func sizeCounting(r *Result) bool {
	return r.SizeEvents >= sizeMinEvents && r.SizeEventsDown == 0 && r.SizeEventsHeight >= r.SizeGrowth/2
}

// sizeQuietP is the probability, given r's SizeEvents events at a constant
// rate over the window, that all of them fall before the last one did:
// (1 − quiet/span)^K. 0 without events.
func sizeQuietP(r *Result) float64 {
	if r.SizeEvents == 0 || r.SpanHours <= 0 {
		return 0
	}
	return math.Pow(math.Min(1, r.SizeLastEventHours/r.SpanHours), float64(r.SizeEvents))
}

// hourMedianDrawdown is the largest fall of v's hour medians (the median of
// the points in each hour-long stretch, at least sizeMinEndPoints, at most a
// quarter of v) from their running maximum: what the level gave back,
// with single-point noise averaged out. scratch holds len(v) floats.
//
// The stretches start every sixth of an hour (every point at 10 min), so
// a day at 1 s takes 138 medians of 3600 points, each by selection.
func hourMedianDrawdown(t, v, scratch []float64) float64 {
	n, k := len(v), hourPoints(t)
	if k > n {
		return 0
	}
	stride := max(1, k/6)
	peak, fall := math.Inf(-1), 0.0
	for i := 0; i+k <= n; i += stride {
		m := selectMedian(v[i:i+k], scratch)
		peak = math.Max(peak, m)
		fall = math.Max(fall, peak-m)
	}
	return fall
}

// selectMedian returns the median of xs in linear time, using scratch
// (≥ len(xs)) as a copy.
func selectMedian(xs, scratch []float64) float64 {
	s := scratch[:len(xs)]
	copy(s, xs)
	m := len(s) / 2
	upper := selectK(s, m)
	if len(s)%2 == 1 {
		return upper
	}
	// selectK leaves s[:m] at most s[m]: the lower middle is their largest.
	return (slices.Max(s[:m]) + upper) / 2
}

// budgetSays reports whether r's rise is, by the retained-growth budget
// alone, a leak: the level rose by at least Options.RetainedBudgetFloors
// floors (each floor: MinGrowth, and MinSlopePerHour over the window, as
// the size check counts them) and its hour medians never gave back more than sizeMaxDrawdown of
// it. A rise that large and kept is a failure whatever its shape, a single
// step included; below it a lone step is a benign step's shape. The hour
// medians, not the points, measure what was given back: a noisy point is
// not a fall, a pool freeing a chunk for an hour is.
func budgetSays(r *Result, opts Options) bool {
	if !opts.ShapeChecks || opts.WholeWindowOnly || opts.RetainedBudgetFloors <= 0 || opts.MinGrowth <= 0 || r.SizeNoise < 0 {
		return false
	}
	g := r.SizeGrowth
	return g > 0 && g >= budgetOf(r, opts) && g >= opts.MinGrowth &&
		r.SizeRetainedDrawdown <= sizeMaxDrawdown*g && r.SlopePerHour > 0
}

// budgetOf is the retained-growth budget in the values' unit: its floors
// times the larger floor, MinGrowth or MinSlopePerHour over the window.
func budgetOf(r *Result, opts Options) float64 {
	return opts.RetainedBudgetFloors * max(opts.MinGrowth, opts.MinSlopePerHour*r.SpanHours)
}

// sizeOverrule names the check on size that calls r a leak over the other
// checks' vetoes ("size" or "budget") with its figures, or "" when neither
// does.
func sizeOverrule(r *Result, opts Options) (by, text string) {
	u := units{bytes: opts.Bytes}
	switch {
	case sizeSays(r, opts):
		return "size", sizeText(r, u)
	case budgetSays(r, opts):
		return "budget", budgetText(r, opts, u)
	}
	return "", ""
}
