package checks

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/leakgate/leakgate/checks/trend"
)

// Policy holds every threshold the judge uses. DefaultPolicy suits a 12 h soak
// sampled every 10 min; LoadPolicy overrides fields from YAML.
type Policy struct {
	// FDR is the false discovery rate q across all series of one run
	// (Benjamini–Hochberg); a series is significant when its adjusted p ≤ FDR.
	FDR float64 `yaml:"fdr" json:"fdr"`
	// MinSamples after warm-up below which a series is "insufficient".
	MinSamples int `yaml:"min_samples" json:"min_samples"`
	// Warmup is ignored at the start of every series.
	Warmup time.Duration `yaml:"warmup" json:"warmup"`
	// MinGrowthBytes is the materiality floor per kind: growth (slope × span)
	// over the judged window. Kmemleak's floor is KmemleakMinGrowthObjects.
	MinGrowthBytes KindBytes `yaml:"min_growth_bytes" json:"min_growth_bytes"`
	// MinSlopeBytesPerHour is the smallest slope that can be a leak, per kind.
	MinSlopeBytesPerHour KindBytes `yaml:"min_slope_bytes_per_hour" json:"min_slope_bytes_per_hour"`
	// MinMonotonic is the smallest Kendall tau (S over pairs) of a leak: a
	// leak rises steadily; a series that wanders up only on average is not one.
	MinMonotonic float64 `yaml:"min_monotonic" json:"min_monotonic"`
	// PersistFraction: the later half's slope must reach this fraction of the
	// earlier half's, so a ramp that plateaus (cache warm-up) is not a leak.
	PersistFraction float64 `yaml:"persist_fraction" json:"persist_fraction"`
	// PersistAlpha: the later half's own one-sided trend p must be at most this.
	PersistAlpha float64 `yaml:"persist_alpha" json:"persist_alpha"`
	// StrictCorrection replaces Hamed–Rao by the larger of Hamed–Rao and an
	// AR(1) model fitted with a bias-corrected lag-1 estimate.
	StrictCorrection bool `yaml:"strict_correction" json:"strict_correction"`
	// StrictAlpha: a leak's trend must also reach this p (unadjusted) under
	// that pessimistic correction; 0 turns the check off.
	StrictAlpha float64 `yaml:"strict_alpha" json:"strict_alpha"`
	// MaterialAtLowerBound judges the growth and slope floors at the slope's
	// lower bound under that pessimistic correction (whole window or later
	// half, whichever is higher) rather than at the point estimate.
	MaterialAtLowerBound bool `yaml:"material_at_lower_bound" json:"material_at_lower_bound"`
	// SteadyDrawdown: a rise that never falls back by more than this
	// fraction of its growth is steady, and needs only SteadyStrictAlpha
	// under the pessimistic correction; 0 turns the distinction off.
	SteadyDrawdown    float64 `yaml:"steady_drawdown" json:"steady_drawdown"`
	SteadyStrictAlpha float64 `yaml:"steady_strict_alpha" json:"steady_strict_alpha"`
	// PeriodicDrawdown: a rise that falls back by more than SteadyDrawdown
	// but at most this fraction of its growth is still steady when the trend
	// test's variance inflation (Hamed–Rao over every lag) is at most
	// PeriodicMaxInflation — a saw-tooth's correlations cancel over its
	// period, a wander's do not; 0 for either turns this off.
	PeriodicDrawdown     float64 `yaml:"periodic_drawdown" json:"periodic_drawdown"`
	PeriodicMaxInflation float64 `yaml:"periodic_max_inflation" json:"periodic_max_inflation"`
	// ShapeChecks lets a change-point model (a leak that starts part-way)
	// and an increments test (growth in steps: decreases rare and small)
	// stand in for the AR(1) check and the lower-bound floors, each on its
	// own evidence, and the size check call a leak that rose many times
	// both the floor and its own noise, gave back little and still grew
	// on its later half, when judging a finished run
	// (trend.Options.ShapeChecks); early judging ignores them. Default on.
	ShapeChecks bool `yaml:"shape_checks" json:"shape_checks"`
	// RetainedBudgetFloors is, in multiples of each kind's growth floor,
	// the growth no run may keep whatever its shape: a level (hour medians)
	// that rose by this much and kept at least 70 % of it is a leak, a
	// single step included (trend.Options.RetainedBudgetFloors; needs
	// ShapeChecks, final judging only). Below it a lone step is judged as a
	// benign step's shape. 0 turns it off. Default 32: 32 MiB of a slab
	// cache.
	RetainedBudgetFloors float64 `yaml:"retained_budget_floors" json:"retained_budget_floors"`
	// FloorWindow, when > 0, judges the rolling minimum over this window
	// (saw-tooth series: pools that fill and drain, heaps between frees).
	FloorWindow time.Duration `yaml:"floor_window" json:"floor_window"`
	// ConfidenceLevel of the slope interval.
	ConfidenceLevel float64 `yaml:"confidence_level" json:"confidence_level"`
	// ExhaustionHorizon: a trend that would exhaust the latest MemAvailable
	// within this time at its slope's lower bound is material whatever its growth.
	ExhaustionHorizon time.Duration `yaml:"exhaustion_horizon" json:"exhaustion_horizon"`
	// EarlyRule chooses how a run is judged before its end (early.go):
	// "sequential" (checks/sequential, with a stated bound on stopping a
	// clean run; the default) or "trend" (the final judge at EarlyStopFDR
	// and EarlyMinSamples with the Early* fields below; no stated bound).
	EarlyRule EarlyRule `yaml:"early_rule" json:"early_rule"`
	// EarlyFalseAlarm is the sequential rule's bound on the probability
	// that a clean run is ever stopped early, over its whole length and all
	// its series (split evenly over max(EarlySeries, series judged)).
	EarlyFalseAlarm float64 `yaml:"early_false_alarm" json:"early_false_alarm"`
	EarlySeries     int     `yaml:"early_series" json:"early_series"`
	// EarlyMinSpan and EarlySequentialMinSamples: the sequential rule's
	// first look needs this much time and this many samples after warm-up.
	EarlyMinSpan              time.Duration `yaml:"early_min_span" json:"early_min_span"`
	EarlySequentialMinSamples int           `yaml:"early_sequential_min_samples" json:"early_sequential_min_samples"`
	// EarlyLookEvery spaces the sequential rule's looks after the first
	// (sequential.Options.LookEvery): fewer looks share EarlyFalseAlarm, so
	// each needs less evidence; 0 looks at every sample.
	EarlyLookEvery time.Duration `yaml:"early_look_every" json:"early_look_every"`
	// EarlyHorizon is the planned judged length of the soak (duration minus
	// warm-up): a slope that will clear MinGrowthBytes by then is material
	// early; 0 judges growth over the samples so far.
	EarlyHorizon time.Duration `yaml:"early_horizon" json:"early_horizon"`
	// EarlyMaxDrawdown: the sequential rule does not stop a series that fell
	// from its running maximum by more than this fraction of its growth
	// (plus noise): a saw-tooth or a wander; 0 turns the guard off.
	EarlyMaxDrawdown float64 `yaml:"early_max_drawdown" json:"early_max_drawdown"`
	// EarlyStopFDR replaces FDR when judging before the run ends, and
	// EarlyMinSamples replaces MinSamples (rule "trend"): only a leak
	// already beyond doubt ends a run early.
	EarlyStopFDR    float64 `yaml:"early_stop_fdr" json:"early_stop_fdr"`
	EarlyMinSamples int     `yaml:"early_min_samples" json:"early_min_samples"`
	// EarlyMinMonotonic replaces MinMonotonic early: only a steady rise
	// (Kendall tau) can end a run before its end.
	EarlyMinMonotonic float64 `yaml:"early_min_monotonic" json:"early_min_monotonic"`
	// EarlyPersistFraction replaces PersistFraction early: the prefix's
	// later half must keep most of its earlier half's pace.
	EarlyPersistFraction float64 `yaml:"early_persist_fraction" json:"early_persist_fraction"`
	// MemAvailableFloorBytes is a hard ceiling: MemAvailable below it fails
	// the run at once, early or final.
	MemAvailableFloorBytes int64 `yaml:"mem_available_floor_bytes" json:"mem_available_floor_bytes"`
	// KmemleakMinScans is how many consecutive scans, up to the last, a
	// signature must appear in; KmemleakMinGrowthObjects how many objects it
	// must gain over them.
	KmemleakMinScans         int   `yaml:"kmemleak_min_scans" json:"kmemleak_min_scans"`
	KmemleakMinGrowthObjects int64 `yaml:"kmemleak_min_growth_objects" json:"kmemleak_min_growth_objects"`
	// Allow lists series known to grow for a benign reason: they are judged
	// and reported with verdict "allowed", and never fail a run.
	Allow []AllowRule `yaml:"allow" json:"allow"`
}

