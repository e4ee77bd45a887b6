package trend

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
)

// Series is one named series of a run with its own thresholds.
type Series struct {
	Name    string
	Times   []float64 // seconds, strictly increasing
	Values  []float64
	Options Options
}

// AnalyzeRun judges every series of one run in parallel, then controls the
// false discovery rate across them: each series' p is Benjamini–Hochberg
// adjusted over all series with enough points, and the verdict is decided on
// the adjusted p against that series' Alpha (the FDR q). Results are in the
// order given. The first bad series fails the whole call with its name.
func AnalyzeRun(ctx context.Context, series []Series) ([]Result, error) {
	results := make([]Result, len(series))
	errs := make([]error, len(series))
	workers := min(runtime.GOMAXPROCS(0), len(series))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws := &workspace{}
			for i := range next {
				s := series[i]
				if err := validate(s.Times, s.Values); err != nil {
					errs[i] = fmt.Errorf("series %q: %w", s.Name, err)
					continue
				}
				results[i] = describe(s.Times, s.Values, s.Options, ws)
			}
		}()
	}
	var cancelled error
feed:
	for i := range series {
		select {
		case next <- i:
		case <-ctx.Done():
			cancelled = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if cancelled != nil {
		return nil, fmt.Errorf("judge %d series: %w", len(series), cancelled)
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	ps := make([]float64, len(results))
	for i, r := range results {
		ps[i] = r.P
		if r.N < max(series[i].Options.MinPoints, 3) {
			ps[i] = math.NaN() // not a test
		}
	}
	adjusted := AdjustBH(ps)
	for i := range results {
		p := adjusted[i]
		if math.IsNaN(p) {
			p = results[i].P
		}
		results[i].PAdjusted = p
		Decide(&results[i], p, series[i].Options)
	}
	return results, nil
}
