package eval

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/leakgate/leakgate/checks/trend"
)

// Config sets the size of an evaluation.
type Config struct {
	// Seed makes the run reproducible.
	Seed uint64
	// PerClass series are generated for every class.
	PerClass int
	// Runs of RunSize benign series measure the false alarm rate of a run.
	Runs, RunSize int
	// Points and IntervalSeconds shape every series (73 × 600 s = 12 h).
	Points          int
	IntervalSeconds float64
	// Options are the judge's thresholds; FloorBytes the materiality floor
	// the generator scales its shapes to (Options.MinGrowth).
	Options trend.Options
	// EarlyOptions are the stricter thresholds of early judging.
	EarlyOptions trend.Options
}

// Rule names a detector: the judge or a baseline.
type Rule int

// The detectors compared.
const (
	Judge Rule = iota
	SeedRule
	NaiveRule
	rules
)

// RuleNames are the report's column headings.
var RuleNames = [rules]string{"leakgate", "seed rule", "last − first"}

// ClassResult is one class's outcome under every rule.
type ClassResult struct {
	Class Class
	N     int
	// Flagged counts series called leaks, per rule.
	Flagged [rules]int
	// Delays are, per rule, the samples after warm-up at the first leak
	// verdict when judging incrementally (leak classes only, detected only).
	Delays [rules][]int
	// EarlyStops counts benign series an early judgement would have stopped.
	EarlyStops int
	// MissedFloors holds, for every leak the judge missed, its growth in
	// multiples of the floor (median of the last hour minus median of the
	// first judged hour), ascending.
	MissedFloors []float64
	// BigMissEvents counts the misses above 10× the floor by how many
	// events (increments of 5 robust σ up, trend.Result.SizeEvents) they
	// grew in: none, one, two, three or more.
	BigMissEvents [4]int
}

// Report is a whole evaluation.
type Report struct {
	Config  Config
	Classes []ClassResult
	// RunAlarms counts, per rule, runs of RunSize benign series with at
	// least one false alarm.
	RunAlarms [rules]int
}

// Evaluate generates and judges every series. Leaks are judged at the
// strictest threshold Benjamini–Hochberg can apply in a run, q/RunSize (one
// leak among RunSize series); benign series alone at q (per-series rate) and
// in runs of RunSize with BH (per-run rate).
func Evaluate(ctx context.Context, cfg Config) (Report, error) {
	times := make([]float64, cfg.Points)
	for i := range times {
		times[i] = float64(i) * cfg.IntervalSeconds
	}
	floor := cfg.Options.MinGrowth
	if floor <= 0 {
		return Report{}, fmt.Errorf("evaluate: Options.MinGrowth must be the materiality floor, got %v", floor)
	}
	leakOpts := cfg.Options
	leakOpts.Alpha = cfg.Options.Alpha / float64(cfg.RunSize)
	rep := Report{Config: cfg}
	classes := Classes()
	var benign []Class
	for ci, c := range classes {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(ci)))
		res := ClassResult{Class: c, N: cfg.PerClass}
		for range cfg.PerClass {
			if err := ctx.Err(); err != nil {
				return Report{}, err
			}
			v := c.gen(rng, times, floor)
			opts := cfg.Options
			if c.Leak {
				opts = leakOpts
			}
			flags, delays, events, err := judgeAll(times, v, opts, floor, c.Leak)
			if err != nil {
				return Report{}, fmt.Errorf("evaluate %s: %w", c.Name, err)
			}
			if c.Leak && !flags[Judge] {
				g := grownFloors(times, v, opts, floor)
				res.MissedFloors = append(res.MissedFloors, g)
				if g > 10 {
					res.BigMissEvents[min(events, 3)]++
				}
			}
			for r := range rules {
				if flags[r] {
					res.Flagged[r]++
				}
				if c.Leak && delays[r] >= 0 {
					res.Delays[r] = append(res.Delays[r], delays[r])
				}
			}
			if !c.Leak {
				early, err := stopsEarly(times, v, cfg.EarlyOptions)
				if err != nil {
					return Report{}, err
				}
				if early {
					res.EarlyStops++
				}
			}
		}
		slices.Sort(res.MissedFloors)
		if !c.Leak && !c.Hard {
			benign = append(benign, c)
		}
		rep.Classes = append(rep.Classes, res)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 1<<32))
	for range cfg.Runs {
		alarms, err := benignRun(ctx, rng, benign, times, cfg, floor)
		if err != nil {
			return Report{}, err
		}
		for r := range rules {
			if alarms[r] {
				rep.RunAlarms[r]++
			}
		}
	}
	return rep, nil
}