// KindBytes is a byte figure per kind of series (policy keys are the
// kinds: slab, process, meminfo, vmalloc, ...).
type KindBytes map[Kind]int64

// For returns the figure for kind (0 for kinds without one).
func (k KindBytes) For(kind Kind) int64 { return k[kind] }

// clone copies k, so that decoding over a copy leaves k as it was.
func (k KindBytes) clone() KindBytes {
	out := make(KindBytes, len(k))
	for kind, v := range k {
		out[kind] = v
	}
	return out
}

// floors is each trend source's default figure, read from Sources.
func floors(figure func(Source) int64) KindBytes {
	out := KindBytes{}
	for _, src := range sources {
		if src.Rule == RuleTrend {
			out[src.Kind] = figure(src)
		}
	}
	return out
}

// AllowRule lets series of Kind whose subject matches Subject (a path.Match
// glob, e.g. "kmalloc-*" or "dnsmasq/*") pass with Reason.
type AllowRule struct {
	Kind    Kind   `yaml:"kind" json:"kind"`
	Subject string `yaml:"subject" json:"subject"`
	Reason  string `yaml:"reason" json:"reason"`
}

// DefaultPolicy returns thresholds for a 12 h soak at 10 min sampling (73
// samples, 67 after warm-up), chosen with `make eval` (docs/detection.md).
func DefaultPolicy() Policy {
	return Policy{
		// One false alarm blocks a release: 1 % FDR keeps a clean 300-series
		// run's chance of any false alarm near 1 % (BH controls the
		// family-wise rate when no series leaks).
		FDR: 0.01,
		// 2 h of points after warm-up: below that neither the trend test nor
		// the slope interval says anything.
		MinSamples: 12,
		// Caches fill and daemons settle in the first hour of a workload.
		Warmup: time.Hour,
		// Per source (Sources): 1 MiB of slab in 12 h is 60 MiB a month on
		// a 128–512 MiB device; processes and meminfo figures are noisier,
		// so their floors are higher.
		MinGrowthBytes:       floors(func(s Source) int64 { return s.MinGrowthBytes }),
		MinSlopeBytesPerHour: floors(func(s Source) int64 { return s.MinSlopeBytesPerHour }),
		// Kendall tau ≥ 0.35: a straight leak under noise of a quarter of its
		// growth has tau ≈ 0.55; wandering series (AR(1), bounded walks)
		// that drift up by chance mostly stay below.
		MinMonotonic: 0.35,
		// Hamed–Rao underestimates strong correlation on 67 points; the
		// trend must also hold at 0.01 % under a bias-corrected AR(1) model,
		// and its growth must clear the floors at the lower bound of the
		// slope under that model: an AR(1) wander that ends a floor higher
		// rarely does, a leak of twice the floor does. Together they trade
		// recall against false-alarm runs better than StrictAlpha alone
		// (docs/detection.md has the figures and the trade-off).
		StrictAlpha:          0.0001,
		MaterialAtLowerBound: true,
		// A steady rise needs only p ≤ 0.2 under the AR(1) model: a leak
		// that grows in bursts or under a saw-tooth looks like a random walk
		// to the model, while an AR(1) wander gives back what it gained and
		// stays on the strict path. Steady: never falling back by more than
		// 60 % of its growth (bursts), or by more than all of it with a
		// Hamed–Rao inflation ≤ 1.6 (a saw-tooth's correlations cancel over
		// its period). Each of these defaults (0.1 %, 100 % before) halves
		// the runs of 300 benign series with a false alarm for about 0.1
		// point of recall (docs/detection.md).
		SteadyDrawdown:       0.6,
		SteadyStrictAlpha:    0.2,
		PeriodicDrawdown:     1,
		PeriodicMaxInflation: 1.6,
		// Leaks that start mid-run or grow in steps fooled the AR(1) check
		// (issue 16); docs/detection.md measures what this buys and costs.
		ShapeChecks: true,
		// A leak that grew in one or two large events is a benign step's
		// shape to every statistical check; past 32 floors kept, it fails
		// on size alone (issue 16; docs/detection.md).
		RetainedBudgetFloors: 32,
		// A leak's later half is not shown (at 95 %) to grow slower than 30 %
		// of its earlier half; a warm-up ramp's later half is. The later half
		// alone (33 points) has little power, so its own test is loose (p ≤ 0.3).
		PersistFraction: 0.3,
		PersistAlpha:    0.3,
		// Off: a rolling minimum makes neighbours share values, which the
		// autocorrelation correction rightly pays for with most of the power
		// on 67 points (docs/detection.md). Set it (e.g. 3h) for a series
		// kind dominated by a saw-tooth.
		FloorWindow:     0,
		ConfidenceLevel: 0.95,
		// A gateway runs a month between reboots.
		ExhaustionHorizon: 30 * 24 * time.Hour,
		// Early stop: the sequential test (early_rule: sequential), a
		// clean run stopped with probability ≤ 0.5 % over its length (300
		// series or more share it), first look 2 h and 12 samples after
		// warm-up (by then a saw-tooth of up to 3 h has dropped once since
		// the start; with 20 min, 18 % of benign saw-teeth sampled every
		// minute stopped), then a look every 10 min (a look a minute spent
		// the budget ten times thinner for at most 10 min less delay),
		// growth projected over the rest of a 12 h soak, the later half of
		// the run keeping 70 % of the earlier half's pace, no fall of more
		// than 60 % of the growth. A leak it calls stays a leak in the final
		// verdict (MergeEarly: a run cut short cannot meet the final growth
		// floor). Rule "trend" has no stated bound and, on the 1-min fast
		// series, stops about 40 % of benign warm-up ramps and saw-teeth
		// (docs/detection.md, early stopping).
		EarlyRule:                 EarlySequential,
		EarlyFalseAlarm:           0.005,
		EarlySeries:               300,
		EarlyMinSpan:              2 * time.Hour,
		EarlyHorizon:              11 * time.Hour,
		EarlyMaxDrawdown:          0.6,
		EarlySequentialMinSamples: 12,
		EarlyLookEvery:            10 * time.Minute,
		EarlyPersistFraction:      0.7,
		// Rule "trend": 1e-6 after BH on the whole window only, under the
		// pessimistic correction, a steady rise (tau ≥ 0.6) and 6 h of points
		// after warm-up — a prefix of a warm-up ramp or a saw-tooth looks like
		// a leak to the final judge, so a clean run must not be stopped on less.
		EarlyStopFDR:      1e-6,
		EarlyMinSamples:   36,
		EarlyMinMonotonic: 0.6,
		// Below 16 MiB available the OOM killer is near: fail now.
		MemAvailableFloorBytes: 16 << 20,
		// kmemleak needs two scans to report a new object; a third growing
		// scan shows the signature keeps leaking.
		KmemleakMinScans:         3,
		KmemleakMinGrowthObjects: 2,
	}
}

