package checks

import (
	"fmt"
	"math"
	"strings"

	"github.com/leakgate/leakgate/internal/human"

	"github.com/leakgate/leakgate/checks/allocinfo"
	"github.com/leakgate/leakgate/checks/verdict"
)

// ReclaimResult is what the end-of-run reclaim probe saw of one series the
// judge flagged (a slab cache, an allocation site, a vmalloc caller): its
// bytes at the last sample and after the kernel was asked to give memory
// back (drop_caches, then each flagged cache's shrink), against the growth
// the judge measured.
type ReclaimResult struct {
	Kind        Kind   `json:"kind"`
	Subject     string `json:"subject"`
	GrowthBytes int64  `json:"growth_bytes"`
	LastBytes   int64  `json:"last_bytes"`
	AfterBytes  int64  `json:"after_bytes"`
	// GaveBack is the share of the growth that came back (0..1, may exceed 1).
	GaveBack    float64 `json:"gave_back"`
	Reclaimable bool    `json:"reclaimable"`
}

// seriesKey names one judged series across a judgement, a series builder and
// a probe's sample.
type seriesKey struct {
	kind    Kind
	subject string
}

// reclaimable reports whether a finding is one the reclaim probe can
// re-measure: a leak or suspect that moved, of a source marked Reclaim, in
// bytes (an aggregate such as SUnreclaim included: kmemleak's metadata for
// reclaimable dentries is unreclaimable slab until the dentries go).
func reclaimable(f Finding) bool {
	src, ok := SourceOf(f.Kind)
	return ok && src.Reclaim && src.Unit == "bytes" && f.GrowthBytes != 0 &&
		(f.Verdict == verdict.Leak || f.Verdict == verdict.Suspect)
}

// ReclaimFindings counts the findings the reclaim probe would re-measure.
func ReclaimFindings(j Judgement) int {
	n := 0
	for _, f := range j.Findings {
		if reclaimable(f) {
			n++
		}
	}
	return n
}

// ReclaimCandidates are the slab caches the reclaim probe asks to shrink:
// those with a leak or suspect finding that grew.
func ReclaimCandidates(j Judgement) []string {
	var out []string
	for _, f := range j.Findings {
		if f.Kind == KindSlab && reclaimable(f) && ValidCacheName(f.Subject) {
			out = append(out, f.Subject)
		}
	}
	return out
}

// Reclaim compares each re-measurable finding's value at the last sample of
// b with its value in after (a fast sample taken once the kernel was asked
// to reclaim); one that gave back at least minGaveBack of its growth is
// reclaimable.
func Reclaim(j Judgement, b *SeriesBuilder, after Sample, minGaveBack float64) []ReclaimResult {
	last := map[seriesKey]float64{}
	falls := map[seriesKey]bool{}
	for _, s := range b.Series() {
		if len(s.Values) > 0 {
			last[seriesKey{s.Kind, s.Subject}] = s.Values[len(s.Values)-1]
			falls[seriesKey{s.Kind, s.Subject}] = s.Decreasing
		}
	}
	now := map[seriesKey]float64{}
	read := map[Kind]bool{}
	for _, src := range sources {
		if !src.Reclaim || (src.Read != nil && !src.Read(&after)) {
			continue
		}
		read[src.Kind] = true
		src.Points(&after, func(p Point) { now[seriesKey{src.Kind, p.Subject}] = p.Value })
	}
	var out []ReclaimResult
	for _, f := range j.Findings {
		if !reclaimable(f) {
			continue
		}
		k := seriesKey{f.Kind, f.Subject}
		lastBytes, ok := last[k]
		if !ok || !read[f.Kind] {
			continue
		}
		afterBytes := now[k] // absent after the reclaim: all of it came back
		r := ReclaimResult{Kind: f.Kind, Subject: f.Subject, GrowthBytes: f.GrowthBytes, LastBytes: int64(lastBytes), AfterBytes: int64(afterBytes)}
		moved := math.Abs(float64(f.GrowthBytes))
		if falls[k] { // MemAvailable: what came back is a rise
			r.GaveBack = (afterBytes - lastBytes) / moved
		} else {
			r.GaveBack = (lastBytes - afterBytes) / moved
		}
		r.Reclaimable = r.GaveBack >= minGaveBack
		out = append(out, r)
	}
	return out
}

