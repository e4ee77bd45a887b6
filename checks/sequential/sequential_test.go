package sequential

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const mib = 1 << 20

// minutes returns n times one minute apart, in seconds.
func minutes(n int) []float64 {
	t := make([]float64, n)
	for i := range t {
		t[i] = float64(i) * 60
	}
	return t
}

func TestLookLevel_EpochsShareAlphaOverTheirLooks(t *testing.T) {
	const alpha = 0.048
	cases := []struct {
		look int
		want float64
	}{
		{1, alpha / 2},  // epoch 0: 1 look, share 1/(1·2)
		{2, alpha / 12}, // epoch 1: 2 looks, share 1/(2·3)
		{3, alpha / 12},
		{4, alpha / 48}, // epoch 2: 4 looks, share 1/(3·4)
		{7, alpha / 48},
		{8, alpha / 160}, // epoch 3: 8 looks, share 1/(4·5)
	}
	for _, c := range cases {
		if got := lookLevel(alpha, c.look); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("lookLevel(%v, %d) = %v, want %v", alpha, c.look, got, c.want)
		}
	}
}

func TestLookLevel_SumsToAlphaTimesOneMinusOneOverEpochs(t *testing.T) {
	// Looks 1..2^J−1 fill epochs 0..J−1: Σ 1/((j+1)(j+2)) = 1 − 1/(J+1).
	const alpha, epochs = 0.01, 10
	sum := 0.0
	for k := 1; k < 1<<epochs; k++ {
		sum += lookLevel(alpha, k)
	}
	if want := alpha * (1 - 1.0/(epochs+1)); math.Abs(sum-want) > 1e-12 {
		t.Fatalf("sum of levels = %v, want %v", sum, want)
	}
}

func TestFitLine_HandComputedSlopeResidualsAndLagOneCorrelation(t *testing.T) {
	// (0,1) (1,3) (2,2) (3,5): x̄ 1.5, ȳ 2.75, Sxx 5, Sxy 5.5, slope 1.1,
	// intercept 1.1, residuals −0.1 0.8 −1.3 0.6, SSE 2.7,
	// lag-1 products −0.08 −1.04 −0.78 = −1.9, r1 = −1.9/2.7.
	var f fit
	for i, y := range []float64{1, 3, 2, 5} {
		f.add(float64(i), y)
	}
	b, sxx, sse, r1, ok := f.line()
	if !ok {
		t.Fatal("line() not ok on four points")
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"slope", b, 1.1}, {"Sxx", sxx, 5}, {"SSE", sse, 2.7}, {"r1", r1, -1.9 / 2.7}} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestPrefixHalves_SlopesBeforeAndFromTheMidpoint(t *testing.T) {
	// Slope 4 up to x = 1, then 1: y = 4x, then 4 + (x − 1).
	var p prefix
	for i := 0; i <= 20; i++ {
		x := float64(i) / 10
		y := 4 * x
		if x > 1 {
			y = 4 + (x - 1)
		}
		p.add(x, y)
	}
	early, late, ok := p.halves(1.05)
	if !ok || math.Abs(early-4) > 1e-9 || math.Abs(late-1) > 1e-9 {
		t.Fatalf("halves(1.05) = %v, %v, %v; want 4, 1, true", early, late, ok)
	}
}

