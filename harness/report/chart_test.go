package report

import (
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
)

func TestChartSVG_ScalesSizesToHumanUnits(t *testing.T) {
	tests := []struct {
		name, unit string
		value      float64
		want       string
	}{
		{"bytes in the megabytes", "bytes", 40 << 20, ">MiB<"},
		{"meminfo kB in the gigabytes", "kB", 8 << 20, ">GiB<"},
		{"objects stay objects", "objects", 1500, ">objects<"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ramp(checks.KindMeminfo, "x", tt.unit, 5, tt.value, tt.value/100)

			svg, err := chartSVG("x", timeline{start: start}, []Series{s}, nil)

			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(svg), tt.want) {
				t.Errorf("axis label %s missing", tt.want)
			}
		})
	}
}

func FuzzChartSVG(f *testing.F) {
	f.Add(0.0, 1.0, 2.0, int64(600), 1.0, "slab")
	f.Add(1e308, -1e308, 5e-324, int64(0), -3.0, "\xff<")
	f.Fuzz(func(t *testing.T, a, b, c float64, stepSec int64, slope float64, name string) {
		s := Series{Kind: checks.KindSlab, Subject: name, Unit: "bytes"}
		for i, v := range []float64{a, b, c} {
			s.Points = append(s.Points, Point{At: start.Add(time.Duration(int64(i)*stepSec) * time.Second), Value: v})
		}

		svg, err := chartSVG(name, timeline{start: start, gaps: []time.Time{start.Add(time.Duration(stepSec) * time.Second)}}, []Series{s, s}, &trendLine{perHour: slope, label: name})

		if err == nil && !strings.HasPrefix(string(svg), "<svg") {
			t.Errorf("not an svg element: %.40q", svg)
		}
		if strings.Contains(string(svg), "<"+"script") {
			t.Error("markup from the name reached the chart")
		}
	})
}

func TestChartSVG_MarksGaps(t *testing.T) {
	s := ramp(checks.KindSlab, "x", "objects", 10, 100, 1)
	gapAt := start.Add(5 * interval)

	with, err := chartSVG("x", timeline{start: start, gaps: []time.Time{gapAt}}, []Series{s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	without, err := chartSVG("x", timeline{start: start}, []Series{s}, nil)
	if err != nil {
		t.Fatal(err)
	}

	if strings.Count(string(with), "<path") != strings.Count(string(without), "<path")+1 {
		t.Error("the gap is not drawn as one more line")
	}
	if !strings.Contains(string(with), "stroke:#CE212D;stroke-opacity") {
		t.Errorf("no gap marker colour in the chart")
	}
}

func TestChartSVG_ShowsASmallChangeOnALargeLevelAsChange(t *testing.T) {
	s := ramp(checks.KindMeminfo, "MemAvailable", "bytes", 20, 180<<20, -1024)

	svg, err := chartSVG("meminfo MemAvailable", timeline{start: start}, []Series{s}, &trendLine{perHour: -6144, label: "slope"})

	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), "meminfo MemAvailable (change from 180.0 MiB)") {
		t.Error("the title does not say the chart shows change from the start level")
	}
	if !strings.Contains(string(svg), ">KiB<") {
		t.Error("the axis is not in the unit of the change")
	}
	if strings.Contains(string(svg), "e+") {
		t.Error("tick labels use exponents")
	}
}

func TestPlainTicks_LabelWithoutExponentsAndDistinctly(t *testing.T) {
	ticks := plainTicks{}.Ticks(184320.0, 184338.5)

	seen := map[string]bool{}
	for _, tk := range ticks {
		if tk.Label == "" {
			continue
		}
		if strings.ContainsAny(tk.Label, "e") || seen[tk.Label] {
			t.Errorf("label %q (repeated or exponent) in %v", tk.Label, ticks)
		}
		seen[tk.Label] = true
	}
	if len(seen) < 2 {
		t.Errorf("only %d labels", len(seen))
	}
}
