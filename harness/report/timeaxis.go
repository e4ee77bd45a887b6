package report

import (
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
)

// timeAxis is the unit a chart's time axis counts in, chosen from the span
// the chart shows, and the round tick steps of that unit. It is the x axis'
// plot.Ticker.
type timeAxis struct {
	start time.Time
	unit  time.Duration
	label string
	// steps are the round tick steps in unit, smallest first.
	steps []float64
}

// timeAxes are the axis units by the longest span each serves: seconds for
// a run of minutes, minutes for an hour, hours for a 12 h soak, days beyond
// three days.
var timeAxes = []struct {
	upTo time.Duration
	axis timeAxis
}{
	{10 * time.Minute, timeAxis{unit: time.Second, label: "seconds since start", steps: []float64{1, 2, 5, 10, 15, 30, 60, 120}}},
	{3 * time.Hour, timeAxis{unit: time.Minute, label: "minutes since start", steps: []float64{1, 2, 5, 10, 15, 30, 60}}},
	{3 * 24 * time.Hour, timeAxis{unit: time.Hour, label: "hours since start", steps: []float64{1, 2, 3, 4, 6, 12, 24}}},
	{math.MaxInt64, timeAxis{unit: 24 * time.Hour, label: "days since start", steps: []float64{1, 2, 7, 14, 28, 91, 182, 365}}},
}

// maxTimeTicks is the most labelled ticks a time axis gets; the smallest
// round step that keeps within it is used.
const maxTimeTicks = 8

// chooseTimeAxis returns the axis for a chart starting at start and
// spanning span.
func chooseTimeAxis(start time.Time, span time.Duration) timeAxis {
	for _, a := range timeAxes {
		if span < a.upTo {
			ax := a.axis
			ax.start = start
			return ax
		}
	}
	panic("unreachable: the last axis serves every span")
}

// chartSpan is the longest time from start to a point of the series.
func chartSpan(series []Series, start time.Time) time.Duration {
	var span time.Duration
	for i := range series {
		s := &series[i]
		for j := range s.Len() {
			if d := s.Point(j).At.Sub(start); d > span {
				span = d
			}
		}
	}
	return span
}

// x is t on the axis: its time since start in the axis' unit.
func (a timeAxis) x(t time.Time) float64 {
	return float64(t.Sub(a.start)) / float64(a.unit)
}

// Ticks implements plot.Ticker: labelled ticks at every multiple of the
// smallest round step that gives at most maxTimeTicks of them, unlabelled
// ones halfway between. Past the largest step (a range no run has) it falls
// back to plainTicks.
func (a timeAxis) Ticks(lo, hi float64) []plot.Tick {
	if !(hi >= lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return plainTicks{}.Ticks(lo, hi)
	}
	step := 0.0
	for _, s := range a.steps {
		if math.Floor(hi/s)-math.Ceil(lo/s)+1 <= maxTimeTicks {
			step = s
			break
		}
	}
	if step == 0 {
		return plainTicks{}.Ticks(lo, hi)
	}
	var ticks []plot.Tick
	for k := math.Ceil(lo / step); k*step <= hi; k++ {
		v := k * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		if mid := v + step/2; mid <= hi {
			ticks = append(ticks, plot.Tick{Value: mid})
		}
	}
	if first := math.Ceil(lo/step)*step - step/2; first >= lo {
		ticks = append([]plot.Tick{{Value: first}}, ticks...)
	}
	return ticks
}
