package compare

import (
	"errors"
	"math"
	"testing"
	"time"
)

const mib = 1 << 20

// linear is a series sampled every 10 min for hours, value = start + perHour·t.
func linear(kind, subject string, hours int, start, perHour float64) Series {
	s := Series{Kind: kind, Subject: subject, Unit: "bytes"}
	for i := 0; i <= hours*6; i++ {
		t := float64(i * 600)
		s.Seconds = append(s.Seconds, t)
		s.Values = append(s.Values, start+perHour*t/3600)
	}
	return s
}

// plateau is a flat series at level with ±wiggle alternating every sample.
func plateau(kind, subject string, hours int, lvl, wiggle float64) Series {
	s := Series{Kind: kind, Subject: subject, Unit: "bytes"}
	for i := 0; i <= hours*6; i++ {
		s.Seconds = append(s.Seconds, float64(i*600))
		w := wiggle
		if i%2 == 1 {
			w = -wiggle
		}
		s.Values = append(s.Values, lvl+w)
	}
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestCompare_ASteeperExactSlopeIsARegressionWithTheReleaseManagersMessage(t *testing.T) {
	a := linear("slab", "kmalloc-512", 4, 1e6, 0.02*mib)
	b := linear("slab", "kmalloc-512", 4, 1e6, 3.1*mib)

	r, err := Compare(a, b, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}

	// Exact lines: every pairwise slope is the line's, so Sen's interval
	// is a point and the difference is known exactly.
	if r.Verdict != Regressed || r.SlopeVerdict != Regressed || !r.Fails {
		t.Fatalf("verdict %s (slope %s, fails %v), want regressed failing", r.Verdict, r.SlopeVerdict, r.Fails)
	}
	if want := 3.08 * mib; !near(r.SlopeDiffPerHour, want) || !near(r.SlopeDiffLowPerHour, want) || !near(r.SlopeDiffHighPerHour, want) {
		t.Errorf("slope difference %v [%v, %v], want exactly %v", r.SlopeDiffPerHour, r.SlopeDiffLowPerHour, r.SlopeDiffHighPerHour, want)
	}
	// Levels at hour 4: the mean of t = 13200, 13800, 14400 s, i.e. the
	// value at 13800 s; the difference is 3.08 MiB/h × 13800/3600 h.
	if want := 3.08 * mib * 13800 / 3600; !near(r.LevelDiff, want) || r.AtHour != 4 {
		t.Errorf("level difference %v at %v h, want %v at 4 h", r.LevelDiff, r.AtHour, want)
	}
	if got, want := r.Message("release r41"), "kmalloc-512 grows 3.1 MiB/h, release r41 grew 20.5 KiB/h on the same rig"; got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
}

func TestCompare_TheSameLineInBothRunsIsSame(t *testing.T) {
	a := linear("slab", "dentry", 4, 5e6, 1024)
	b := linear("slab", "dentry", 4, 5e6, 1024)

	r, err := Compare(a, b, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}

	if r.Verdict != Same || r.SlopeDiffPerHour != 0 || r.LevelDiff != 0 || r.MoreSoak != 0 || r.Fails {
		t.Errorf("got %s, slope diff %v, level diff %v, more %v, fails %v; want same with zero differences",
			r.Verdict, r.SlopeDiffPerHour, r.LevelDiff, r.MoreSoak, r.Fails)
	}
}

func TestCompare_APoolSaturatingHigherIsALevelRegression(t *testing.T) {
	a := plateau("slab", "ath11k_rx", 4, 1*mib, 1000)
	b := plateau("slab", "ath11k_rx", 4, 3*mib, 1000)

	r, err := Compare(a, b, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}

	if r.Verdict != Regressed || r.SlopeVerdict != Same || r.LevelVerdict != Regressed {
		t.Fatalf("got %s (slope %s, level %s), want a level regression with the same slope", r.Verdict, r.SlopeVerdict, r.LevelVerdict)
	}
	// Both windows are samples 22..24: +w −w +w, mean level + w/3.
	if want := 2.0 * mib; !near(r.LevelDiff, want) {
		t.Errorf("level difference %v, want %v", r.LevelDiff, want)
	}
	if got, want := r.Message("release r41"), "ath11k_rx sits at 3.0 MiB after 4 h, release r41 sat at 1.0 MiB on the same rig"; got != want {
		t.Errorf("message\n got %q\nwant %q", got, want)
	}
}

func TestCompare_MemAvailableFallingFasterIsARegression(t *testing.T) {
	a := linear("meminfo", "MemAvailable", 4, 100*mib, 0)
	b := linear("meminfo", "MemAvailable", 4, 100*mib, -2*mib)
	a.Decreasing, b.Decreasing = true, true

	r, err := Compare(a, b, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}

	if r.Verdict != Regressed || !near(r.SlopeDiffPerHour, 2*mib) {
		t.Errorf("got %s with slope difference %v, want regressed by +2 MiB/h", r.Verdict, r.SlopeDiffPerHour)
	}
}

func TestCompare_UnderAWarnPolicyARegressionDoesNotFail(t *testing.T) {
	pol := DefaultPolicy()
	pol.Regression = ActionWarn

	r, err := Compare(linear("slab", "x", 4, 0, 0), linear("slab", "x", 4, 0, mib), pol)
	if err != nil {
		t.Fatal(err)
	}

	if r.Verdict != Regressed || r.Fails {
		t.Errorf("got %s fails=%v, want regressed, not failing", r.Verdict, r.Fails)
	}
}

func TestCompare_TooShortRunsAreUnknownAndSayHowLongToSoak(t *testing.T) {
	// 10 points every 10 min span 1.5 h; 1 h warm-up + 12 points × 10 min = 3 h.
	a, b := Series{Kind: "slab", Subject: "x", Unit: "bytes"}, Series{Kind: "slab", Subject: "x", Unit: "bytes"}
	for i := range 10 {
		a.Seconds = append(a.Seconds, float64(i*600))
		a.Values = append(a.Values, 1)
		b.Seconds = append(b.Seconds, float64(i*600))
		b.Values = append(b.Values, float64(i))
	}

	r, err := Compare(a, b, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}

	if r.Verdict != Unknown || r.MoreSoak != 90*time.Minute {
		t.Errorf("got %s with %v more soak, want unknown with 1h30m", r.Verdict, r.MoreSoak)
	}
}

func TestCompare_BadSeriesIsAnErrorNamingTheRun(t *testing.T) {
	a := linear("slab", "x", 4, 0, 0)
	b := linear("slab", "x", 4, 0, 0)
	b.Values[3] = math.NaN()

	_, err := Compare(a, b, DefaultPolicy())

	if !errors.Is(err, ErrBadSeries) {
		t.Fatalf("got %v, want ErrBadSeries", err)
	}
	if got := err.Error(); got[:len("compare slab x: candidate:")] != "compare slab x: candidate:" {
		t.Errorf("error %q does not name the series and run", got)
	}
}

func TestCompare_RejectsABadPolicy(t *testing.T) {
	pol := DefaultPolicy()
	pol.Regression = "explode"
	if _, err := Compare(linear("slab", "x", 4, 0, 0), linear("slab", "x", 4, 0, 0), pol); err == nil {
		t.Fatal("a policy with regression=explode was accepted")
	}
}

func TestDecide_ReadsTheIntervalAgainstTheMinimumChange(t *testing.T) {
	for _, c := range []struct {
		name           string
		low, high, min float64
		want           Verdict
	}{
		{"wholly above the minimum", 11, 30, 10, Regressed},
		{"wholly below minus the minimum", -30, -11, 10, Improved},
		{"inside plus or minus the minimum", -10, 10, 10, Same},
		{"straddling the minimum", 5, 15, 10, Unknown},
		{"straddling minus the minimum", -15, 0, 10, Unknown},
		{"a zero minimum and a point on zero", 0, 0, 0, Same},
		{"a zero minimum and an interval above zero", 0.1, 1, 0, Regressed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := decide(c.low, c.high, c.min); got != c.want {
				t.Errorf("decide(%v, %v, %v) = %s, want %s", c.low, c.high, c.min, got, c.want)
			}
		})
	}
}

