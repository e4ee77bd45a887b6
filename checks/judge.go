package checks

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/leakgate/leakgate/internal/human"

	"github.com/leakgate/leakgate/checks/trend"
	"github.com/leakgate/leakgate/checks/verdict"
)

// JudgeOptions say how a judgement is made.
type JudgeOptions struct {
	// Final is true for the end-of-run verdict. Early (non-final) judging
	// is stricter — the policy's EarlyRule, no suspects, kmemleak only as
	// corroboration — so that a clean run is never stopped early; the
	// MemAvailable floor applies to both.
	Final bool
	// ReclaimAccounted names the slab caches the kernel accounts as
	// reclaimable (ReclaimAccounted): their growth does not explain
	// SUnreclaim's, and they never stop a run early (the reclaim probe at
	// the end decides).
	ReclaimAccounted []string
}

// Judgement is the verdict on a run with its findings.
type Judgement struct {
	Verdict verdict.Run `json:"verdict"`
	// Findings are leak, suspect and allowed series: leaks first, then by
	// growth in bytes, largest first.
	Findings []Finding `json:"findings"`
	// Series counts every series judged; OK and Insufficient those that
	// got that verdict (they have no finding).
	Series       int `json:"series"`
	OK           int `json:"ok"`
	Insufficient int `json:"insufficient"`
	// Samples is how many samples were judged (of the last boot).
	Samples int `json:"samples"`
	// Reboots counts boot ID changes; only the last boot's samples are judged.
	Reboots int `json:"reboots"`
	// Final echoes JudgeOptions.Final.
	Final bool `json:"final"`

	// reclaimAccounted echoes JudgeOptions.ReclaimAccounted for the probes'
	// re-diagnosis.
	reclaimAccounted []string
}

// Judge decides whether a run leaks: it builds series from the samples,
// judges all slab, process and meminfo series together (Benjamini–Hochberg
// across them), applies the kmemleak rule per signature, folds a kmemleak
// signature into the slab cache it corroborates, and applies the
// MemAvailable floor.
func Judge(samples []Sample, pol Policy, opts JudgeOptions) Judgement {
	b := NewSeriesBuilder()
	for _, s := range orderSamples(samples) {
		b.Add(s)
	}
	return b.Judge(pol, opts)
}

// Judge judges the series built so far, as Judge does for whole samples:
// only the last boot's samples count.
func (b *SeriesBuilder) Judge(pol Policy, opts JudgeOptions) Judgement {
	j := Judgement{Verdict: verdict.Pass, Final: opts.Final, Reboots: b.Reboots(), Samples: b.Samples()}
	if j.Samples == 0 {
		return j
	}
	all := b.Series()
	memAvail := b.LatestMemAvailableBytes()

	var trendSeries []trend.Series
	var trendOf []Series
	var leakSeries []Series
	for _, s := range all {
		if s.Context {
			continue
		}
		if src, _ := SourceOf(s.Kind); src.Rule == RuleScans {
			leakSeries = append(leakSeries, s)
			continue
		}
		values := s.Values
		if s.Decreasing {
			values = negate(values)
		}
		trendSeries = append(trendSeries, trend.Series{
			Name: string(s.Kind) + ":" + s.Subject, Times: s.Times, Values: values,
			Options: pol.TrendOptions(s.Kind, opts.Final),
		})
		trendOf = append(trendOf, s)
	}
	j.Series = len(trendSeries) + len(leakSeries)
	// Series are validated by construction (finite, increasing times), so
	// AnalyzeRun's only error is cancellation, which cannot happen here.
	analyze := trend.AnalyzeRun
	if !opts.Final && pol.EarlyRule == EarlySequential {
		analyze = pol.sequentialRun // early.go
	}
	results, err := analyze(context.Background(), trendSeries)
	if err != nil {
		results = make([]trend.Result, len(trendSeries))
		for i := range results {
			results[i].Verdict = trend.Insufficient
		}
	}
	var findings []Finding
	for i, r := range results {
		f, counted := trendFinding(trendOf[i], r, pol, opts, memAvail)
		j.count(f, counted)
		if f != nil {
			findings = append(findings, *f)
		}
	}
	var leakFindings []Finding
	for _, s := range leakSeries {
		f, counted := kmemleakFinding(s, pol)
		j.count(f, counted)
		if f != nil {
			leakFindings = append(leakFindings, *f)
		}
	}
	findings = corroborate(findings, leakFindings, b.kmallocSizes(), opts.Final)
	if f := memAvailableFloor(memAvail, pol); f != nil {
		findings = append(findings, *f)
	}
	for i := range findings {
		if reason, ok := pol.Allowed(findings[i].Kind, findings[i].Subject); ok {
			findings[i].Verdict = verdict.Allowed
			findings[i].AllowReason = reason
		}
	}
	if !opts.Final {
		// A cache the kernel accounts as reclaimable (dentries, inodes) is
		// left to the end-of-run reclaim probe: stopping early for it would
		// end the run for memory the kernel may give back.
		kept := findings[:0]
		for _, f := range findings {
			if f.Verdict == verdict.Leak && (f.Kind != KindSlab || !slices.Contains(opts.ReclaimAccounted, f.Subject)) {
				kept = append(kept, f)
			}
		}
		findings = kept
	}
	j.reclaimAccounted = opts.ReclaimAccounted
	findings = diagnose(findings, j.reclaimAccounted)
	sortFindings(findings)
	for _, f := range findings {
		if f.Verdict == verdict.Leak {
			j.Verdict = verdict.Fail
		}
	}
	j.Findings = findings
	return j
}