// ErrPolicy is wrapped by every error about a policy's content.
var ErrPolicy = errors.New("invalid policy")

// LoadPolicy decodes YAML (snake_case keys) over base: only the fields given
// change; an unknown key is an error. The allow list, when given, replaces
// base's. The result is validated.
func LoadPolicy(b []byte, base Policy) (Policy, error) {
	p := base
	p.Allow = append([]AllowRule(nil), base.Allow...)
	p.MinGrowthBytes, p.MinSlopeBytesPerHour = base.MinGrowthBytes.clone(), base.MinSlopeBytesPerHour.clone()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) {
		return Policy{}, fmt.Errorf("%w: %v; fix the YAML (keys are snake_case, durations like 90m)", ErrPolicy, err)
	}
	if err := p.Validate(); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// Validate reports the first threshold out of range.
func (p Policy) Validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("%w: %s is %v, want %s", ErrPolicy, field, v, want)
	}
	switch {
	case !(p.FDR > 0 && p.FDR < 1):
		return bad("fdr", p.FDR, "between 0 and 1")
	case !(p.EarlyStopFDR > 0 && p.EarlyStopFDR <= p.FDR):
		return bad("early_stop_fdr", p.EarlyStopFDR, "above 0 and at most fdr")
	case p.EarlyRule != EarlySequential && p.EarlyRule != EarlyTrend:
		return bad("early_rule", p.EarlyRule, `"sequential" or "trend"`)
	case !(p.EarlyFalseAlarm > 0 && p.EarlyFalseAlarm < 1):
		return bad("early_false_alarm", p.EarlyFalseAlarm, "between 0 and 1, e.g. 0.005")
	case p.EarlySeries < 1:
		return bad("early_series", p.EarlySeries, "at least 1")
	case p.EarlyMinSpan < 0 || p.EarlyHorizon < 0 || p.EarlyLookEvery < 0:
		return bad("early_min_span/early_horizon/early_look_every", []time.Duration{p.EarlyMinSpan, p.EarlyHorizon, p.EarlyLookEvery}, "not negative")
	case p.EarlySequentialMinSamples < 4:
		return bad("early_sequential_min_samples", p.EarlySequentialMinSamples, "at least 4")
	case p.EarlyMaxDrawdown < 0:
		return bad("early_max_drawdown", p.EarlyMaxDrawdown, "not negative")
	case p.MinSamples < 3:
		return bad("min_samples", p.MinSamples, "at least 3")
	case !(p.EarlyPersistFraction >= 0 && p.EarlyPersistFraction <= 1):
		return bad("early_persist_fraction", p.EarlyPersistFraction, "between 0 and 1")
	case !(p.EarlyMinMonotonic >= 0 && p.EarlyMinMonotonic <= 1):
		return bad("early_min_monotonic", p.EarlyMinMonotonic, "between 0 and 1")
	case p.EarlyMinSamples < p.MinSamples:
		return bad("early_min_samples", p.EarlyMinSamples, "at least min_samples")
	case p.Warmup < 0:
		return bad("warmup", p.Warmup, "not negative")
	case p.FloorWindow < 0:
		return bad("floor_window", p.FloorWindow, "not negative")
	case !(p.StrictAlpha >= 0 && p.StrictAlpha <= 1):
		return bad("strict_alpha", p.StrictAlpha, "between 0 and 1")
	case !(p.SteadyDrawdown >= 0 && p.SteadyDrawdown <= 1):
		return bad("steady_drawdown", p.SteadyDrawdown, "between 0 and 1")
	case !(p.SteadyStrictAlpha >= 0 && p.SteadyStrictAlpha <= 1):
		return bad("steady_strict_alpha", p.SteadyStrictAlpha, "between 0 and 1")
	case !(p.PeriodicDrawdown >= 0 && p.PeriodicDrawdown <= 1):
		return bad("periodic_drawdown", p.PeriodicDrawdown, "between 0 and 1")
	case !(p.PeriodicMaxInflation >= 0) || math.IsInf(p.PeriodicMaxInflation, 0):
		return bad("periodic_max_inflation", p.PeriodicMaxInflation, "0 (off) or a finite factor, e.g. 1.6")
	case !(p.RetainedBudgetFloors == 0 || p.RetainedBudgetFloors >= 1) || math.IsInf(p.RetainedBudgetFloors, 0):
		return bad("retained_budget_floors", p.RetainedBudgetFloors, "0 (off) or a finite number of floors of at least 1, e.g. 32")
	case !(p.MinMonotonic >= 0 && p.MinMonotonic <= 1):
		return bad("min_monotonic", p.MinMonotonic, "between 0 and 1")
	case !(p.PersistFraction >= 0 && p.PersistFraction <= 1):
		return bad("persist_fraction", p.PersistFraction, "between 0 and 1")
	case !(p.PersistAlpha >= 0 && p.PersistAlpha <= 1):
		return bad("persist_alpha", p.PersistAlpha, "between 0 and 1")
	case !(p.ConfidenceLevel > 0 && p.ConfidenceLevel < 1):
		return bad("confidence_level", p.ConfidenceLevel, "between 0 and 1")
	case p.ExhaustionHorizon < 0:
		return bad("exhaustion_horizon", p.ExhaustionHorizon, "not negative")
	case p.KmemleakMinScans < 2:
		return bad("kmemleak_min_scans", p.KmemleakMinScans, "at least 2 (a new leak needs two scans)")
	case p.KmemleakMinGrowthObjects < 1:
		return bad("kmemleak_min_growth_objects", p.KmemleakMinGrowthObjects, "at least 1")
	case p.MemAvailableFloorBytes < 0:
		return bad("mem_available_floor_bytes", p.MemAvailableFloorBytes, "not negative")
	}
	for _, g := range []struct {
		name string
		v    KindBytes
	}{{"min_growth_bytes", p.MinGrowthBytes}, {"min_slope_bytes_per_hour", p.MinSlopeBytesPerHour}} {
		for kind, v := range g.v {
			if src, ok := SourceOf(kind); !ok || src.Rule != RuleTrend {
				return bad(g.name+"."+string(kind), v, "a kind judged by trend: "+kindList(RuleTrend))
			}
			if v < 0 {
				return bad(g.name+"."+string(kind), v, "not negative")
			}
		}
	}
	for i, r := range p.Allow {
		if _, ok := SourceOf(r.Kind); !ok {
			return bad(fmt.Sprintf("allow[%d].kind", i), r.Kind, "one of "+kindList(-1))
		}
		if _, err := path.Match(r.Subject, ""); err != nil || r.Subject == "" {
			return bad(fmt.Sprintf("allow[%d].subject", i), r.Subject, "a valid glob")
		}
		if r.Reason == "" {
			return bad(fmt.Sprintf("allow[%d].reason", i), `""`, "a reason saying why this growth is benign")
		}
	}
	return nil
}

