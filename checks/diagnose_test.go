package checks

import (
	"math"
	"slices"
	"testing"

	"github.com/leakgate/leakgate/checks/allocinfo"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/pageowner"
	"github.com/leakgate/leakgate/checks/slab"
	"github.com/leakgate/leakgate/checks/verdict"
)

// pageLeak pins 16 pages (64 KiB) a sample in an RX ring: page_owner's
// stack through wlansim_rx_fill, allocinfo's site in the same function, and
// the meminfo residual no counter explains all grow by as much.
func pageLeak(i int, s *Sample) {
	pages := int64(100 + 16*i)
	fill := &kmemleak.Frame{Function: "wlansim_rx_fill", Module: "wlansim"}
	s.PageStacks = []pageowner.Stack{{
		Frames:    []kmemleak.Frame{{Function: "__alloc_pages_noprof"}, {Function: "alloc_pages_noprof"}, *fill},
		Pages:     pages,
		Culprit:   fill,
		Signature: "0123456789abcdef wlansim_rx_fill",
	}}
	s.Allocinfo = []allocinfo.Site{
		{File: "drivers/net/wireless/wlansim/wlansim.c", Line: 212, Module: "wlansim", Func: "wlansim_rx_fill", Bytes: pages * 4096, Calls: pages},
		{File: "mm/slub.c", Line: 2000, Func: "alloc_slab_page", Bytes: 8 << 20, Calls: 2048},
	}
	s.UnaccountedBytes += pages * 4096
}

func TestJudge_PageLevelLeakLeadsWithTheStackAndExplainsTheUnaccountedGrowth(t *testing.T) {
	j := Judge(soakRun(73, 7, pageLeak), DefaultPolicy(), JudgeOptions{Final: true})

	if j.Verdict != verdict.Fail || len(j.Findings) == 0 {
		t.Fatalf("verdict %s findings %+v, want a fail", j.Verdict, j.Findings)
	}
	first := j.Findings[0]
	if first.Kind != KindPageOwner || first.Verdict != verdict.Leak || first.Culprit == nil || first.Culprit.Function != "wlansim_rx_fill" {
		t.Fatalf("first finding %s %s (%s), want the page stack through wlansim_rx_fill", first.Kind, first.Subject, first.Verdict)
	}
	site := "drivers/net/wireless/wlansim/wlansim.c:212 [wlansim] func:wlansim_rx_fill"
	if len(first.Evidence) != 1 || first.Evidence[0].Kind != KindAllocinfo || first.Evidence[0].Subject != site {
		t.Errorf("page stack evidence %+v, want the allocinfo site %s folded in", first.Evidence, site)
	}
	if findSubject(j, site) != nil {
		t.Errorf("the allocinfo site is also a finding of its own; it should be the stack's evidence")
	}
	un := findSubject(j, SubjectUnaccounted)
	if un == nil || un.Verdict != verdict.Leak {
		t.Fatalf("no Unaccounted leak: %+v", j.Findings)
	}
	if len(un.ExplainedBy) != 1 {
		t.Fatalf("Unaccounted explained by %+v, want the page stack", un.ExplainedBy)
	}
	e := un.ExplainedBy[0]
	// Both grow 16 pages a sample; the shares differ only by noise in the
	// meminfo residual (σ 64 KiB a sample).
	if e.Kind != KindPageOwner || e.Culprit != "wlansim_rx_fill [wlansim]" || math.Abs(e.Share-1) > 0.1 {
		t.Errorf("explanation %+v, want the stack via wlansim_rx_fill [wlansim] explaining about 100 %%", e)
	}
	for i, f := range j.Findings {
		if f.Kind == KindMeminfo && i < 1 {
			t.Errorf("a meminfo symptom leads the findings")
		}
	}
}

// TestJudge_SUnreclaimIsNotExplainedByAReclaimAccountedCache: kmalloc-512
// grows 64 KiB a sample and SUnreclaim with it; dentry grows as much, but the
// kernel accounts it as SReclaimable, so it must not be listed as a cause of
// SUnreclaim's growth (it still is a finding of its own).
func TestJudge_SUnreclaimIsNotExplainedByAReclaimAccountedCache(t *testing.T) {
	grow := func(i int, s *Sample) {
		s.Slabs = append(s.Slabs, slab.Cache{Name: "kmalloc-512", ActiveObjects: int64(1000 + 128*i), ObjectSizeBytes: 512})
		for k := range s.Slabs {
			if s.Slabs[k].Name == "dentry" {
				s.Slabs[k].ActiveObjects += int64(i) * 64 << 10 / 192
			}
		}
		s.Mem["SUnreclaim"] += uint64(i) * 64 << 10
	}
	for _, tc := range []struct {
		accounted []string
		want      []string
	}{
		{nil, []string{"dentry", "kmalloc-512"}},
		{[]string{"dentry"}, []string{"kmalloc-512"}},
	} {
		j := Judge(soakRun(73, 7, grow), DefaultPolicy(), JudgeOptions{Final: true, ReclaimAccounted: tc.accounted})

		un := findSubject(j, SubjectSUnreclaim)
		if un == nil || un.Verdict != verdict.Leak {
			t.Fatalf("accounted %v: no SUnreclaim leak: %+v", tc.accounted, j.Findings)
		}
		var got []string
		for _, e := range un.ExplainedBy {
			got = append(got, e.Subject)
		}
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("accounted %v: SUnreclaim explained by %v, want %v", tc.accounted, got, tc.want)
		}
		if d := findSubject(j, "dentry"); d == nil || d.Verdict != verdict.Leak {
			t.Errorf("accounted %v: dentry's own finding %+v, want a leak (the reclaim probe decides)", tc.accounted, d)
		}
	}
}

