package report

import (
	"strings"
	"testing"
	"time"
)

// TestTimeAxis_UnitAndTicksFitTheRunsSpan checks, per span, the unit the
// axis counts in and its labelled ticks over the whole run (lo 0, hi the
// span in that unit).
func TestTimeAxis_UnitAndTicksFitTheRunsSpan(t *testing.T) {
	tests := []struct {
		name  string
		span  time.Duration
		label string
		ticks string
	}{
		{"a 3-minute run is in seconds, every 30 s", 3 * time.Minute, "seconds since start", "0 30 60 90 120 150 180"},
		{"a 9-minute run is in seconds, every 2 min", 9 * time.Minute, "seconds since start", "0 120 240 360 480"},
		{"a 10-minute run is in minutes, every 2 min", 10 * time.Minute, "minutes since start", "0 2 4 6 8 10"},
		{"a one-hour run is in minutes, every 10 min", time.Hour, "minutes since start", "0 10 20 30 40 50 60"},
		{"a 2 h 50 min run is in minutes, every 30 min", 170 * time.Minute, "minutes since start", "0 30 60 90 120 150"},
		{"a 3-hour run is in hours, every hour", 3 * time.Hour, "hours since start", "0 1 2 3"},
		{"a 12 h soak is in hours, every 2 h", 12 * time.Hour, "hours since start", "0 2 4 6 8 10 12"},
		{"a 48 h soak is in hours, every 12 h", 48 * time.Hour, "hours since start", "0 12 24 36 48"},
		{"a 3-day soak is in days, every day", 72 * time.Hour, "days since start", "0 1 2 3"},
		{"a 30-day soak is in days, every 7 d", 30 * 24 * time.Hour, "days since start", "0 7 14 21 28"},
	}
	start := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ax := chooseTimeAxis(start, tt.span)

			if ax.label != tt.label {
				t.Errorf("label %q, want %q", ax.label, tt.label)
			}
			var labels []string
			for _, tk := range ax.Ticks(0, ax.x(start.Add(tt.span))) {
				if tk.Label != "" {
					labels = append(labels, tk.Label)
				}
			}
			if got := strings.Join(labels, " "); got != tt.ticks {
				t.Errorf("ticks %q, want %q", got, tt.ticks)
			}
		})
	}
}

func TestTimeAxis_MinorTicksHalveTheStepAndStayInRange(t *testing.T) {
	ax := chooseTimeAxis(time.Time{}, 12*time.Hour)

	ticks := ax.Ticks(0.5, 5.2)

	var got []string
	for _, tk := range ticks {
		s := "·"
		if tk.Label != "" {
			s = tk.Label
		}
		got = append(got, s)
		if tk.Value < 0.5 || tk.Value > 5.2 {
			t.Errorf("tick at %v is outside [0.5, 5.2]", tk.Value)
		}
	}
	if strings.Join(got, " ") != "· 1 · 2 · 3 · 4 · 5" {
		t.Errorf("ticks %q, want · 1 · 2 · 3 · 4 · 5 (0.5 is a minor tick)", strings.Join(got, " "))
	}
}

func TestChartSVG_AThreeMinuteRunIsLabelledInSeconds(t *testing.T) {
	s := Series{Kind: "slab", Subject: "kmalloc-64", Unit: "objects"}
	for i := range 19 { // 19 points 10 s apart: 3 minutes
		s.Points = append(s.Points, Point{At: start.Add(time.Duration(i) * 10 * time.Second), Value: float64(100 + i)})
	}

	svg, err := chartSVG("x", timeline{start: start}, []Series{s}, nil)

	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), "seconds since start") || strings.Contains(string(svg), "hours since start") {
		t.Errorf("the x axis is not labelled in seconds")
	}
}
