package trend

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestSizeCheck_HandComputedFigures(t *testing.T) {
	// 16 points at 10 min; the later half starts at the first point at or
	// after the middle (4500 s), index 8. Ends: an hour is 6 points, at
	// most a quarter of 16 = 4, so the whole window's ends are 4 points;
	// the later half's (8 points) are 3 (an hour is 6, a quarter is 2, at
	// least 3).
	ts := soak(16)
	tests := []struct {
		name                        string
		v                           []float64
		growth, later, noise, slack float64
	}{
		{
			// Increments 1, −1, 1, 9 four times less the last 9: twelve of
			// magnitude 1 and three of 9, median 1, so σ = 1.4826. Ends
			// 0, 1, 0, 1 (median 0.5) and 30, 31, 30, 31 (30.5): growth 30.
			// Later half 20, 21, 20 (median 20) to 31, 30, 31 (31): 11.
			name:   "a staircase under alternating noise",
			v:      []float64{0, 1, 0, 1, 10, 11, 10, 11, 20, 21, 20, 21, 30, 31, 30, 31},
			growth: 30, later: 11, noise: 1.4826,
		},
		{
			// Increments 0 but for three of 5: the median is 0, so σ is
			// the mean absolute increment, 15/15 = 1. Ends 0 and 15:
			// growth 15; later half 10, 10, 10 to 15, 15, 15: 5.
			name:   "an integer count that mostly does not move",
			v:      []float64{0, 0, 0, 0, 5, 5, 5, 5, 10, 10, 10, 10, 15, 15, 15, 15},
			growth: 15, later: 5, noise: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := sizeCheck(ts, tc.v, 8, make([]float64, len(tc.v)))
			if math.Abs(r.growth-tc.growth) > 1e-12 || math.Abs(r.later-tc.later) > 1e-12 || math.Abs(r.noise-tc.noise) > 1e-12 {
				t.Errorf("size = %+v, want growth %v, later %v, noise %v", r, tc.growth, tc.later, tc.noise)
			}
		})
	}
}

func TestSizeSays_EachConditionCanVeto(t *testing.T) {
	// A floor of 1 MiB and 16 KiB/h over 11 h (176 KiB, below the floor).
	opts := DefaultOptions()
	opts.MinGrowth, opts.MinSlopePerHour = 1<<20, 16<<10
	base := Result{SizeGrowth: 20 << 20, SizeNoise: 1 << 20, SizeLaterGrowth: 8 << 20, Drawdown: 2 << 20,
		StepsUp: 4, StepsDown: 1, Monotonic: 0.5, SlopePerHour: 2 << 20, SpanHours: 11, PersistSpanHours: 5.5}
	checkSays(t, "sizeSays", sizeSays, base, opts, []saysCase{
		{"20 floors, 20 σ, 10 % given back, later half 8 σ: a leak", func(*Result, *Options) {}, true},
		{"exactly 2 floors and 12 σ is enough", func(r *Result, _ *Options) {
			r.SizeGrowth, r.SizeNoise, r.Drawdown, r.SizeLaterGrowth = 2<<20, (2<<20)/12.0, 0, 1<<20
		}, true},
		{"below 2 floors is not", func(r *Result, _ *Options) {
			r.SizeGrowth, r.SizeNoise, r.Drawdown, r.SizeLaterGrowth = 2<<20-1, (2<<20)/24.0, 0, 1<<20
		}, false},
		{"below 12 σ of its increments is not", func(r *Result, _ *Options) { r.SizeNoise = (20 << 20) / 11.9 }, false},
		{"giving back more than 30 % is not", func(r *Result, _ *Options) { r.Drawdown = 6<<20 + 1 }, false},
		{"one large step down for three up is not", func(r *Result, _ *Options) { r.StepsUp = 3 }, false},
		{"a later half below the floor is not", func(r *Result, _ *Options) { r.SizeLaterGrowth = 1<<20 - 1 }, false},
		{"a later half below 3 σ is not", func(r *Result, _ *Options) { r.SizeNoise, r.SizeLaterGrowth = 1<<20, 3<<20-1 }, false},
		{"a flat later half after three events is, when (6/11)³ = 0.162 of tails are so quiet", flatAfter(3, 0, 20<<20, 6), true},
		{"a flat later half after three events is not, when only (2/11)³ = 0.006 are", flatAfter(3, 0, 20<<20, 2), false},
		{"a flat later half after three events is, when (3/11)³ = 0.020 of tails are so quiet (at least 1 %)", flatAfter(3, 0, 20<<20, 3), true},
		{"a flat later half after two events is not", flatAfter(2, 0, 20<<20, 10), false},
		{"a flat later half after three events up and one down is not", flatAfter(3, 1, 20<<20, 6), false},
		{"a flat later half after events of less than half the growth is not", flatAfter(3, 0, 10<<20-1, 6), false},
		{"tau below MinMonotonic is not", func(r *Result, _ *Options) { r.Monotonic = 0.34 }, false},
		{"a falling slope is not", func(r *Result, _ *Options) { r.SlopePerHour = -1 }, false},
		{"without shape checks it is off", func(_ *Result, o *Options) { o.ShapeChecks = false }, false},
		{"early judging ignores it", func(_ *Result, o *Options) { o.WholeWindowOnly = true }, false},
		{"with no growth floor it is off", func(_ *Result, o *Options) { o.MinGrowth = 0 }, false},
	})
}

