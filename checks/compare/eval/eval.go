// Package eval measures the A/B comparison on labelled pairs of runs: a
// baseline and a candidate 12 h soak at 10 min sampling, generated with
// independent noise, whose true difference is known (benign pairs with the
// same behaviour, regressions of several sizes, pools saturating higher,
// a fixed leak). It renders the figures docs/compare.md quotes. Seeds are
// fixed, so the same code gives the same figures.
package eval

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/leakgate/leakgate/checks/compare"
)

// Label is what a pair truly is.
type Label string

// The labels.
const (
	Benign    Label = "benign"
	Regressed Label = "regression"
	Improved  Label = "improvement"
)

// Class is one labelled kind of pair.
type Class struct {
	Name     string
	Label    Label
	Describe string
	// gen makes a baseline and a candidate on the same time grid.
	gen func(rng *rand.Rand, t []float64) (a, b []float64)
}

const (
	hour = 3600.0
	kib  = 1024.0
	mib  = 1 << 20
	base = 64 * mib
)

// Config sizes an evaluation.
type Config struct {
	Seed     uint64
	PerClass int
	// Points and IntervalSeconds shape every run (73 × 600 s = 12 h).
	Points          int
	IntervalSeconds float64
	Policy          compare.Policy
	// Runs of RunSize benign pairs (drawn round-robin from the benign
	// classes) measure how often a whole unchanged release is failed.
	Runs, RunSize int
}

// DefaultConfig is 500 pairs per class of 12 h runs at 10 min under the
// default comparison policy.
func DefaultConfig() Config {
	return Config{Seed: 20261202, PerClass: 500, Points: 73, IntervalSeconds: 600, Policy: compare.DefaultPolicy(), Runs: 100, RunSize: 100}
}

// white is Gaussian noise of σ.
func white(rng *rand.Rand, n int, sigma float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64() * sigma
	}
	return v
}

// ar1 is AR(1) noise with coefficient phi and stationary σ.
func ar1(rng *rand.Rand, n int, phi, sigma float64) []float64 {
	v := make([]float64, n)
	innov := sigma * math.Sqrt(1-phi*phi)
	x := rng.NormFloat64() * sigma
	for i := range v {
		x = phi*x + rng.NormFloat64()*innov
		v[i] = x
	}
	return v
}

// line is base + perHour·t plus noise.
func line(t []float64, perHour float64, noise []float64) []float64 {
	v := make([]float64, len(t))
	for i := range t {
		v[i] = base + perHour*t[i]/hour + noise[i]
	}
	return v
}

// saturating fills to level with time constant tau hours, plus noise.
func saturating(t []float64, level, tau float64, noise []float64) []float64 {
	v := make([]float64, len(t))
	for i := range t {
		v[i] = base + level*(1-math.Exp(-t[i]/hour/tau)) + noise[i]
	}
	return v
}

// sawtooth fills a pool by amp over period hours and empties it, plus drift
// perHour and noise.
func sawtooth(t []float64, amp, period, phase, perHour float64, noise []float64) []float64 {
	v := make([]float64, len(t))
	for i := range t {
		frac := math.Mod(t[i]/hour/period+phase, 1)
		v[i] = base + amp*frac + perHour*t[i]/hour + noise[i]
	}
	return v
}

