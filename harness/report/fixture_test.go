package report

import (
	"fmt"
	"math"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/verdict"
)

// start is the fixtures' soak start.
var start = time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)

const interval = 10 * time.Minute

// ramp is a series of n points from first, rising by step per sample with a
// deterministic wobble.
func ramp(kind checks.Kind, subject, unit string, n int, first, step float64) Series {
	s := Series{Kind: kind, Subject: subject, Unit: unit}
	for i := range n {
		s.Points = append(s.Points, Point{
			At:    start.Add(time.Duration(i) * interval),
			Value: first + step*float64(i) + step*0.3*math.Sin(float64(i)),
		})
	}
	return s
}

func rxFrames() []kmemleak.Frame {
	return []kmemleak.Frame{
		{Function: "kmemleak_alloc", Offset: "+0x4a/0x90"},
		{Function: "slab_post_alloc_hook", Offset: "+0x1b3/0x2a0"},
		{Function: "__kmalloc_track_caller", Offset: "+0x191/0x370"},
		{Function: "__alloc_skb", Offset: "+0x6c/0x1a0"},
		{Function: "skbmgr_alloc_skb4k", Offset: "+0x24/0x60", Module: "hostadpt"},
		{Function: "hostadpt_rx_handler", Offset: "+0x88/0x210", Module: "hostadpt"},
		{Function: "pci_rx_dma_done_handle", Offset: "+0x1f0/0x400", Module: "mt7916_ap"},
		{Function: "tasklet_action_common", Offset: "+0xb5/0x130"},
		{Function: "handle_softirqs", Offset: "+0xd8/0x2a0"},
	}
}

// slabLeakRun is a 12 h soak that found kmalloc-8192 leaking, corroborated
// by a kmemleak signature blaming the mt7916_ap rx path.
func slabLeakRun() Run {
	culprit := kmemleak.Frame{Function: "pci_rx_dma_done_handle", Offset: "+0x1f0/0x400", Module: "mt7916_ap"}
	km := checks.Finding{
		Kind: checks.KindKmemleak, Subject: "pci_rx_dma_done_handle", Verdict: verdict.Leak,
		Unit: "objects", SlopePerHour: 126, SlopeLowPerHour: 120, SlopeHighPerHour: 131, P: 1e-12,
		Growth: 1512, GrowthBytes: 1512 * 8192, Samples: 72, Rising: 71,
		Culprit: &culprit, Frames: rxFrames(),
	}
	return Run{
		Target: "ap-rig-07", Kernel: "6.12.48-openwrt", RunDir: "out/wifi_soak/20261124T2000Z-ap-rig-07",
		Started: start, Ended: start.Add(12 * time.Hour), Verdict: verdict.Fail,
		Samples: 73, PlannedSamples: 73, Interval: interval,
		Findings: []checks.Finding{{
			Kind: checks.KindSlab, Subject: "kmalloc-8192", Verdict: verdict.Leak,
			Reason: "Theil–Sen slope above 0 at 95% and rising in the last half",
			Unit:   "objects", SlopePerHour: 127.8, SlopeLowPerHour: 121.5, SlopeHighPerHour: 133.0, P: 3e-14,
			Growth: 1533, GrowthBytes: 1533 * 8192, Samples: 72, Rising: 71,
			TimeToExhaustion: 41*time.Hour + 10*time.Minute,
			Evidence:         []checks.Finding{km},
		}, {
			Kind: checks.KindSlab, Subject: "dentry", Verdict: verdict.Suspect, Unit: "objects",
			SlopePerHour: 3.1, P: 0.013, Growth: 40, GrowthBytes: 40 * 192, Samples: 72, Rising: 40,
			Reason: "significant but below the materiality floor",
		}, {
			Kind: checks.KindSlab, Subject: "kmalloc-64", Verdict: verdict.Allowed, Unit: "objects",
			SlopePerHour: 2, P: 0.2, AllowReason: "warm-up cache of the wifi driver",
		}},
		Series: []Series{
			ramp(checks.KindSlab, "kmalloc-8192", "objects", 73, 210, 21.3),
			ramp(checks.KindSlab, "dentry", "objects", 73, 5000, 0.5),
			ramp(checks.KindSlab, "kmalloc-64", "objects", 73, 3000, 0.3),
			ramp(checks.KindKmemleak, "pci_rx_dma_done_handle", "objects", 73, 0, 21),
			ramp(checks.KindMeminfo, "MemAvailable", "bytes", 73, 180<<20, -(180 << 10)),
			ramp(checks.KindMeminfo, "Slab", "bytes", 73, 40<<20, 180<<10),
			ramp(checks.KindMeminfo, "SUnreclaim", "bytes", 73, 22<<20, 175<<10),
			ramp(checks.KindProcess, "hostapd", "bytes", 73, 3<<20, 100),
			ramp(checks.KindProcess, "netifd", "bytes", 73, 2<<20, 10),
		},
		Preflight: []Check{
			{Name: "CONFIG_DEBUG_KMEMLEAK", Status: verdict.CheckOK, Seen: "y"},
			{Name: "CONFIG_SLUB_DEBUG", Status: verdict.CheckOK, Seen: "y"},
			{Name: "kmemleak scan thread", Status: verdict.CheckWarn, Seen: "scan=600", Remediation: "echo scan=off > /sys/kernel/debug/kmemleak"},
		},
		Gaps: []Gap{{Index: 31, At: start.Add(31 * interval), Reason: "ssh: link dropped; reconnected after 42s"}},
		Meta: map[string]string{"leakgate": "dev", "config_sha256": "4f2a"},
	}
}

// manySeriesRun is a run with n slab series of points samples each and a
// leak finding for every tenth one: the benchmark's shape.
func manySeriesRun(n, points int) Run {
	r := slabLeakRun()
	r.Series = r.Series[:0]
	r.Findings = nil
	for i := range n {
		name := fmt.Sprintf("cache-%03d", i)
		r.Series = append(r.Series, ramp(checks.KindSlab, name, "objects", points, 100, float64(i%17)))
		if i%10 == 0 {
			r.Findings = append(r.Findings, checks.Finding{Kind: checks.KindSlab, Subject: name,
				Verdict: verdict.Leak, Unit: "objects", SlopePerHour: float64(i%17) * 6, P: 1e-6,
				Growth: float64(i%17) * float64(points), Samples: points, Rising: points - 1})
		}
	}
	return r
}
