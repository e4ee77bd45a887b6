package checks

import (
	"math"
	"slices"
	"sort"

	"github.com/leakgate/leakgate/checks/verdict"
)

// Explanation is one cause behind an aggregate finding (SUnreclaim,
// Unaccounted, MemAvailable): a leak that names where memory goes, and the
// share of the aggregate's growth it accounts for.
type Explanation struct {
	Kind    Kind   `json:"kind"`
	Subject string `json:"subject"`
	// Culprit is the function blamed, when the cause has one.
	Culprit     string  `json:"culprit,omitempty"`
	GrowthBytes int64   `json:"growth_bytes"`
	Share       float64 `json:"share"`
}

// maxExplanations bounds the causes listed under one aggregate.
const maxExplanations = 5

// diagnose turns findings into one diagnosis: an allocation site
// (allocinfo) of the same function as a slab cache's or a page stack's
// culprit becomes that finding's evidence, and each aggregate finding says
// which causes explain its growth. Causes are listed before aggregates by
// sortFindings.
func diagnose(findings []Finding, reclaimAccounted []string) []Finding {
	findings = foldSites(findings)
	for i := range findings {
		f := &findings[i]
		if IsCause(f.Kind) || f.Verdict != verdict.Leak {
			continue
		}
		f.ExplainedBy = explain(*f, findings, reclaimAccounted)
	}
	return findings
}

// foldSites moves each allocinfo leak or suspect whose function is the
// culprit (or an allocation caller) of a slab or page-stack finding into
// that finding's evidence: one finding, the cache or stack and its call site.
func foldSites(findings []Finding) []Finding {
	used := make([]bool, len(findings))
	for i := range findings {
		f := &findings[i]
		if f.Kind != KindSlab && f.Kind != KindPageOwner {
			continue
		}
		funcs := functionsOf(*f)
		for k, s := range findings {
			if used[k] || s.Kind != KindAllocinfo || len(s.AllocCallers) == 0 || !funcs[s.AllocCallers[0]] {
				continue
			}
			f.Evidence = append(f.Evidence, s)
			used[k] = true
		}
	}
	out := findings[:0]
	for k, f := range findings {
		if !used[k] {
			out = append(out, f)
		}
	}
	return out
}

// functionsOf names the functions a finding blames: its culprit, its
// evidence's culprits and its allocation callers.
func functionsOf(f Finding) map[string]bool {
	m := map[string]bool{}
	if f.Culprit != nil && f.Culprit.Function != "" {
		m[f.Culprit.Function] = true
	}
	for _, e := range f.Evidence {
		if e.Culprit != nil && e.Culprit.Function != "" {
			m[e.Culprit.Function] = true
		}
	}
	for _, c := range f.AllocCallers {
		m[c] = true
	}
	if f.Kind == KindPageOwner {
		// A page stack names every function on its way to the allocator:
		// the driver's site and any helper between.
		for _, fr := range f.Frames {
			if fr.Function != "" {
				m[fr.Function] = true
			}
		}
	}
	return m
}

// explain lists the cause leaks behind an aggregate, largest first: slab
// caches for SUnreclaim; page stacks and allocation sites (memory no other
// counter sees) for Unaccounted; every cause for MemAvailable.
func explain(agg Finding, findings []Finding, reclaimAccounted []string) []Explanation {
	total := math.Abs(float64(agg.GrowthBytes))
	if total == 0 {
		return nil
	}
	counts := func(k Kind, subject string) bool {
		switch agg.Subject {
		case SubjectSUnreclaim:
			return k == KindSlab && !slices.Contains(reclaimAccounted, subject)
		case SubjectUnaccounted:
			return k == KindPageOwner || k == KindAllocinfo || k == KindVmalloc
		}
		return IsCause(k)
	}
	var out []Explanation
	for _, f := range findings {
		if !IsCause(f.Kind) || f.Verdict != verdict.Leak || f.GrowthBytes <= 0 || !counts(f.Kind, f.Subject) {
			continue
		}
		e := Explanation{Kind: f.Kind, Subject: f.Subject, GrowthBytes: f.GrowthBytes, Share: float64(f.GrowthBytes) / total}
		if c := culpritOf(f); c != "" {
			e.Culprit = c
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].GrowthBytes > out[b].GrowthBytes })
	if len(out) > maxExplanations {
		out = out[:maxExplanations]
	}
	return out
}

// culpritOf is "function [module]" of a finding's culprit or its evidence's.
func culpritOf(f Finding) string {
	c := f.Culprit
	for i := 0; c == nil && i < len(f.Evidence); i++ {
		c = f.Evidence[i].Culprit
	}
	if c == nil || c.Function == "" {
		return ""
	}
	if c.Module != "" {
		return c.Function + " [" + c.Module + "]"
	}
	return c.Function
}