// Classes are the labelled pairs, benign first.
func Classes() []Class {
	sigma := 64 * kib
	return []Class{
		{"flat, white noise", Benign, "both flat, σ = 64 KiB", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return line(t, 0, white(rng, len(t), sigma)), line(t, 0, white(rng, len(t), sigma))
		}},
		{"flat, AR(1) wander", Benign, "both flat under AR(1) noise φ = 0.9, σ = 256 KiB", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return line(t, 0, ar1(rng, len(t), 0.9, 256*kib)), line(t, 0, ar1(rng, len(t), 0.9, 256*kib))
		}},
		{"same small leak", Benign, "both grow 8 KiB/h (below the single-run floor), σ = 64 KiB", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return line(t, 8*kib, white(rng, len(t), sigma)), line(t, 8*kib, white(rng, len(t), sigma))
		}},
		{"same saw-tooth", Benign, "both a 1 MiB saw-tooth, period 2 h, phases drawn apart", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return sawtooth(t, mib, 2, rng.Float64(), 0, white(rng, len(t), sigma)), sawtooth(t, mib, 2, rng.Float64(), 0, white(rng, len(t), sigma))
		}},
		{"same saturating pool", Benign, "both fill to 4 MiB, τ = 1 h", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return saturating(t, 4*mib, 1, white(rng, len(t), sigma)), saturating(t, 4*mib, 1, white(rng, len(t), sigma))
		}},
		{"new leak 32 KiB/h", Regressed, "candidate grows 32 KiB/h (2× the minimum change), baseline flat, σ = 64 KiB", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return line(t, 0, white(rng, len(t), sigma)), line(t, 32*kib, white(rng, len(t), sigma))
		}},
		{"new leak 128 KiB/h", Regressed, "candidate grows 128 KiB/h, baseline flat, σ = 64 KiB", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return line(t, 0, white(rng, len(t), sigma)), line(t, 128*kib, white(rng, len(t), sigma))
		}},
		{"new leak 1 MiB/h", Regressed, "candidate grows 1 MiB/h, baseline flat, σ = 64 KiB", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return line(t, 0, white(rng, len(t), sigma)), line(t, mib, white(rng, len(t), sigma))
		}},
		{"faster leak under wander", Regressed, "baseline 16 KiB/h, candidate 144 KiB/h, both under AR(1) φ = 0.9, σ = 256 KiB", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return line(t, 16*kib, ar1(rng, len(t), 0.9, 256*kib)), line(t, 144*kib, ar1(rng, len(t), 0.9, 256*kib))
		}},
		{"pool saturates 4 MiB higher", Regressed, "baseline fills to 4 MiB, candidate to 8 MiB, τ = 1 h", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return saturating(t, 4*mib, 1, white(rng, len(t), sigma)), saturating(t, 8*mib, 1, white(rng, len(t), sigma))
		}},
		{"pool saturates 1.5 MiB higher", Regressed, "baseline fills to 4 MiB, candidate to 5.5 MiB, τ = 1 h", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return saturating(t, 4*mib, 1, white(rng, len(t), sigma)), saturating(t, 5.5*mib, 1, white(rng, len(t), sigma))
		}},
		{"leak fixed", Improved, "baseline grows 256 KiB/h, candidate flat, σ = 64 KiB", func(rng *rand.Rand, t []float64) ([]float64, []float64) {
			return line(t, 256*kib, white(rng, len(t), sigma)), line(t, 0, white(rng, len(t), sigma))
		}},
	}
}

// ClassResult counts one class's verdicts.
type ClassResult struct {
	Class  Class
	Counts map[compare.Verdict]int
	N      int
	// MoreSoak are the soak extensions the unknown verdicts asked for.
	MoreSoak []time.Duration
}

// Share is the fraction of pairs with verdict v.
func (c ClassResult) Share(v compare.Verdict) float64 { return float64(c.Counts[v]) / float64(c.N) }

// Evaluate compares cfg.PerClass pairs of every class.
func Evaluate(cfg Config) ([]ClassResult, error) {
	t := make([]float64, cfg.Points)
	for i := range t {
		t[i] = float64(i) * cfg.IntervalSeconds
	}
	var out []ClassResult
	for ci, c := range Classes() {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(ci)))
		cr := ClassResult{Class: c, Counts: map[compare.Verdict]int{}, N: cfg.PerClass}
		for range cfg.PerClass {
			a, b := c.gen(rng, t)
			r, err := compare.Compare(
				compare.Series{Kind: "slab", Subject: "x", Unit: "bytes", Seconds: t, Values: a},
				compare.Series{Kind: "slab", Subject: "x", Unit: "bytes", Seconds: t, Values: b}, cfg.Policy)
			if err != nil {
				return nil, fmt.Errorf("class %s: %w", c.Name, err)
			}
			cr.Counts[r.Verdict]++
			if r.Verdict == compare.Unknown {
				cr.MoreSoak = append(cr.MoreSoak, r.MoreSoak)
			}
		}
		out = append(out, cr)
	}
	return out, nil
}

// RunResult counts whole benign runs compared with compare.Runs.
type RunResult struct {
	Runs, RunSize int
	// AnyRegressed is how many runs had at least one series regressed.
	AnyRegressed int
	// Unknown is the share of series left unknown over all runs.
	Unknown float64
}

// EvaluateRuns compares cfg.Runs pairs of runs of cfg.RunSize benign series.
func EvaluateRuns(cfg Config) (RunResult, error) {
	t := make([]float64, cfg.Points)
	for i := range t {
		t[i] = float64(i) * cfg.IntervalSeconds
	}
	var benign []Class
	for _, c := range Classes() {
		if c.Label == Benign {
			benign = append(benign, c)
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 1<<32))
	out := RunResult{Runs: cfg.Runs, RunSize: cfg.RunSize}
	unknown := 0
	for range cfg.Runs {
		var a, b []compare.Series
		for i := range cfg.RunSize {
			va, vb := benign[i%len(benign)].gen(rng, t)
			name := fmt.Sprintf("s%d", i)
			a = append(a, compare.Series{Kind: "slab", Subject: name, Unit: "bytes", Seconds: t, Values: va})
			b = append(b, compare.Series{Kind: "slab", Subject: name, Unit: "bytes", Seconds: t, Values: vb})
		}
		rs, err := compare.Runs(a, b, cfg.Policy)
		if err != nil {
			return out, err
		}
		if compare.AnyRegressed(rs) {
			out.AnyRegressed++
		}
		for _, r := range rs {
			if r.Verdict == compare.Unknown {
				unknown++
			}
		}
	}
	out.Unknown = float64(unknown) / float64(max(cfg.Runs*cfg.RunSize, 1))
	return out, nil
}