// Failed reports whether the judge found a leak or a ceiling was crossed.
func (j Judgement) Failed() bool { return j.Verdict == verdict.Fail }

// Summary names the leaks in one line ("leak: slab kmalloc-512, ...").
func (j Judgement) Summary() string {
	var parts []string
	for _, f := range j.Findings {
		if f.Verdict == verdict.Leak {
			parts = append(parts, fmt.Sprintf("%s %s", f.Kind, f.Subject))
		}
	}
	if len(parts) == 0 {
		return "no leak"
	}
	return "leak: " + strings.Join(parts, ", ")
}

// count tallies a series that got no finding as ok or insufficient; a
// series with a finding (leak, suspect) is neither.
func (j *Judgement) count(f *Finding, v verdict.Finding) {
	switch {
	case f != nil:
	case v == verdict.Insufficient:
		j.Insufficient++
	default:
		j.OK++
	}
}

func negate(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = -x
	}
	return out
}

// trendFinding turns one trend result into a finding (nil for ok and
// insufficient) and says how to count it otherwise.
func trendFinding(s Series, r trend.Result, pol Policy, opts JudgeOptions, memAvail float64) (*Finding, trend.Verdict) {
	if r.Verdict == trend.Insufficient {
		return nil, trend.Insufficient
	}
	f := Finding{
		Kind: s.Kind, Subject: s.Subject, Unit: s.Unit,
		SlopePerHour: r.SlopePerHour, SlopeLowPerHour: r.SlopeLow, SlopeHighPerHour: r.SlopeHigh,
		P: r.PAdjusted, PRaw: r.P, Growth: r.Growth, GrowthBytes: int64(math.Round(r.FittedGrowth)),
		Samples: r.N, Rising: r.Rising, Monotonic: r.Monotonic, Reason: r.Reason,
		ObjectSizeBytes: s.ObjectSizeBytes, AllocCallers: s.AllocCallers, Culprit: s.Culprit, Frames: s.Frames,
	}
	// Time to exhaustion at the slope's lower bound.
	if r.SlopeLow > 0 && memAvail > 0 {
		hours := memAvail / r.SlopeLow
		if hours < 1e6 {
			f.TimeToExhaustion = time.Duration(hours * float64(time.Hour))
		}
	}
	if s.Decreasing {
		// Report in the series' own direction: it falls.
		f.SlopePerHour, f.SlopeLowPerHour, f.SlopeHighPerHour = -r.SlopePerHour, -r.SlopeHigh, -r.SlopeLow
		f.Growth = -r.Growth
		f.Reason = "falls: " + r.Reason
	}
	exhausts := f.TimeToExhaustion > 0 && pol.ExhaustionHorizon > 0 && f.TimeToExhaustion <= pol.ExhaustionHorizon
	switch {
	case r.Verdict == trend.Leak:
		f.Verdict = verdict.Leak
	case r.Significant && r.Persistent && exhausts && r.SlopePerHour > 0:
		f.Verdict = verdict.Leak
		f.Reason = fmt.Sprintf("%s; at its slope's lower bound it exhausts MemAvailable in %s (horizon %s)",
			r.Reason, human.Approx(f.TimeToExhaustion), human.Duration(pol.ExhaustionHorizon))
	case opts.Final && r.Significant && r.Persistent:
		f.Verdict = verdict.Suspect
	default:
		return nil, trend.OK
	}
	return &f, r.Verdict
}

