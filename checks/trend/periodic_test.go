package trend

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestSteady_ASmallDrawdownOrAPeriodicResidual(t *testing.T) {
	opts := DefaultOptions() // SteadyDrawdown 0.6; PeriodicDrawdown 1 at inflation ≤ 1.6
	tests := []struct {
		name                        string
		drawdown, growth, inflation float64
		want                        bool
	}{
		{"a fall of half the growth is steady whatever the correlation", 5, 10, 6, true},
		{"a fall of 80 % with little inflation is steady (saw-tooth)", 8, 10, 1.2, true},
		{"a fall of 80 % with strong inflation is not (wander)", 8, 10, 2.5, false},
		{"a fall of 80 % just above the inflation limit is not", 8, 10, 1.61, false},
		{"a fall larger than the growth never is", 11, 10, 1, false},
		{"no growth never is", 0, 0, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Result{Drawdown: tc.drawdown, FittedGrowth: tc.growth, VarianceInflation: tc.inflation}
			if got := steady(&r, opts); got != tc.want {
				t.Fatalf("steady = %v, want %v", got, tc.want)
			}
		})
	}
	off := opts
	off.PeriodicMaxInflation = 0
	if steady(&Result{Drawdown: 8, FittedGrowth: 10, VarianceInflation: 1}, off) {
		t.Fatal("with PeriodicMaxInflation 0 the periodic path should be off")
	}
}

func TestAnalyze_LeakUnderASawToothIsSteadyThroughItsPeriodicResidual(t *testing.T) {
	// 2 MiB of drift over 12 h under a saw-tooth of 0.8× that with a 2 h
	// period: each drop gives back more than SteadyDrawdown of the growth,
	// but the residual's correlations change sign over a period.
	times := soak(73)
	rng := rand.New(rand.NewPCG(61, 62))
	growth := float64(2 << 20)
	v := make([]float64, len(times))
	for i, tm := range times {
		saw := 0.8 * growth * math.Mod(tm+1800, 7200) / 7200
		v[i] = 64<<20 + growth*tm/times[len(times)-1] + saw + rng.NormFloat64()*0.02*growth
	}
	opts := DefaultOptions()
	opts.MinGrowth = 1 << 20
	r, err := Analyze(times, v, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r.Drawdown <= opts.SteadyDrawdown*r.FittedGrowth {
		t.Fatalf("drawdown %.3g of growth %.3g: the case needs more than SteadyDrawdown", r.Drawdown, r.FittedGrowth)
	}
	if !r.Steady || r.VarianceInflation > opts.PeriodicMaxInflation {
		t.Fatalf("steady=%v with inflation %.2f: a saw-tooth's residual should look periodic", r.Steady, r.VarianceInflation)
	}
	if r.Verdict != Leak {
		t.Fatalf("verdict %s (%s), want leak", r.Verdict, r.Reason)
	}
}

func TestAnalyze_AR1WanderGivingBackMostOfItsRiseIsNotSteady(t *testing.T) {
	// Strongly correlated wanders that rise over the run and give back
	// 60–100 % of it: the old rule (any fall up to the growth) called them
	// steady; Hamed–Rao's inflation now keeps them on the strict path.
	times := soak(73)
	checked := 0
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 63))
		v := make([]float64, len(times))
		x := 0.0
		for i := range v {
			x = 0.9*x + rng.NormFloat64()*(1<<20)
			v[i] = 64<<20 + x
		}
		opts := DefaultOptions()
		r, err := Analyze(times, v, opts)
		if err != nil {
			t.Fatal(err)
		}
		ratio := r.Drawdown / r.FittedGrowth
		if r.FittedGrowth <= 0 || ratio <= opts.SteadyDrawdown || ratio > opts.PeriodicDrawdown || r.VarianceInflation <= opts.PeriodicMaxInflation {
			continue
		}
		checked++
		if r.Steady {
			t.Fatalf("seed %d: drawdown %.2f of growth, inflation %.2f: want not steady", seed, ratio, r.VarianceInflation)
		}
	}
	if checked == 0 {
		t.Fatal("no wander rose and gave back 60–100 % of it with a large inflation")
	}
}