// Summary is the headline over all classes.
type Summary struct {
	// Recall is the share of regression pairs called regressed;
	// FalseRegressed the share of benign and improvement pairs called
	// regressed.
	Recall, FalseRegressed float64
	// UnknownRegression and UnknownBenign are the shares left unknown.
	UnknownRegression, UnknownBenign float64
	// MedianMoreSoak and P90MoreSoak over every unknown verdict.
	MedianMoreSoak, P90MoreSoak time.Duration
	Unknowns                    int
}

// Summarize computes the headline.
func Summarize(rs []ClassResult) Summary {
	var s Summary
	var reg, regN, fp, fpN, unkReg, unkBen int
	var more []time.Duration
	for _, r := range rs {
		switch r.Class.Label {
		case Regressed:
			reg += r.Counts[compare.Regressed]
			unkReg += r.Counts[compare.Unknown]
			regN += r.N
		default:
			fp += r.Counts[compare.Regressed]
			unkBen += r.Counts[compare.Unknown]
			fpN += r.N
		}
		more = append(more, r.MoreSoak...)
	}
	s.Recall = float64(reg) / float64(max(regN, 1))
	s.FalseRegressed = float64(fp) / float64(max(fpN, 1))
	s.UnknownRegression = float64(unkReg) / float64(max(regN, 1))
	s.UnknownBenign = float64(unkBen) / float64(max(fpN, 1))
	s.Unknowns = len(more)
	if len(more) > 0 {
		slices.Sort(more)
		s.MedianMoreSoak = more[len(more)/2]
		s.P90MoreSoak = more[len(more)*9/10]
	}
	return s
}

// Render writes the figures as Markdown tables.
func Render(w io.Writer, cfg Config, rs []ClassResult, runs RunResult) {
	s := Summarize(rs)
	fmt.Fprintf(w, "Seed %d, %d pairs per class, each run %d points every %.0f s (%.0f h), default comparison policy (minimum change %.0f KiB/h and %.0f KiB, %.0f %% intervals, %v warm-up).\n\n",
		cfg.Seed, cfg.PerClass, cfg.Points, cfg.IntervalSeconds, float64(cfg.Points-1)*cfg.IntervalSeconds/hour,
		cfg.Policy.MinSlopeChangeBytesPerHour/kib, cfg.Policy.MinLevelChangeBytes/kib, cfg.Policy.ConfidenceLevel*100, cfg.Policy.Warmup)
	fmt.Fprintln(w, "| figure | value |")
	fmt.Fprintln(w, "|---|---|")
	fmt.Fprintf(w, "| recall (regression pairs called regressed) | %.1f %% |\n", 100*s.Recall)
	fmt.Fprintf(w, "| false `regressed` (benign and improvement pairs) | %.1f %% |\n", 100*s.FalseRegressed)
	fmt.Fprintf(w, "| regression pairs left `unknown` | %.1f %% |\n", 100*s.UnknownRegression)
	fmt.Fprintf(w, "| benign and improvement pairs left `unknown` | %.1f %% |\n", 100*s.UnknownBenign)
	fmt.Fprintf(w, "| more soak `unknown` asks for: median, 90th percentile (%d unknowns) | %s, %s |\n", s.Unknowns, soak(s.MedianMoreSoak), soak(s.P90MoreSoak))
	fmt.Fprintf(w, "| unchanged releases failed: runs of %d benign series with any `regressed` (`compare.Runs`, family-wise level) | %d of %d |\n", runs.RunSize, runs.AnyRegressed, runs.Runs)
	fmt.Fprintf(w, "| series left `unknown` in those runs | %.1f %% |\n\n", 100*runs.Unknown)
	fmt.Fprintln(w, "| class | label | pair | regressed | same | improved | unknown | more soak asked (median) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		med := "—"
		if len(r.MoreSoak) > 0 {
			m := slices.Clone(r.MoreSoak)
			slices.Sort(m)
			med = soak(m[len(m)/2])
		}
		fmt.Fprintf(w, "| %s | %s | %s | %.1f %% | %.1f %% | %.1f %% | %.1f %% | %s |\n", r.Class.Name, r.Class.Label, r.Class.Describe,
			100*r.Share(compare.Regressed), 100*r.Share(compare.Same), 100*r.Share(compare.Improved), 100*r.Share(compare.Unknown), med)
	}
}

func soak(d time.Duration) string {
	if d >= compare.MaxMoreSoak {
		return "30+ days"
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}