// kmemleakFinding applies the kmemleak rule: a signature reported in at
// least KmemleakMinScans consecutive scans up to the last, whose count never
// fell over them and grew by KmemleakMinGrowthObjects, is a leak; one still
// reported but not growing is a suspect.
func kmemleakFinding(s Series, pol Policy) (*Finding, trend.Verdict) {
	n := len(s.Values)
	run := s.ConsecutiveScans
	if n == 0 || run == 0 {
		return nil, trend.OK // reported once, since freed
	}
	vals := s.Values[n-run:]
	bytes := s.Bytes[n-run:]
	growth := vals[len(vals)-1] - vals[0]
	steady := true
	rising := 0
	for i := 1; i < len(vals); i++ {
		if vals[i] < vals[i-1] {
			steady = false
		}
		if vals[i] > vals[i-1] {
			rising++
		}
	}
	f := Finding{
		Kind: KindKmemleak, Subject: s.Subject, Unit: "objects",
		Growth: growth, GrowthBytes: int64(bytes[len(bytes)-1] - bytes[0]),
		Samples: run, Rising: rising, Culprit: s.Culprit, Frames: s.Frames,
		SizesBytes: s.SizesBytes,
	}
	if span := (s.Times[n-1] - s.Times[n-run]) / 3600; span > 0 {
		f.SlopePerHour = growth / span
	}
	switch {
	case run >= pol.KmemleakMinScans && steady && growth >= float64(pol.KmemleakMinGrowthObjects):
		f.Verdict = verdict.Leak
		f.Reason = fmt.Sprintf("unreferenced objects grew by %.0f over %d consecutive scans and never fell", growth, run)
	case run < pol.KmemleakMinScans && s.Values[n-1] > 0:
		f.Verdict = verdict.Suspect
		f.Reason = fmt.Sprintf("reported in the last %d scan(s), fewer than %d", run, pol.KmemleakMinScans)
	default:
		f.Verdict = verdict.Suspect
		f.Reason = fmt.Sprintf("%.0f unreferenced objects still reported after %d scans, not growing steadily", vals[len(vals)-1], run)
	}
	return &f, trend.OK
}

// corroborate folds each kmemleak finding into every growing slab finding
// it matches (object size, or an allocation site naming the culprit): one
// finding, both pieces of evidence, the worse verdict. One backtrace can
// fill two caches (a driver that allocates a buffer from its own cache and
// its descriptor with kmalloc in one function), so each gets the culprit.
// Early judging keeps kmemleak findings only as such evidence.
func corroborate(slabs, leaks []Finding, kmalloc []int64, final bool) []Finding {
	var out []Finding
	used := make([]bool, len(leaks))
	for i := range slabs {
		f := &slabs[i]
		if f.Kind != KindSlab {
			continue
		}
		for k, l := range leaks {
			if !matches(*f, l, kmalloc) {
				continue
			}
			used[k] = true
			f.Evidence = append(f.Evidence, l)
			if f.Culprit == nil {
				f.Culprit, f.Frames = l.Culprit, l.Frames
			}
			if l.Verdict == verdict.Leak && f.Verdict == verdict.Suspect {
				f.Verdict = verdict.Leak
				f.Reason += "; corroborated by kmemleak: " + l.Reason
			}
		}
	}
	out = append(out, slabs...)
	if final {
		for k, l := range leaks {
			if !used[k] {
				out = append(out, l)
			}
		}
	}
	return out
}

// matches says whether a kmemleak finding corroborates a slab finding.
func matches(slabF, leakF Finding, kmalloc []int64) bool {
	if slabF.ObjectSizeBytes > 0 {
		for _, size := range leakF.SizesBytes {
			if sizeMatches(slabF.Subject, slabF.ObjectSizeBytes, size, kmalloc) {
				return true
			}
		}
	}
	if leakF.Culprit != nil {
		for _, c := range slabF.AllocCallers {
			if c == leakF.Culprit.Function {
				return true
			}
		}
	}
	return false
}

var kmallocName = regexp.MustCompile(`^(?:dma-)?kmalloc-(?:(?:rcl|cg|dma|rnd-\d+)-)?(\d+)(k?)$`)