// TestJudge_AReclaimAccountedCacheNeverStopsARunEarly: dentry grows as
// steadily as a leak; judged early it stops the run unless the kernel
// accounts it as reclaimable, which leaves it to the end-of-run probe.
func TestJudge_AReclaimAccountedCacheNeverStopsARunEarly(t *testing.T) {
	grow := func(i int, s *Sample) {
		for k := range s.Slabs {
			if s.Slabs[k].Name == "dentry" {
				s.Slabs[k].ActiveObjects += int64(i) * 64 << 10 / 192
			}
		}
	}
	samples := soakRun(73, 7, grow)

	if j := Judge(samples, DefaultPolicy(), JudgeOptions{}); findSubject(j, "dentry") == nil || j.Verdict != verdict.Fail {
		t.Fatalf("without reclaim accounting: verdict %s findings %+v, want dentry to stop the run", j.Verdict, j.Findings)
	}
	j := Judge(samples, DefaultPolicy(), JudgeOptions{ReclaimAccounted: []string{"dentry"}})
	if j.Verdict != verdict.Pass || len(j.Findings) != 0 {
		t.Errorf("reclaim-accounted dentry: verdict %s findings %+v, want no early stop", j.Verdict, j.Findings)
	}
	if f := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true, ReclaimAccounted: []string{"dentry"}}); findSubject(f, "dentry") == nil {
		t.Errorf("the final verdict lost dentry's finding; the reclaim probe needs it")
	}
}

// TestApplyReclaim_AnAggregateExplainedByReclaimableCausesIsReclaimable:
// MemAvailable fell 9.5 MiB while dentries grew 13.7 MiB; the probe got the
// dentries back, but drop_caches also emptied the page cache MemAvailable
// counts, so MemAvailable itself barely rose. Explained by causes that gave
// their growth back, it is reclaimable and the run passes; one explained
// only by a cause that kept its growth stays a leak.
func TestApplyReclaim_AnAggregateExplainedByReclaimableCausesIsReclaimable(t *testing.T) {
	j := Judgement{Verdict: verdict.Fail, Findings: []Finding{
		{Kind: KindSlab, Subject: "dentry", Verdict: verdict.Leak, Unit: "bytes", GrowthBytes: 13700 << 10},
		{Kind: KindMeminfo, Subject: SubjectMemAvailable, Verdict: verdict.Leak, Unit: "bytes", GrowthBytes: -9500 << 10,
			ExplainedBy: []Explanation{{Kind: KindSlab, Subject: "dentry", GrowthBytes: 13700 << 10, Share: 1.44}}},
	}}
	results := []ReclaimResult{
		{Kind: KindSlab, Subject: "dentry", GrowthBytes: 13700 << 10, LastBytes: 14100 << 10, AfterBytes: 544 << 10, GaveBack: 1.29, Reclaimable: true},
		{Kind: KindMeminfo, Subject: SubjectMemAvailable, GrowthBytes: -9500 << 10, GaveBack: 0.05},
	}

	got := ApplyReclaim(j, results)

	if got.Verdict != verdict.Pass {
		t.Fatalf("verdict %s, want pass: %+v", got.Verdict, got.Findings)
	}
	m := findSubject(got, SubjectMemAvailable)
	want := "explained (144 %) by growth the kernel gave back when asked to reclaim: slab dentry; was leak: "
	if m == nil || m.Verdict != verdict.Reclaimable || m.Reason != want {
		t.Errorf("MemAvailable %+v, want reclaimable with reason %q", m, want)
	}

	results[0].Reclaimable = false
	if got := ApplyReclaim(j, results); got.Verdict != verdict.Fail || findSubject(got, SubjectMemAvailable).Verdict != verdict.Leak {
		t.Errorf("with dentry kept: verdict %s, want MemAvailable to stay a leak", got.Verdict)
	}
}