// aggregateExplainedShare is how much of an aggregate's growth reclaimable
// causes must explain for the aggregate to count as reclaimable too.
const aggregateExplainedShare = 0.8

// ApplyReclaim marks the findings the probe found reclaimable as such, with
// the figures, and recomputes the run's verdict: memory the kernel gives
// back when asked is a cache, not a leak.
func ApplyReclaim(j Judgement, results []ReclaimResult) Judgement {
	if len(results) == 0 {
		return j
	}
	by := map[seriesKey]ReclaimResult{}
	for _, r := range results {
		kind := r.Kind
		if kind == "" {
			kind = KindSlab
		}
		by[seriesKey{kind, r.Subject}] = r
	}
	fs := append([]Finding(nil), j.Findings...)
	for i := range fs {
		f := &fs[i]
		r, ok := by[seriesKey{f.Kind, f.Subject}]
		if !ok || !r.Reclaimable || (f.Verdict != verdict.Leak && f.Verdict != verdict.Suspect) {
			continue
		}
		f.Reason = fmt.Sprintf("gave back %.0f %% of its growth when asked to reclaim (drop_caches, shrink): %s at the last sample, %s after; was %s: %s",
			100*r.GaveBack, mib(r.LastBytes), mib(r.AfterBytes), f.Verdict, f.Reason)
		f.Verdict = verdict.Reclaimable
	}
	// An aggregate (MemAvailable, SUnreclaim, …) the probe could not
	// re-measure fairly — drop_caches also empties the page cache that
	// MemAvailable counts as available — is reclaimable when causes that
	// gave their growth back explain most of its own.
	gaveBack := map[seriesKey]bool{}
	for k, r := range by {
		if r.Reclaimable {
			gaveBack[k] = true
		}
	}
	for i := range fs {
		f := &fs[i]
		if IsCause(f.Kind) || (f.Verdict != verdict.Leak && f.Verdict != verdict.Suspect) {
			continue
		}
		share, names := 0.0, []string(nil)
		for _, e := range f.ExplainedBy {
			if gaveBack[seriesKey{e.Kind, e.Subject}] {
				share += e.Share
				names = append(names, string(e.Kind)+" "+e.Subject)
			}
		}
		if share < aggregateExplainedShare {
			continue
		}
		f.Reason = fmt.Sprintf("explained (%.0f %%) by growth the kernel gave back when asked to reclaim: %s; was %s: %s",
			100*share, strings.Join(names, ", "), f.Verdict, f.Reason)
		f.Verdict = verdict.Reclaimable
	}
	sortFindings(fs)
	j.Findings = fs
	j.Verdict = verdict.Pass
	for _, f := range fs {
		if f.Verdict == verdict.Leak {
			j.Verdict = verdict.Fail
		}
	}
	return j
}

// mib prints a byte count in the one unit style (internal/human).
func mib(b int64) string { return human.Bytes(float64(b)) }

// ApplyUnload adds a leak for each call site the kernel reported still
// holding memory when its module was unloaded (the reload probe): memory a
// driver keeps once it is gone is leaked, and the site names where it was
// allocated. A finding of the same site is replaced.
func ApplyUnload(j Judgement, held []allocinfo.HeldAtUnload) Judgement {
	if len(held) == 0 {
		return j
	}
	fs := append([]Finding(nil), j.Findings...)
	for _, h := range held {
		if h.Bytes <= 0 {
			continue
		}
		key := h.Key()
		f := Finding{
			Kind: KindAllocinfo, Subject: key, Verdict: verdict.Leak, Unit: "bytes",
			Growth: float64(h.Bytes), GrowthBytes: h.Bytes, AllocCallers: []string{h.Func},
			Reason: fmt.Sprintf("still held %s when module %s was unloaded (reload probe): the driver leaked it", mib(h.Bytes), h.Module),
		}
		replaced := false
		for i := range fs {
			if fs[i].Kind == KindAllocinfo && fs[i].Subject == key {
				f.Evidence = fs[i].Evidence
				fs[i], replaced = f, true
			}
		}
		if !replaced {
			fs = append(fs, f)
		}
	}
	fs = diagnose(fs, j.reclaimAccounted)
	sortFindings(fs)
	j.Findings = fs
	j.Verdict = verdict.Fail
	return j
}