// flatAfter edits a Result to a later half that did not grow after up
// events up and down events down, of height in all, the last lastH hours in.
func flatAfter(up, down int, height, lastH float64) func(*Result, *Options) {
	return func(r *Result, _ *Options) {
		r.SizeLaterGrowth, r.SizeEvents, r.SizeEventsDown, r.SizeEventsHeight, r.SizeLastEventHours = 0, up, down, height, lastH
	}
}

// saysCase is one edit of a Result or its Options and what a check must
// say of it.
type saysCase struct {
	name string
	edit func(*Result, *Options)
	want bool
}

// checkSays runs says on base and opts as each case edits them.
func checkSays(t *testing.T, name string, says func(*Result, Options) bool, base Result, opts Options, cases []saysCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, o := base, opts
			tc.edit(&r, &o)
			if got := says(&r, o); got != tc.want {
				t.Errorf("%s = %v, want %v (%+v)", name, got, tc.want, r)
			}
		})
	}
}

// twoBursts is 12 h at 10 min on 64 MiB: two allocations of 16 MiB, at
// 4 h and at 9 h, under Gaussian noise of σ = 100 KiB (a fixed seed).
func twoBursts() (ts, v []float64) { return allocations(2, 16<<20, 24, 54) }

func TestAnalyze_TwoLargeBurstsAreALeakBySizeOverTheAR1Veto(t *testing.T) {
	ts, v := twoBursts()
	off := shapeOptions()
	r, err := Analyze(ts, v, off)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != OK {
		t.Fatalf("without shape checks: %s (%s), want ok: the veto the size check overrules", r.Verdict, r.Reason)
	}
	on := off
	on.ShapeChecks = true
	r, err = Analyze(ts, v, on)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Leak || r.Shape != "size" {
		t.Fatalf("with shape checks: %s by %q (%s), want leak by size", r.Verdict, r.Shape, r.Reason)
	}
	// Both ends are 6 points (an hour), all on one level: 32 MiB apart
	// less the noise's medians, within ±300 KiB; the later half (from
	// sample 39) holds the second burst, 16 MiB.
	if math.Abs(r.SizeGrowth-(32<<20)) > 300<<10 || math.Abs(r.SizeLaterGrowth-(16<<20)) > 300<<10 {
		t.Errorf("growth %v, later %v; want 32 MiB and 16 MiB ± 300 KiB", r.SizeGrowth, r.SizeLaterGrowth)
	}
	const want = "grew 32 MiB over the window, 32× the 1 MiB floor (slope 3.16 MiB/h, p=8.6e-07, tau=0.64); " +
		"vetoed by the floor at the slope's lower bound under the AR(1) model (16.7 KiB/h over 11 h, below 1 MiB); " +
		"overruled by the size check: last hour's median 32 MiB above the first's (258× the increments' robust σ 127 KiB, need 2× the floor and 12 σ), " +
		"gave back at most 437 KiB (1 %, at most 30 %), 3 steps up and 0 down, later half up 15.9 MiB (128.5 σ, need the floor and 3 σ) " +
		"or a counting process not shown to stop (2 events of 5 σ up and 0 down, 32 MiB in all, the last after 8 h of 11 h: p=0.529 of so quiet a tail, " +
		"need 3 events, none down, half the growth, p ≥ 0.01)"
	if r.Reason != want {
		t.Errorf("reason\n got %s\nwant %s", r.Reason, want)
	}
}

