package checks

import (
	"context"
	"fmt"

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
		d, err := sequential.Replay(s.Times, s.Values, p.SequentialOptions(s.Options.MinSlopePerHour, s.Options.MinGrowth, len(series)))
		if err != nil {
			return nil, fmt.Errorf("early judging of %s: %w", s.Name, err)
		}
		out[i] = sequentialResult(s, d)
	}
	return out, nil
}

// sequentialResult says a sequential decision as a trend result.
func sequentialResult(s trend.Series, d sequential.Decision) trend.Result {
	r := trend.Result{
		Verdict: trend.OK, N: d.Points, P: d.P, PAdjusted: d.P,
		SlopePerHour: d.SlopePerHour, SlopeLow: d.SlopeLowPerHour,
		SlopeHigh: 2*d.SlopePerHour - d.SlopeLowPerHour, // the interval is symmetric
		Reason:    d.Reason,
	}
	if d.Bound == 0 {
		r.Verdict = trend.Insufficient
	}
	if d.Stop {
		r.Verdict = trend.Leak
		r.Significant, r.Persistent = true, true
		span := d.At - s.Times[0] - s.Options.Warmup.Seconds()
		r.FittedGrowth = d.SlopePerHour * span / 3600
	}
	return r
}

// JudgeAfterEarlyStop is the end-of-run verdict on a run the early rule
// stopped: the final judgement with every leak the early judgement found
// kept as a leak (MergeEarly).
func (b *SeriesBuilder) JudgeAfterEarlyStop(pol Policy) Judgement {
	return MergeEarly(b.Judge(pol, JudgeOptions{Final: true}), b.Judge(pol, JudgeOptions{Final: false}), "")
}