// kmallocBucket returns N for a kmalloc-N cache name ("kmalloc-1k" is 1024).
func kmallocBucket(name string) (int64, bool) {
	m := kmallocName.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, false
	}
	if m[2] == "k" {
		n *= 1024
	}
	return n, true
}

// sizeMatches says whether a kmemleak object of size bytes lives in the
// cache: kmalloc rounds a request up to the smallest kmalloc bucket that
// holds it, so a kmalloc-N cache matches sizes above the next smaller
// bucket present and up to N; a named cache matches its object size exactly.
func sizeMatches(cache string, objSize, size int64, kmalloc []int64) bool {
	n, ok := kmallocBucket(cache)
	if !ok {
		return size == objSize
	}
	if size > n {
		return false
	}
	lower := n / 2
	for _, b := range kmalloc {
		if b < n && b > lower {
			lower = b
		}
	}
	return size > lower
}

// kmallocSizes lists the kmalloc bucket sizes present in a sample.
func kmallocSizes(s Sample) []int64 {
	var out []int64
	for _, c := range s.Slabs {
		if n, ok := kmallocBucket(c.Name); ok {
			out = append(out, n)
		}
	}
	return out
}

// memAvailableFloor is the hard ceiling: too little memory left now.
func memAvailableFloor(memAvail float64, pol Policy) *Finding {
	if math.IsNaN(memAvail) || pol.MemAvailableFloorBytes <= 0 || memAvail >= float64(pol.MemAvailableFloorBytes) {
		return nil
	}
	return &Finding{
		Kind: KindMeminfo, Subject: SubjectMemAvailable, Verdict: verdict.Leak, Unit: "bytes",
		Reason: fmt.Sprintf("MemAvailable is %s, below the %s floor: the target is about to run out of memory",
			human.Bytes(memAvail), human.Bytes(float64(pol.MemAvailableFloorBytes))),
	}
}

// verdictRank orders findings: leaks, suspects, allowed.
func verdictRank(v verdict.Finding) int {
	switch v {
	case verdict.Leak:
		return 0
	case verdict.Suspect:
		return 1
	case verdict.Reclaimable:
		return 2
	case verdict.Allowed:
		return 3
	}
	return 4
}

func sortFindings(f []Finding) {
	sort.SliceStable(f, func(a, b int) bool {
		ra, rb := verdictRank(f[a].Verdict), verdictRank(f[b].Verdict)
		if ra != rb {
			return ra < rb
		}
		// The cause (a cache, a stack, a site, a process) before the
		// aggregate symptom it explains (a meminfo figure).
		if ca, cb := IsCause(f[a].Kind), IsCause(f[b].Kind); ca != cb {
			return ca
		}
		if f[a].GrowthBytes != f[b].GrowthBytes {
			return f[a].GrowthBytes > f[b].GrowthBytes
		}
		return f[a].Subject < f[b].Subject
	})
}

// MergeEarly adds to a final judgement the leaks an early judgement found
// that the final one lacks: a leak the early rule called stays a leak (the
// sequential rule's level holds whenever it is looked at; rule trend is the
// final test at a far stricter level), and a run stopped early keeps the
// findings that stopped it — a run cut short cannot meet the final judge's
// growth floor (a 400 KiB/h leak stopped 2 h after warm-up has grown 800 KiB
// of a 1 MiB floor), so the final judge alone would call it a suspect. An
// early leak replaces the final finding of the same series unless that is a
// leak too, taking its culprit and evidence when it has none; prefix is put
// before the reasons it adds (which series it came from).
func MergeEarly(final, early Judgement, prefix string) Judgement {
	out := final
	out.Findings = append([]Finding(nil), final.Findings...)
	added := false
	for _, e := range early.Findings {
		if e.Verdict != verdict.Leak {
			continue
		}
		i := slices.IndexFunc(out.Findings, func(f Finding) bool { return f.Kind == e.Kind && f.Subject == e.Subject })
		if i >= 0 && out.Findings[i].Verdict == verdict.Leak {
			continue
		}
		e.Reason = prefix + e.Reason
		if i >= 0 {
			f := out.Findings[i]
			if e.Culprit == nil {
				e.Culprit, e.Frames = f.Culprit, f.Frames
			}
			if len(e.Evidence) == 0 {
				e.Evidence = f.Evidence
			}
			out.Findings[i] = e
		} else {
			out.Findings = append(out.Findings, e)
		}
		added = true
	}
	if !added {
		return final
	}
	sortFindings(out.Findings)
	out.Verdict = verdict.Fail
	return out
}