// bursts is 12 h at 10 min on 64 MiB: an allocation of 8 MiB at each of
// the samples at, under Gaussian noise of σ = 100 KiB (a fixed seed).
func bursts(at ...int) (ts, v []float64) { return allocations(3, 8<<20, at...) }

// allocations is 12 h at 10 min on 64 MiB under Gaussian noise of σ =
// 100 KiB (stream picks a fixed seed): an allocation of size bytes at each
// of the samples at, kept to the end.
func allocations(stream uint64, size float64, at ...int) (ts, v []float64) {
	rng := rand.New(rand.NewPCG(16, stream))
	ts, v = soak(73), make([]float64, 73)
	level := 0.0
	for i := range ts {
		for _, a := range at {
			if i == a {
				level += size
			}
		}
		v[i] = 64<<20 + level + 100*1024*rng.NormFloat64()
	}
	return ts, v
}

func TestAnalyze_AQuietLaterHalfIsAStopOnlyWhenImprobableForTheEventsBefore(t *testing.T) {
	// Three bursts, none in the later half (from sample 39): the later
	// half does not grow, so only the counting process can persist. The
	// judged window starts at sample 6 and spans 11 h; the last event's
	// time t_K gives p = (t_K/11)^3.
	tests := []struct {
		name  string
		at    []int
		want  Verdict
		lastH float64
		p     float64
	}{
		// Last at sample 38: 32 samples = 5.333 h; (5.333/11)^3 = 0.1140.
		{"events spread over the first half keep counting", []int{16, 27, 38}, Leak, 5.333, 0.1140},
		// Last at sample 12: 1 h; (1/11)^3 = 1/1331 = 7.513e-4.
		{"events all in the first hour then eleven quiet hours have stopped", []int{8, 10, 12}, OK, 1, 7.513e-4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts, v := bursts(tc.at...)
			o := shapeOptions()
			o.ShapeChecks = true
			r, err := Analyze(ts, v, o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != tc.want || r.SizeEvents != 3 || r.SizeEventsDown != 0 || math.Abs(r.SizeLastEventHours-tc.lastH) > 1e-3 ||
				math.Abs(sizeQuietP(&r)-tc.p)/tc.p > 1e-3 {
				t.Errorf("%s with %d events up, %d down, the last at %.3f h, quiet p %.4g; want %s, 3 events, none down, the last at %.3f h, p %.4g (%s)",
					r.Verdict, r.SizeEvents, r.SizeEventsDown, r.SizeLastEventHours, sizeQuietP(&r), tc.want, tc.lastH, tc.p, r.Reason)
			}
			if tc.want == Leak && r.Shape != "size" {
				t.Errorf("leak by %q, want by size (%s)", r.Shape, r.Reason)
			}
		})
	}
}