func TestCombine_EitherRegressionRegressesAndSameNeedsBoth(t *testing.T) {
	for _, c := range []struct {
		slope, level, want Verdict
	}{
		{Regressed, Same, Regressed},
		{Same, Regressed, Regressed},
		{Improved, Regressed, Regressed},
		{Improved, Same, Improved},
		{Same, Improved, Improved},
		{Improved, Unknown, Unknown},
		{Same, Same, Same},
		{Same, Unknown, Unknown},
		{Unknown, Same, Unknown},
	} {
		if got := combine(c.slope, c.level); got != c.want {
			t.Errorf("combine(%s, %s) = %s, want %s", c.slope, c.level, got, c.want)
		}
	}
}

func TestMoreHours_ScalesTheSpanUntilTheIntervalClearsTheThreshold(t *testing.T) {
	for _, c := range []struct {
		name                    string
		d, half, min, span, exp float64
		want                    float64
	}{
		// Slope: half 20 must shrink to |30−20| = 10: span × 2^(2/3) = 6.3496 h.
		{"a slope difference above the minimum", 30, 20, 20, 4, 2.0 / 3, 4*math.Pow(2, 2.0/3) - 4},
		// Same side: |5−20| = 15, half 30: 4 × 2^(2/3) − 4 again.
		{"a slope difference below the minimum", 5, 30, 20, 4, 2.0 / 3, 4*math.Pow(2, 2.0/3) - 4},
		// Level: half 2, target 1, SE ∝ span^-1/2: 4 × 4 − 4 = 12 h.
		{"a level difference", 3, 2, 2, 4, 2, 12},
		{"on the threshold it never decides", 20, 5, 20, 4, 2.0 / 3, MaxMoreSoak.Hours()},
		{"already narrow enough", 30, 5, 20, 4, 2.0 / 3, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := moreHours(c.d, c.half, c.min, c.span, c.exp); !near(got, c.want) {
				t.Errorf("moreHours = %v, want %v", got, c.want)
			}
		})
	}
}