// kindList names the kinds of the sources judged by rule (-1: every source).
func kindList(rule Rule) string {
	var kinds []string
	for _, src := range sources {
		if rule < 0 || src.Rule == rule {
			kinds = append(kinds, string(src.Kind))
		}
	}
	return strings.Join(kinds, ", ")
}

// Allowed returns the reason of the first rule matching kind and subject.
func (p Policy) Allowed(kind Kind, subject string) (string, bool) {
	for _, r := range p.Allow {
		if r.Kind != kind {
			continue
		}
		if ok, _ := path.Match(r.Subject, subject); ok {
			return r.Reason, true
		}
	}
	return "", false
}

// TrendOptions returns the per-series options for a kind (growth and slope
// floors in bytes; kmemleak's floors are applied by the judge).
// Final false gives the early-judging options.
func (p Policy) TrendOptions(kind Kind, final bool) trend.Options {
	o := trend.Options{
		Alpha:           p.FDR,
		MinPoints:       p.MinSamples,
		Warmup:          p.Warmup,
		MinSlopePerHour: float64(p.MinSlopeBytesPerHour.For(kind)),
		MinGrowth:       float64(p.MinGrowthBytes.For(kind)),
		MinMonotonic:    p.MinMonotonic,
		Correction:      correction(p.StrictCorrection),
		StrictAlpha:     p.StrictAlpha,

		MaterialAtLowerBound: p.MaterialAtLowerBound,
		SteadyDrawdown:       p.SteadyDrawdown,
		SteadyStrictAlpha:    p.SteadyStrictAlpha,
		PeriodicDrawdown:     p.PeriodicDrawdown,
		PeriodicMaxInflation: p.PeriodicMaxInflation,
		ShapeChecks:          p.ShapeChecks,
		RetainedBudgetFloors: p.RetainedBudgetFloors,
		Bytes:                bytesKind(kind),
		PersistFraction:      p.PersistFraction,
		PersistAlpha:         p.PersistAlpha,
		FloorWindow:          p.FloorWindow,
		ConfidenceLevel:      p.ConfidenceLevel,
	}
	if !final {
		// Early: the pessimistic correction for the test itself, so that
		// no wandering series can end a clean run.
		o.Alpha = p.EarlyStopFDR
		o.MinPoints = p.EarlyMinSamples
		o.Correction = trend.CorrectionStrict
		o.WholeWindowOnly = true
		o.MinMonotonic = max(o.MinMonotonic, p.EarlyMinMonotonic)
		o.PersistFraction = max(o.PersistFraction, p.EarlyPersistFraction)
	}
	return o
}

// bytesKind reports whether kind's series are in bytes, so trend's reasons
// print KiB and MiB.
func bytesKind(kind Kind) bool {
	src, ok := SourceOf(kind)
	return ok && src.Unit == "bytes"
}

func correction(strict bool) trend.Correction {
	if strict {
		return trend.CorrectionStrict
	}
	return trend.CorrectionHamedRao
}