func TestAnalyze_OneStepThenFlatIsNoCountingProcess(t *testing.T) {
	// One 8 MiB step at sample 20 (benign: a cache filled once): one event,
	// so the quiet later half is not excused by a counting process.
	ts, v := bursts(20)
	o := shapeOptions()
	o.ShapeChecks = true
	r, err := Analyze(ts, v, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != OK || r.SizeEvents != 1 || sizeCounting(&r) {
		t.Errorf("%s with %d events (counting %v), want ok with 1 event (%s)", r.Verdict, r.SizeEvents, sizeCounting(&r), r.Reason)
	}
}

func TestHourMedianDrawdown_HandComputed(t *testing.T) {
	// 16 points at 10 min: an hour is 6 points, at most a quarter of 16,
	// so each hour median stands on 4 points.
	ts := soak(16)
	tests := []struct {
		name string
		v    []float64
		want float64
	}{
		// Medians of 4 rise to 10 (points 4–7), fall to 4 (points 8–11),
		// rise to 12: the largest fall from the running maximum is 6.
		{"a level that gave back an hour", []float64{0, 0, 0, 0, 10, 10, 10, 10, 4, 4, 4, 4, 12, 12, 12, 12}, 6},
		// Every four points holding −50 hold three tens: the median of
		// (−50, 10, 10, 10) is 10, so the level never falls.
		{"a single low point is not a fall", []float64{0, 0, 0, 0, 10, 10, 10, 10, 10, -50, 10, 10, 10, 10, 10, 10}, 0},
		// A staircase only rises.
		{"a staircase", []float64{0, 0, 0, 0, 5, 5, 5, 5, 10, 10, 10, 10, 15, 15, 15, 15}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hourMedianDrawdown(ts, tc.v, make([]float64, len(tc.v))); got != tc.want {
				t.Errorf("drawdown %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBudgetSays_EachConditionCanVeto(t *testing.T) {
	opts := DefaultOptions()
	opts.MinGrowth, opts.MinSlopePerHour, opts.RetainedBudgetFloors, opts.ShapeChecks = 1<<20, 16<<10, 32, true
	base := Result{SizeGrowth: 40 << 20, SizeRetainedDrawdown: 4 << 20, SizeNoise: 1 << 20, SlopePerHour: 1 << 20, SpanHours: 11}
	checkSays(t, "budgetSays", budgetSays, base, opts, []saysCase{
		{"40 MiB kept, 10 % given back, over a 32 MiB budget: a leak", func(*Result, *Options) {}, true},
		{"exactly the budget, exactly 30 % given back, is enough", func(r *Result, _ *Options) {
			r.SizeGrowth, r.SizeRetainedDrawdown = 32<<20, 0.3*(32<<20)
		}, true},
		{"below the budget is not", func(r *Result, _ *Options) { r.SizeGrowth = 32<<20 - 1 }, false},
		{"giving back more than 30 % is not", func(r *Result, _ *Options) { r.SizeRetainedDrawdown = 12<<20 + 1 }, false},
		{"a falling slope is not", func(r *Result, _ *Options) { r.SlopePerHour = -1 }, false},
		{"a budget under one floor still needs the floor", func(r *Result, o *Options) {
			o.RetainedBudgetFloors, r.SizeGrowth, r.SizeRetainedDrawdown = 0.5, 1<<20-1, 0
		}, false},
		{"a budget of 0 is off", func(_ *Result, o *Options) { o.RetainedBudgetFloors = 0 }, false},
		{"with no growth floor it is off", func(_ *Result, o *Options) { o.MinGrowth = 0 }, false},
		{"without shape checks it is off", func(_ *Result, o *Options) { o.ShapeChecks = false }, false},
		{"early judging ignores it", func(_ *Result, o *Options) { o.WholeWindowOnly = true }, false},
		{"the slope floor over the window counts too: 32 × 128 KiB/h × 11 h = 44 MiB", func(_ *Result, o *Options) {
			o.MinSlopePerHour = 128 << 10
		}, false},
	})
}

// oneStep is 12 h at 10 min on 64 MiB: one allocation of size bytes at
// sample 30 (4 h after the warm-up), under Gaussian noise of σ = 100 KiB.
func oneStep(size float64) (ts, v []float64) { return allocations(4, size, 30) }

func TestAnalyze_OneStepPastTheRetainedBudgetIsALeakWhateverItsShape(t *testing.T) {
	o := shapeOptions()
	o.ShapeChecks, o.RetainedBudgetFloors = true, 32
	// 20 MiB once: a benign step's shape (a pool filled once), under the
	// budget, so ok.
	ts, v := oneStep(20 << 20)
	r, err := Analyze(ts, v, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != OK {
		t.Errorf("a 20 MiB step under a 32 MiB budget: %s by %q, want ok (%s)", r.Verdict, r.Shape, r.Reason)
	}
	// The ok reason of a growth of 4 floors or more says the budget was
	// not reached, with its figures.
	const tail = "; retained-growth budget: last hour's median 20 MiB above the first's (budget 32 floors, 32 MiB), the hour medians gave back at most 147 KiB (1 %, at most 30 %)"
	if !strings.HasSuffix(r.Reason, tail) {
		t.Errorf("ok reason\n got %s\nwant it to end %s", r.Reason, tail)
	}
	// 40 MiB once, kept for 8 h: past the budget. Both ends are an hour of
	// one level, so the growth is 40 MiB within the noise's medians.
	ts, v = oneStep(40 << 20)
	r, err = Analyze(ts, v, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Leak || r.Shape != "budget" || math.Abs(r.SizeGrowth-(40<<20)) > 300<<10 {
		t.Fatalf("a 40 MiB step over a 32 MiB budget: %s by %q, growth %v (%s), want a leak by the budget, 40 MiB ± 300 KiB", r.Verdict, r.Shape, r.SizeGrowth, r.Reason)
	}
	const want = "grew 40 MiB over the window, 40× the 1 MiB floor (slope 241 KiB/h, p=0.0375, tau=0.48); " +
		"vetoed by the trend test (Mann–Kendall p=0.0375 > 0.01, variance ×7.52 for serial correlation); " +
		"the AR(1) check (p=0.486 > 0.2 under a bias-corrected AR(1) model, variance ×67.0 on the whole window); " +
		"the floor at the slope's lower bound under the AR(1) model (-14 KiB/h over 11 h, below 1 MiB); " +
		"the later-half check (slope 5.94 KiB/h, at most 25.9 KiB/h, p=0.277, vs earlier 146 KiB/h); " +
		"overruled by the retained-growth budget: last hour's median 40 MiB above the first's (budget 32 floors, 32 MiB), " +
		"the hour medians gave back at most 147 KiB (0 %, at most 30 %)"
	if r.Reason != want {
		t.Errorf("reason\n got %s\nwant %s", r.Reason, want)
	}
	o.RetainedBudgetFloors = 0
	if r, err = Analyze(ts, v, o); err != nil || r.Verdict != OK {
		t.Errorf("with the budget off: %s (%v), want ok: one step is a benign step's shape to every other check (%s)", r.Verdict, err, r.Reason)
	}
}

func TestSelectMedian_IsTheSortedMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 5))
	for n := 1; n <= 40; n++ {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = math.Round(10 * rng.NormFloat64()) // ties too
		}
		if got, want := selectMedian(xs, make([]float64, n)), medianOf(xs, make([]float64, n)); got != want {
			t.Errorf("n=%d: selectMedian %v, sorted median %v (%v)", n, got, want, xs)
		}
	}
}

func TestHourMedianDrawdown_AtOneSecondStepsASixthOfAnHour(t *testing.T) {
	// 12 h at 1 s: 3600 points an hour, stretches every 600. A level of 10
	// that falls to 4 for 2 h (7200 points, more than any stretch) in the
	// middle gives back 6; a single low second does not move a median.
	n := 12 * 3600
	ts, v := make([]float64, n), make([]float64, n)
	for i := range ts {
		ts[i] = float64(i)
		v[i] = 10
		if i >= 5*3600 && i < 7*3600 {
			v[i] = 4
		}
	}
	v[9*3600] = -50
	if got := hourMedianDrawdown(ts, v, make([]float64, n)); got != 6 {
		t.Errorf("drawdown %v, want 6", got)
	}
}

func TestBudgetText_NamesTheBudgetOfTheLargerFloor(t *testing.T) {
	// 32 floors of 1 MiB, or of 128 KiB/h over 11 h (1.375 MiB): the
	// slope floor binds, so the budget is 44 MiB.
	opts := DefaultOptions()
	opts.MinGrowth, opts.MinSlopePerHour = 1<<20, 128<<10
	r := Result{SizeGrowth: 40 << 20, SizeRetainedDrawdown: 4 << 20, SpanHours: 11}
	const want = "retained-growth budget: last hour's median 40 MiB above the first's (budget 32 floors, 44 MiB), " +
		"the hour medians gave back at most 4 MiB (10 %, at most 30 %)"
	if got := budgetText(&r, opts, units{bytes: true}); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