func TestWindowStats_MeanAndAR1StandardError(t *testing.T) {
	for _, c := range []struct {
		name     string
		v        []float64
		mean, se float64
	}{
		// Deviations −2 0 2: lag-1 sum 0, r = 0, n_eff 3, s² = 4.
		{"uncorrelated", []float64{10, 12, 14}, 12, 2 / math.Sqrt(3)},
		// Deviations −1 −1 1 1: ss 4, lag 1, r 0.25, n_eff 2.4, s² 4/3.
		{"positively correlated", []float64{1, 1, 3, 3}, 2, math.Sqrt(4.0 / 3 / 2.4)},
		// Alternating: r < 0 is clamped to 0; s² = 4/3·... deviations ±1, ss 4, s² 4/3, n_eff 4.
		{"alternating", []float64{1, 3, 1, 3}, 2, math.Sqrt(4.0 / 3 / 4)},
		{"constant", []float64{5, 5, 5}, 5, 0},
		{"one point", []float64{7}, 7, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := windowStats(c.v)
			if !near(got.mean, c.mean) || !near(got.se, c.se) {
				t.Errorf("windowStats(%v) = mean %v se %v, want %v %v", c.v, got.mean, got.se, c.mean, c.se)
			}
		})
	}
}

func TestCompare_NoisyDifferenceNearTheMinimumIsUnknownWithMoreSoakFromItsInterval(t *testing.T) {
	// A fixed pseudo-random walk on top of a 20 KiB/h line; baseline flat.
	a := plateau("slab", "x", 6, mib, 0)
	b := linear("slab", "x", 6, mib, 20<<10)
	state := uint32(1)
	walk := 0.0
	for i := range b.Values {
		state = state*1664525 + 1013904223
		walk += (float64(state>>8)/float64(1<<24) - 0.5) * 8192
		b.Values[i] += walk
	}

	r, err := Compare(a, b, DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}

	if r.Verdict != Unknown || r.MoreSoak <= 0 {
		t.Fatalf("got %s with %v more soak (%s), want unknown with a positive soak", r.Verdict, r.MoreSoak, r.Reason)
	}
	half := (r.SlopeDiffHighPerHour - r.SlopeDiffLowPerHour) / 2
	want := hoursDuration(moreHours(r.SlopeDiffPerHour, half, 16<<10, 5, 2.0/3))
	if r.SlopeVerdict == Unknown && r.MoreSoak != want {
		t.Errorf("more soak %v, want %v from the slope interval over the 5 h judged span", r.MoreSoak, want)
	}
}