// judgeAll returns, per rule, whether the whole series is flagged and, for
// leaks, the delay in samples after warm-up of the first flag when judging
// every prefix (−1 when never), and the events the judge counted in the
// whole series.
func judgeAll(times, v []float64, opts trend.Options, floor float64, leak bool) ([rules]bool, [rules]int, int, error) {
	var flags [rules]bool
	delays := [rules]int{-1, -1, -1}
	r, err := trend.Analyze(times, v, opts)
	if err != nil {
		return flags, delays, 0, err
	}
	warm := warmupPoints(times, opts)
	flags[Judge] = r.Verdict == trend.Leak
	flags[SeedRule] = seedRule(v[warm:])
	flags[NaiveRule] = naiveRule(v[warm:], floor)
	if !leak {
		return flags, delays, r.SizeEvents, nil
	}
	for k := warm + 2; k <= len(v); k++ {
		if delays[Judge] < 0 && flags[Judge] {
			pr, err := trend.Analyze(times[:k], v[:k], opts)
			if err != nil {
				return flags, delays, r.SizeEvents, err
			}
			if pr.Verdict == trend.Leak {
				delays[Judge] = k - warm
			}
		}
		if delays[SeedRule] < 0 && flags[SeedRule] && seedRule(v[warm:k]) {
			delays[SeedRule] = k - warm
		}
		if delays[NaiveRule] < 0 && flags[NaiveRule] && naiveRule(v[warm:k], floor) {
			delays[NaiveRule] = k - warm
		}
	}
	return flags, delays, r.SizeEvents, nil
}

// stopsEarly reports whether judging any prefix with the early thresholds
// would have called a leak.
func stopsEarly(times, v []float64, opts trend.Options) (bool, error) {
	warm := warmupPoints(times, opts)
	for k := warm + opts.MinPoints; k <= len(v); k++ {
		r, err := trend.Analyze(times[:k], v[:k], opts)
		if err != nil {
			return false, err
		}
		if r.Verdict == trend.Leak {
			return true, nil
		}
	}
	return false, nil
}

func benignRun(ctx context.Context, rng *rand.Rand, benign []Class, times []float64, cfg Config, floor float64) ([rules]bool, error) {
	var alarms [rules]bool
	series := make([]trend.Series, cfg.RunSize)
	warm := warmupPoints(times, cfg.Options)
	for i := range series {
		c := benign[i%len(benign)]
		v := c.gen(rng, times, floor)
		series[i] = trend.Series{Name: c.Name, Times: times, Values: v, Options: cfg.Options}
		alarms[SeedRule] = alarms[SeedRule] || seedRule(v[warm:])
		alarms[NaiveRule] = alarms[NaiveRule] || naiveRule(v[warm:], floor)
	}
	results, err := trend.AnalyzeRun(ctx, series)
	if err != nil {
		return alarms, err
	}
	for _, r := range results {
		if r.Verdict == trend.Leak {
			alarms[Judge] = true
		}
	}
	return alarms, nil
}

// grownFloors is how far a series grew over its judged window, in multiples
// of the floor: the median of its last hour minus the median of its first
// judged hour (medians, so one noisy sample does not decide it).
func grownFloors(times, v []float64, opts trend.Options, floor float64) float64 {
	warm := warmupPoints(times, opts)
	w := v[warm:]
	k := max(1, min(len(w)/2, int(3600/(times[1]-times[0]))))
	return (median(w[len(w)-k:]) - median(w[:k])) / floor
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func warmupPoints(times []float64, opts trend.Options) int {
	cut := times[0] + opts.Warmup.Seconds()
	i := 0
	for i < len(times) && times[i] < cut {
		i++
	}
	return i
}

// seedRule is the rule leakgate replaces: "active_objs keeps increasing" —
// never falls over the window and ends above where it started.
func seedRule(v []float64) bool {
	if len(v) < 2 {
		return false
	}
	for i := 1; i < len(v); i++ {
		if v[i] < v[i-1] {
			return false
		}
	}
	return v[len(v)-1] > v[0]
}

// naiveRule flags growth (last − first) at or above the floor.
func naiveRule(v []float64, floor float64) bool {
	return len(v) >= 2 && v[len(v)-1]-v[0] >= floor
}

// percentile returns the p-quantile (nearest rank) of xs, or −1 if empty.
func percentile(xs []int, p float64) int {
	if len(xs) == 0 {
		return -1
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