func TestMonitor_StraightLineAboveTheFloorsStopsAtTheFirstLook(t *testing.T) {
	// 1 MiB/h from t = 0, one point a minute. Warm-up ends at 3600 s; the
	// first look needs 12 points over 20 min: the point at 4800 s.
	times := minutes(200)
	values := make([]float64, len(times))
	for i, x := range times {
		values[i] = 64*mib + mib*x/3600
	}
	d, err := Replay(times, values, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if !d.Stop || d.At != 4800 || d.Points != 21 || math.Abs(d.SlopePerHour-mib) > 1e-3 {
		t.Fatalf("got %+v, want a stop at 4800 s after 21 points at 1 MiB/h", d)
	}
	// The planned soak holds (11 h − 20 min)/10 min + 1 = 65 looks, each
	// tested at 0.9 × 0.005/300 / 65 = 2.31e-7.
	want := "stopped at 1 h 20 min: grows 1.0 MiB/h (lower bound 1.0 MiB/h); sequential test crossed its bound after 20 min of judged points: p 0 ≤ 2.3e-07"
	if d.Reason != want || math.Abs(d.Bound-0.9*DefaultOptions().Alpha/65) > 1e-20 {
		t.Fatalf("reason %q (bound %v), want %q at bound 0.9·Alpha/65", d.Reason, d.Bound, want)
	}
}

func TestMonitor_FlatSeriesNeverStops(t *testing.T) {
	times := minutes(300)
	values := make([]float64, len(times))
	for i := range values {
		values[i] = 64 * mib
	}
	d, err := Replay(times, values, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if d.Stop || d.P != 1 {
		t.Fatalf("got %+v, want no stop with p 1", d)
	}
}

func TestMonitor_SignificantButTinyGrowthNeverStops(t *testing.T) {
	// 8 KiB/h: a perfect line, but under the 16 KiB/h floor.
	times := minutes(300)
	values := make([]float64, len(times))
	for i, x := range times {
		values[i] = 64*mib + 8*1024*x/3600
	}
	d, err := Replay(times, values, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := "significant, but the slope's lower bound 8.0 KiB/h is below the 16.0 KiB/h floor"
	if d.Stop || d.Reason != want {
		t.Fatalf("got stop %v, reason %q; want no stop, %q", d.Stop, d.Reason, want)
	}
}

func TestMonitor_SlowingRiseIsHeldBackByPersistence(t *testing.T) {
	// 4 MiB/h for the first 40 min, then 1 MiB/h: at the first look
	// (80 min) the run's halves are 0–40 min (4 MiB/h) and 40–80 min (1 MiB/h).
	times := minutes(81)
	values := make([]float64, len(times))
	for i, x := range times {
		h := x / 3600
		values[i] = 64*mib + mib*(4*math.Min(h, 2.0/3)+math.Max(0, h-2.0/3))
	}
	d, err := Replay(times, values, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := "slowing down: the later half of the run grows 1.0 MiB/h, under 70 % of the earlier half's 4.0 MiB/h"
	if d.Stop || d.Reason != want {
		t.Fatalf("got stop %v, reason %q; want no stop, %q", d.Stop, d.Reason, want)
	}
}

func TestMonitor_RiseAfterADropIsHeldBackByTheDrawdown(t *testing.T) {
	// A saw-tooth's reset: 2 MiB/h, dropping by 3 MiB at 30 min.
	times := minutes(81)
	values := make([]float64, len(times))
	for i, x := range times {
		values[i] = 64*mib + 2*mib*x/3600
		if x >= 1800 {
			values[i] -= 3 * mib
		}
	}
	opts := DefaultOptions()
	opts.PersistFraction = 0 // only the drawdown guard
	d, err := Replay(times, values, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Judged window 60–80 min grows 2 MiB/h × 20 min = 0.67 MiB; 60 % of it
	// is 0.4 MiB, and a straight line has no residual noise.
	want := "fell back by 3.0 MiB since the run started, more than 60 % of its growth plus noise (409.6 KiB)"
	if d.Stop || d.Reason != want {
		t.Fatalf("got stop %v, reason %q; want no stop, %q", d.Stop, d.Reason, want)
	}
}

func TestMonitor_StopIsStickyAndBadPointsAreRejected(t *testing.T) {
	m, err := NewMonitor(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Add(0, math.NaN()); !errors.Is(err, ErrPoint) {
		t.Fatalf("NaN value: err %v, want ErrPoint", err)
	}
	var stop Decision
	for i := 0; i <= 80; i++ {
		d, err := m.Add(float64(i*60), 64*mib+mib*float64(i)/60)
		if err != nil {
			t.Fatal(err)
		}
		if d.Stop && !stop.Stop {
			stop = d
		}
	}
	if !stop.Stop {
		t.Fatal("a straight 1 MiB/h line never stopped")
	}
	if _, err := m.Add(80*60, 0); err != nil {
		t.Fatalf("after a stop Add must return the stop, got error %v", err)
	}
	d, _ := m.Add(81*60, 0)
	if d != stop {
		t.Fatalf("after the stop Add returned %+v, want the stop %+v", d, stop)
	}
	m2, _ := NewMonitor(DefaultOptions())
	m2.Add(60, 1)
	if _, err := m2.Add(60, 2); !errors.Is(err, ErrPoint) {
		t.Fatalf("repeated time: err %v, want ErrPoint", err)
	}
}

func TestReplay_MismatchedLengthsAndBadOptionsAreErrors(t *testing.T) {
	if _, err := Replay([]float64{0, 1}, []float64{1}, DefaultOptions()); err == nil {
		t.Error("2 times, 1 value: want an error")
	}
	bad := DefaultOptions()
	bad.Alpha = 0
	if _, err := Replay(nil, nil, bad); !errors.Is(err, ErrOptions) {
		t.Errorf("Alpha 0: err %v, want ErrOptions", err)
	}
}

// ar1 is a stationary AR(1) path with marginal standard deviation sd.
func ar1(rng *rand.Rand, n int, phi, sd float64) []float64 {
	out := make([]float64, n)
	x := rng.NormFloat64() * sd
	for i := range out {
		out[i] = x
		x = phi*x + rng.NormFloat64()*sd*math.Sqrt(1-phi*phi)
	}
	return out
}

func TestMonitor_CleanCorrelatedNoiseStopsAtMostAlphaOfSeries(t *testing.T) {
	// Alpha 1 % per series: 400 clean 12 h series at 1 min under AR(1)
	// noise stop at most 4 on average; allow the binomial's 99.9 % quantile
	// (12). Clean series have no trend, so any stop is a false alarm.
	opts := DefaultOptions()
	opts.Alpha = 0.01
	times := minutes(721)
	for _, phi := range []float64{0.5, 0.9, 0.99} {
		rng := rand.New(rand.NewPCG(7, uint64(phi*100)))
		stops := 0
		for range 400 {
			v := ar1(rng, len(times), phi, mib)
			d, err := Replay(times, v, opts)
			if err != nil {
				t.Fatal(err)
			}
			if d.Stop {
				stops++
			}
		}
		if stops > 12 {
			t.Errorf("φ %.2f: %d of 400 clean series stopped, want at most 12 (Alpha 1 %%)", phi, stops)
		}
	}
}

func TestMonitor_LeakUnderLowNoiseStopsWithinFourHoursOfWarmup(t *testing.T) {
	// Leaks growing 2–20 MiB over 12 h under AR(1) noise (φ 0.7 at 1 min)
	// of 2 % of their growth: every one stops, within 4 h after warm-up
	// (docs/detection.md has the median, about 2 h at the policy's defaults).
	times := minutes(721)
	rng := rand.New(rand.NewPCG(8, 1))
	for k := range 100 {
		g := 2*mib + rng.Float64()*18*mib
		e := ar1(rng, len(times), 0.7, 0.02*g)
		v := make([]float64, len(times))
		for i, x := range times {
			v[i] = 64*mib + g*x/times[len(times)-1] + e[i]
		}
		d, err := Replay(times, v, DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if !d.Stop || d.At > 5*3600 {
			t.Fatalf("leak %d (%.1f MiB over 12 h): %+v, want a stop by 5 h", k, g/mib, d)
		}
	}
}

func TestMonitor_LooksFallOnTheLookEveryGridAndSpendAlphaOnlyThere(t *testing.T) {
	// One point a minute, warm-up 1 h, first look at 20 min of judged
	// points, then every 10 min: looks at spans 20, 30, 40, 50 min are
	// looks 1–4 (levels α/2, α/12, α/12, α/48); a point between looks
	// reports the next look's level. No planned soak (Horizon 0): every
	// look is on the epochs.
	o := DefaultOptions()
	o.Horizon = 0
	m, err := NewMonitor(o)
	if err != nil {
		t.Fatal(err)
	}
	a := o.Alpha
	want := map[int]float64{20: a / 2, 21: a / 12, 29: a / 12, 30: a / 12, 31: a / 12, 40: a / 12, 41: a / 48, 50: a / 48}
	for i, x := range minutes(60 + 51) {
		d, err := m.Add(x, 64*mib)
		if err != nil {
			t.Fatal(err)
		}
		span := i - 60
		if w, ok := want[span]; ok && math.Abs(d.Bound-w) > 1e-18 {
			t.Errorf("span %d min: bound %v, want %v", span, d.Bound, w)
		}
	}
	if m.looks != 4 {
		t.Errorf("%d looks over 50 min of judged points, want 4", m.looks)
	}
}

func TestOptionsLevel_PlannedLooksShareNinetyPercentEquallyAndOvertimeTheRest(t *testing.T) {
	// Horizon 1 h, first look at 20 min, then every 10 min: looks at 20,
	// 30, 40, 50, 60 min are the 5 planned ones, each at 0.9α/5 = 0.18α;
	// look 6 is overtime look 1 at 0.1α/2, look 7 overtime look 2 at
	// 0.1α/12.
	o := DefaultOptions()
	o.Alpha, o.Horizon, o.MinSpan, o.LookEvery = 0.01, time.Hour, 20*time.Minute, 10*time.Minute
	if n := o.plannedLooks(); n != 5 {
		t.Fatalf("planned looks %d, want 5", n)
	}
	for _, c := range []struct {
		look int
		want float64
	}{{1, 0.0018}, {5, 0.0018}, {6, 0.0005}, {7, 0.001 / 12}} {
		if got := o.level(c.look); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("level(%d) = %v, want %v", c.look, got, c.want)
		}
	}
	sum := 0.0
	for k := 1; k < 1<<16; k++ {
		sum += o.level(k)
	}
	if sum > o.Alpha {
		t.Errorf("levels of 65535 looks sum to %v, above Alpha %v", sum, o.Alpha)
	}
}

func TestMonitor_AStopBetweenLooksWaitsForTheNextLook(t *testing.T) {
	// Warm-up flat at 0.255 MiB, then a perfect line from 0 at 1 MiB/h:
	// the drawdown is 0.255 MiB and its limit 0.6 × 1 MiB/h × span (no
	// noise), so the drawdown guard holds the stop until the span passes
	// 25.5 min. Looking at every point stops at 26 min (t = 5160 s); looking
	// every 10 min stops at the look at 30 min (t = 5400 s).
	times := minutes(200)
	values := make([]float64, len(times))
	for i, x := range times {
		values[i] = 0.255 * mib
		if x >= 3600 {
			values[i] = mib * (x - 3600) / 3600
		}
	}
	for _, c := range []struct {
		every time.Duration
		at    float64
	}{{0, 5160}, {10 * time.Minute, 5400}} {
		o := DefaultOptions()
		o.LookEvery = c.every
		d, err := Replay(times, values, o)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Stop || d.At != c.at {
			t.Errorf("look every %v: %+v, want a stop at %v s", c.every, d, c.at)
		}
	}
}
