package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"io"
	"text/tabwriter"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/sequential"
	"github.com/leakgate/leakgate/checks/trend"
)

// replayLine is what `trend --replay --json` prints per series: the verdict
// a soak would have reached and, when the early rule stopped it, the time
// (seconds, the series' own clock) of the point that stopped it.
type replayLine struct {
	Series string `json:"series"`
	// Verdict is "leak" when the early rule stopped the series or the
	// final judge calls it a leak, else the final verdict.
	Verdict   string   `json:"verdict"`
	StoppedAt *float64 `json:"stopped_at"`
	// Final is the end-of-run verdict on the whole series.
	Final  string `json:"final"`
	Reason string `json:"reason"`
}

// runTrendReplay judges series as a soak would: the sequential early rule
// after every point, the final judge (Benjamini–Hochberg across the series)
// at the end. The early rule takes the trend flags' warm-up and floors, the
// default policy's run budget (early_false_alarm split over at least
// early_series series) and, as the soak's planned length, each series' span.
func runTrendReplay(ctx context.Context, name string, series []trend.Series, asJSON bool, stdout, stderr io.Writer) int {
	lines, err := replaySeries(ctx, series, checks.DefaultPolicy())
	if err != nil {
		fmt.Fprintf(stderr, "leakgate trend --replay %s: %v\n", name, err)
		return exitUsage
	}
	leak := false
	for _, l := range lines {
		leak = leak || l.Verdict == string(trend.Leak)
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		for _, l := range lines {
			if err := enc.Encode(l); err != nil {
				fmt.Fprintf(stderr, "leakgate trend --replay: %v\n", err)
				return exitUsage
			}
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SERIES\tVERDICT\tSTOPPED AT\tFINAL\tREASON")
		for _, l := range lines {
			at := "-"
			if l.StoppedAt != nil {
				at = human.Duration(time.Duration(*l.StoppedAt) * time.Second)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", human.Escape(l.Series), l.Verdict, at, l.Final, human.Escape(l.Reason))
		}
		tw.Flush()
	}
	if leak {
		return exitFindings
	}
	return exitOK
}

// replaySeries returns one line per series, in order.
func replaySeries(ctx context.Context, series []trend.Series, pol checks.Policy) ([]replayLine, error) {
	final, err := trend.AnalyzeRun(ctx, series)
	if err != nil {
		return nil, err
	}
	lines := make([]replayLine, len(series))
	for i, s := range series {
		o := pol.SequentialOptions(s.Options.MinSlopePerHour, s.Options.MinGrowth, len(series))
		o.Warmup = s.Options.Warmup
		o.Horizon = 0
		if n := len(s.Times); n > 0 {
			o.Horizon = max(0, time.Duration((s.Times[n-1]-s.Times[0])*float64(time.Second))-o.Warmup)
		}
		d, err := sequential.Replay(s.Times, s.Values, o)
		if err != nil {
			return nil, fmt.Errorf("series %s: %w", s.Name, err)
		}
		l := replayLine{Series: s.Name, Verdict: string(final[i].Verdict), Final: string(final[i].Verdict), Reason: final[i].Reason}
		if d.Stop {
			at := d.At
			l.StoppedAt, l.Verdict, l.Reason = &at, string(trend.Leak), d.Reason
		}
		lines[i] = l
	}
	return lines, nil
}
