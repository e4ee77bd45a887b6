package checks

import (
	"fmt"

	"github.com/leakgate/leakgate/checks/verdict"
)

// ReclaimResult is what the end-of-run reclaim probe saw of one slab cache
// the judge flagged: its bytes at the last sample and after the kernel was
// asked to give memory back (drop_caches, then the cache's shrink), against
// the growth the judge measured.
type ReclaimResult struct {
	Cache       string `json:"cache"`
	GrowthBytes int64  `json:"growth_bytes"`
	LastBytes   int64  `json:"last_bytes"`
	AfterBytes  int64  `json:"after_bytes"`
	// GaveBack is the share of the growth that came back (0..1, may exceed 1).
	GaveBack    float64 `json:"gave_back"`
	Reclaimable bool    `json:"reclaimable"`
}

// ReclaimCandidates are the slab caches the reclaim probe asks to shrink:
// those with a leak or suspect finding that grew.
func ReclaimCandidates(j Judgement) []string {
	var out []string
	for _, f := range j.Findings {
		if f.Kind == KindSlab && (f.Verdict == verdict.Leak || f.Verdict == verdict.Suspect) && f.GrowthBytes > 0 && ValidCacheName(f.Subject) {
			out = append(out, f.Subject)
		}
	}
	return out
}

// Reclaim compares each candidate's bytes at the last sample of b with its
// bytes in after (a sample taken once the kernel was asked to reclaim); a
// cache that gave back at least minGaveBack of its growth is reclaimable.
func Reclaim(j Judgement, b *SeriesBuilder, after Sample, minGaveBack float64) []ReclaimResult {
	last := map[string]float64{}
	for _, s := range b.Series() {
		if s.Kind == KindSlab && len(s.Values) > 0 {
			last[s.Subject] = s.Values[len(s.Values)-1]
		}
	}
	now := map[string]int64{}
	for _, c := range after.Slabs {
		now[c.Name] = c.ActiveBytes()
	}
	var out []ReclaimResult
	for _, f := range j.Findings {
		if f.Kind != KindSlab || (f.Verdict != verdict.Leak && f.Verdict != verdict.Suspect) || f.GrowthBytes <= 0 {
			continue
		}
		lastBytes, ok1 := last[f.Subject]
		afterBytes, ok2 := now[f.Subject]
		if !ok1 || !ok2 {
			continue
		}
		r := ReclaimResult{Cache: f.Subject, GrowthBytes: f.GrowthBytes, LastBytes: int64(lastBytes), AfterBytes: afterBytes}
		r.GaveBack = (lastBytes - float64(afterBytes)) / float64(f.GrowthBytes)
		r.Reclaimable = r.GaveBack >= minGaveBack
		out = append(out, r)
	}
	return out
}

// ApplyReclaim marks the findings of reclaimable caches as such, with the
// figures, and recomputes the run's verdict: a cache that gives its growth
// back when asked is not a leak.
func ApplyReclaim(j Judgement, results []ReclaimResult) Judgement {
	if len(results) == 0 {
		return j
	}
	by := map[string]ReclaimResult{}
	for _, r := range results {
		by[r.Cache] = r
	}
	fs := append([]Finding(nil), j.Findings...)
	for i := range fs {
		f := &fs[i]
		r, ok := by[f.Subject]
		if f.Kind != KindSlab || !ok || !r.Reclaimable || (f.Verdict != verdict.Leak && f.Verdict != verdict.Suspect) {
			continue
		}
		f.Reason = fmt.Sprintf("gave back %.0f %% of its growth when asked to reclaim (drop_caches, shrink): %s at the last sample, %s after; was %s: %s",
			100*r.GaveBack, mib(r.LastBytes), mib(r.AfterBytes), f.Verdict, f.Reason)
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

func mib(b int64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }
