package trend

import (
	"context"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time: on a shared machine it says
// what a judgement costs when wall time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRun builds series×points series sampled every second: a third leak,
// the rest are AR(1) noise around a level.
func benchRun(series, points int) []Series {
	rng := rand.New(rand.NewPCG(21, 22))
	times := make([]float64, points)
	for i := range times {
		times[i] = float64(i)
	}
	out := make([]Series, series)
	for s := range out {
		v := make([]float64, points)
		level := 0.0
		slope := 0.0
		if s%3 == 0 {
			slope = 0.01
		}
		for i := range v {
			level = 0.9*level + rng.NormFloat64()
			v[i] = 1e6 + slope*float64(i) + 10*level
		}
		opts := DefaultOptions()
		out[s] = Series{Name: "s", Times: times, Values: v, Options: opts}
	}
	return out
}

// BenchmarkJudge300x86400 judges a run of 300 series of one day at 1 s.
func BenchmarkJudge300x86400(b *testing.B) {
	run := benchRun(300, 86400)
	b.ResetTimer()
	start := cpuTime()
	for b.Loop() {
		if _, err := AnalyzeRun(context.Background(), run); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric((cpuTime()-start).Seconds()/float64(b.N), "cpu-s/op")
}

// BenchmarkAnalyze73 judges one 12 h soak series at 10 min.
func BenchmarkAnalyze73(b *testing.B) {
	run := benchRun(1, 73)
	run[0].Times = soak(73)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Analyze(run[0].Times, run[0].Values, run[0].Options); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyze86400 judges one day-long series at 1 s.
func BenchmarkAnalyze86400(b *testing.B) {
	run := benchRun(1, 86400)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Analyze(run[0].Times, run[0].Values, run[0].Options); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkJudge160x8641 judges a run of 160 series of one day at 10 s, the
// size of a day-long soak's judgement in the harness (repeated by its early
// checks): what it allocates per judgement is what the soak's peak RSS pays.
func BenchmarkJudge160x8641(b *testing.B) {
	run := benchRun(160, 8641)
	for i := range run {
		for k := range run[i].Times {
			run[i].Times[k] = 10 * float64(k)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := AnalyzeRun(context.Background(), run); err != nil {
			b.Fatal(err)
		}
	}
}
