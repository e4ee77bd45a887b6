package checks

import (
	"context"
	"fmt"
	"time"

	"github.com/leakgate/leakgate/checks/sequential"
	"github.com/leakgate/leakgate/checks/trend"
)

// EarlyRule names the rule that may end a run before its end.
type EarlyRule string

// The early rules.
const (
	// EarlySequential: checks/sequential after every sample, with a bound
	// (EarlyFalseAlarm) on the probability that a clean run is ever stopped.
	EarlySequential EarlyRule = "sequential"
	// EarlyTrend: the final judge at EarlyStopFDR on at least
	// EarlyMinSamples points (the rule before the sequential one).
	EarlyTrend EarlyRule = "trend"
)

// SequentialOptions returns the sequential rule's options for a series with
// the given floors (its kind's, in bytes) in a run judging series series:
// the run's EarlyFalseAlarm is split evenly over max(EarlySeries, series).
func (p Policy) SequentialOptions(minSlopePerHour, minGrowth float64, series int) sequential.Options {
	o := sequential.DefaultOptions()
	o.Alpha = p.EarlyFalseAlarm / float64(max(p.EarlySeries, series, 1))
	o.Warmup = p.Warmup
	o.MinPoints = p.EarlySequentialMinSamples
	o.MinSpan = p.EarlyMinSpan
	o.LookEvery = p.EarlyLookEvery
	o.MinSlopePerHour = minSlopePerHour
	o.MinGrowth = minGrowth
	o.Horizon = p.EarlyHorizon
	o.ConfidenceLevel = p.ConfidenceLevel
	o.PersistFraction = p.EarlyPersistFraction
	o.MaxDrawdown = p.EarlyMaxDrawdown
	return o
}

// sequentialRun judges every series of a run with the sequential rule, in
// trend's terms so the judge turns them into findings as it does the final
// verdicts: a stop is a leak, a series not yet looked at is insufficient.
func (p Policy) sequentialRun(ctx context.Context, series []trend.Series) ([]trend.Result, error) {
	out := make([]trend.Result, len(series))
	for i, s := range series {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		o := p.SequentialOptions(s.Options.MinSlopePerHour, s.Options.MinGrowth, len(series))
		d, err := sequential.Replay(s.Times, s.Values, o)
		if err != nil {
			return nil, fmt.Errorf("early judging of %s: %w", s.Name, err)
		}
		out[i] = sequentialResult(s, d, o.Warmup)
	}
	return out, nil
}

// sequentialResult says a sequential decision as a trend result. Its
// growth and rising steps are those of the window the decision judged (past
// warmup, up to the point it was taken at), so a finding made from it
// carries the figures that stopped the run.
func sequentialResult(s trend.Series, d sequential.Decision, warmup time.Duration) trend.Result {
	r := trend.Result{
		Verdict: trend.OK, N: d.Points, P: d.P, PAdjusted: d.P,
		SlopePerHour: d.SlopePerHour, SlopeLow: d.SlopeLowPerHour,
		SlopeHigh: 2*d.SlopePerHour - d.SlopeLowPerHour, // the interval is symmetric
		Reason:    d.Reason,
	}
	if d.Bound == 0 {
		r.Verdict = trend.Insufficient
	}
	if v := judgedWindow(s.Times, s.Values, warmup, d.At); len(v) > 0 {
		r.Last = v[len(v)-1]
		r.Growth = v[len(v)-1] - v[0]
		for i := 1; i < len(v); i++ {
			if v[i] > v[i-1] {
				r.Rising++
			}
		}
	}
	if d.Stop {
		r.Verdict = trend.Leak
		r.Significant, r.Persistent = true, true
		span := d.At - s.Times[0] - s.Options.Warmup.Seconds()
		r.FittedGrowth = d.SlopePerHour * span / 3600
	}
	return r
}

// judgedWindow is the values the sequential rule judged: from the first
// point warmup or more after the first point (sequential.Monitor.Add
// excludes those less than warmup after it) up to the point at time at.
func judgedWindow(times, values []float64, warmup time.Duration, at float64) []float64 {
	if len(times) == 0 {
		return nil
	}
	start, end := 0, 0
	for start < len(times) && times[start]-times[0] < warmup.Seconds() {
		start++
	}
	for end < len(times) && times[end] <= at {
		end++
	}
	if start >= end {
		return nil
	}
	return values[start:end]
}

// JudgeAfterEarlyStop is the end-of-run verdict on a run the early rule
// stopped: the final judgement with every leak the early judgement found
// kept as a leak (MergeEarly).
func (b *SeriesBuilder) JudgeAfterEarlyStop(pol Policy) Judgement {
	return MergeEarly(b.Judge(pol, JudgeOptions{Final: true}), b.Judge(pol, JudgeOptions{Final: false}), "")
}