func TestDifference_PairsBySoakTimeOnTheSparserGrid(t *testing.T) {
	for _, c := range []struct {
		name       string
		a, b       Series
		wantT      []float64
		wantValues []float64
	}{
		{
			// Same density: the baseline's grid; B shifted to its own start.
			name:  "the baseline's grid, the candidate from its own first point",
			a:     Series{Seconds: []float64{0, 10, 20}, Values: []float64{0, 1, 2}},
			b:     Series{Seconds: []float64{5, 15, 25, 35}, Values: []float64{10, 10, 10, 10}},
			wantT: []float64{0, 10, 20}, wantValues: []float64{10, 9, 8},
		},
		{
			// B is sparser: A interpolated at 0, 10, 20 → 0, 2, 4.
			name:  "the sparser candidate's grid, the baseline interpolated",
			a:     Series{Seconds: []float64{0, 5, 10, 15, 20}, Values: []float64{0, 1, 2, 3, 4}},
			b:     Series{Seconds: []float64{0, 10, 20}, Values: []float64{1, 1, 1}},
			wantT: []float64{0, 10, 20}, wantValues: []float64{1, -1, -3},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := difference(c.a, c.b)
			if len(d.Seconds) != len(c.wantT) {
				t.Fatalf("%v %v, want %v %v", d.Seconds, d.Values, c.wantT, c.wantValues)
			}
			for i := range c.wantT {
				if d.Seconds[i] != c.wantT[i] || !near(d.Values[i], c.wantValues[i]) {
					t.Errorf("%v %v, want %v %v", d.Seconds, d.Values, c.wantT, c.wantValues)
					break
				}
			}
		})
	}
}

func TestMeanSE_AR1MeanOfConsecutivePoints(t *testing.T) {
	// n 3, ρ 0.5: 1/3·(1 + 2·(2/3·0.5 + 1/3·0.25)) = 0.61111.
	if got, want := meanSE(1, 0.5, 3), math.Sqrt(1.0/3*(1+2*(2.0/3*0.5+1.0/3*0.25))); !near(got, want) {
		t.Errorf("meanSE = %v, want %v", got, want)
	}
	// Uncorrelated: σ/√n.
	if got := meanSE(4, 0, 4); !near(got, 1) {
		t.Errorf("meanSE(4, 0, 4) = %v, want 1", got)
	}
}

func TestReason_GivesBothIntervalsWithTheirMinimums(t *testing.T) {
	r, err := Compare(linear("slab", "x", 4, mib, 0), linear("slab", "x", 4, mib, 0), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	want := "slope same: +0 B/h [+0 B/h, +0 B/h], minimum 16.0 KiB/h; level at 4 h same: +0 B [+0 B, +0 B], minimum 1.0 MiB"
	if r.Reason != want {
		t.Errorf("reason\n got %q\nwant %q", r.Reason, want)
	}
}

func BenchmarkCompare73Points(b *testing.B) {
	a := plateau("slab", "x", 12, mib, 1000)
	c := linear("slab", "x", 12, mib, 20<<10)
	pol := DefaultPolicy()
	for b.Loop() {
		if _, err := Compare(a, c, pol); err != nil {
			b.Fatal(err)
		}
	}
}
