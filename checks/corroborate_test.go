package checks

import (
	"testing"

	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/slab"
	"github.com/leakgate/leakgate/checks/verdict"
)

// TestJudge_OneBacktraceFillingTwoCachesGivesBothTheCulprit is the rig's
// wlansim leak: wlansim_alloc_rx_buf takes a 256-byte buffer from its own
// cache and a 200-byte descriptor from kmalloc-256 on every leaked packet,
// and kmemleak reports both under one backtrace. Both caches grow; both
// findings must name the culprit, and the kmemleak finding must not stand
// alone.
func TestJudge_OneBacktraceFillingTwoCachesGivesBothTheCulprit(t *testing.T) {
	samples := soakRun(73, 21, func(i int, s *Sample) {
		s.Slabs = append(s.Slabs,
			slab.Cache{Name: "kmalloc-256", ActiveObjects: 1500 + int64(200*i), ObjectSizeBytes: 256},
			slab.Cache{Name: "wlansim_rxbuf", ActiveObjects: 10 + int64(200*i), ObjectSizeBytes: 2048},
		)
		if i >= 10 {
			s.Leaks = []kmemleak.Group{{
				Signature: "sig-rx", Count: 20 * (i - 9), Bytes: int64(20 * (i - 9) * 1124), SizesBytes: []int64{200, 2048},
				Culprit: &kmemleak.Frame{Function: "wlansim_alloc_rx_buf", Module: "wlansim"},
				Frames:  []kmemleak.Frame{{Function: "kmem_cache_alloc_noprof"}, {Function: "wlansim_alloc_rx_buf", Module: "wlansim"}},
			}}
		}
	})

	j := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})

	for _, cache := range []string{"kmalloc-256", "wlansim_rxbuf"} {
		f := findSubject(j, cache)
		if f == nil || f.Verdict != verdict.Leak {
			t.Fatalf("%s: finding %+v, want a leak; findings %+v", cache, f, j.Findings)
		}
		if f.Culprit == nil || f.Culprit.Function != "wlansim_alloc_rx_buf" || len(f.Evidence) != 1 || f.Evidence[0].Subject != "sig-rx" {
			t.Errorf("%s: culprit %+v evidence %+v, want wlansim_alloc_rx_buf from sig-rx", cache, f.Culprit, f.Evidence)
		}
	}
	if findSubject(j, "sig-rx") != nil {
		t.Errorf("the kmemleak signature stands alone as well as folded into the caches")
	}
}

// TestJudge_AKmemleakSizeMatchingNoGrowingCacheStandsAlone keeps the other
// side: a backtrace whose objects fit no growing cache is its own finding.
func TestJudge_AKmemleakSizeMatchingNoGrowingCacheStandsAlone(t *testing.T) {
	samples := soakRun(73, 22, func(i int, s *Sample) {
		s.Slabs[1].ActiveObjects += int64(300 * i) // kmalloc-128 grows
		if i >= 10 {
			s.Leaks = []kmemleak.Group{{Signature: "sig-big", Count: 20 * (i - 9), Bytes: int64(20 * (i - 9) * 4000), SizesBytes: []int64{4000},
				Culprit: &kmemleak.Frame{Function: "other_alloc"}}}
		}
	})

	j := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})

	if f := findSubject(j, "kmalloc-128"); f == nil || f.Culprit != nil || len(f.Evidence) != 0 {
		t.Errorf("kmalloc-128 = %+v, want a finding without kmemleak evidence", f)
	}
	if findSubject(j, "sig-big") == nil {
		t.Errorf("the unmatched kmemleak signature is missing; findings %+v", j.Findings)
	}
}
