package trend

import (
	"math/rand/v2"
	"testing"
)

func TestSenInterval_CoversTheTrueSlopeAtItsLevel(t *testing.T) {
	// 400 straight series under white noise: the 95 % interval should hold
	// the true slope about 380 times; binomial sd ≈ 4.4.
	rng := rand.New(rand.NewPCG(31, 32))
	opts := DefaultOptions()
	covered := 0
	const trials = 400
	for range trials {
		v := make([]float64, 73)
		for i := range v {
			v[i] = 100*float64(i) + rng.NormFloat64()*800 // 600 per hour
		}
		r, err := Analyze(soak(73), v, opts)
		if err != nil {
			t.Fatal(err)
		}
		if r.SlopeLow <= 600 && 600 <= r.SlopeHigh {
			covered++
		}
	}
	if covered < 365 || covered > 395 {
		t.Fatalf("interval covered the true slope %d of %d times, want about 380", covered, trials)
	}
}
