package checks

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/meminfo"
	"github.com/leakgate/leakgate/checks/procmem"
	"github.com/leakgate/leakgate/checks/slab"
	"github.com/leakgate/leakgate/checks/verdict"
)

var runStart = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// soakRun builds n samples 10 min apart; each sample has a few flat caches
// with noise, a flat process, meminfo, and whatever edit adds.
func soakRun(n int, seed uint64, edit func(i int, s *Sample)) []Sample {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]Sample, n)
	for i := range out {
		noise := func(sd float64) int64 { return int64(rng.NormFloat64() * sd) }
		s := Sample{
			Index: i, At: runStart.Add(time.Duration(i) * 10 * time.Minute), BootID: "boot-a",
			Slabs: []slab.Cache{
				{Name: "kmalloc-96", ActiveObjects: 4000 + noise(40), ObjectSizeBytes: 96},
				{Name: "kmalloc-128", ActiveObjects: 3000 + noise(30), ObjectSizeBytes: 128},
				{Name: "dentry", ActiveObjects: 20000 + noise(200), ObjectSizeBytes: 192},
			},
			Mem: meminfo.Info{
				"MemTotal": 256 << 20, "MemAvailable": uint64(180<<20 + noise(1<<19)), "SUnreclaim": uint64(12<<20 + noise(1<<16)),
			},
			UnaccountedBytes: 3<<20 + noise(1<<16),
			Procs: []procmem.Process{
				{PID: 100, Name: "hostapd", StartTicks: 50, RSSAnonBytes: uint64(2<<20 + noise(4096))},
			},
		}
		if edit != nil {
			edit(i, &s)
		}
		out[i] = s
	}
	return out
}

func findSubject(j Judgement, subject string) *Finding {
	for i := range j.Findings {
		if j.Findings[i].Subject == subject {
			return &j.Findings[i]
		}
	}
	return nil
}

func TestJudge_CleanRunPasses(t *testing.T) {
	j := Judge(soakRun(73, 1, nil), DefaultPolicy(), JudgeOptions{Final: true})
	if j.Verdict != verdict.Pass || len(j.Findings) != 0 {
		t.Fatalf("verdict %s findings %+v, want pass and none", j.Verdict, j.Findings)
	}
	// 3 caches, 1 process, SUnreclaim, Unaccounted, MemAvailable.
	if j.Series != 7 || j.OK != 7 || j.Samples != 73 {
		t.Fatalf("series %d ok %d samples %d, want 7, 7, 73", j.Series, j.OK, j.Samples)
	}
}

func TestJudge_CleanRunIsNeverStoppedEarly(t *testing.T) {
	samples := soakRun(73, 2, nil)
	for k := 2; k <= len(samples); k++ {
		if j := Judge(samples[:k], DefaultPolicy(), JudgeOptions{}); j.Verdict != verdict.Pass {
			t.Fatalf("stopped after %d samples: %+v", k, j.Findings)
		}
	}
}

// leakingKmalloc128 grows kmalloc-128 by 300 objects per sample (2.7 MiB
// over 12 h) and reports a growing kmemleak signature of 100-byte objects.
func leakingKmalloc128(i int, s *Sample) {
	s.Slabs[1].ActiveObjects += int64(300 * i)
	if i >= 10 {
		s.Leaks = []kmemleak.Group{{
			Signature: "sig-crc", Count: 5 * (i - 9), Bytes: int64(500 * (i - 9)), SizesBytes: []int64{100},
			Culprit: &kmemleak.Frame{Function: "drv_rx_alloc"},
			Frames:  []kmemleak.Frame{{Function: "__kmalloc"}, {Function: "drv_rx_alloc"}},
		}}
	}
}

func TestJudge_CorroboratedSlabLeakIsOneFinding(t *testing.T) {
	j := Judge(soakRun(73, 3, leakingKmalloc128), DefaultPolicy(), JudgeOptions{Final: true})
	if j.Verdict != verdict.Fail {
		t.Fatalf("verdict %s, want fail", j.Verdict)
	}
	if len(j.Findings) != 1 {
		t.Fatalf("%d findings %+v, want exactly one", len(j.Findings), j.Findings)
	}
	f := j.Findings[0]
	if f.Kind != KindSlab || f.Subject != "kmalloc-128" || f.Verdict != verdict.Leak {
		t.Fatalf("finding %s %s %s, want slab kmalloc-128 leak", f.Kind, f.Subject, f.Verdict)
	}
	if len(f.Evidence) != 1 || f.Evidence[0].Kind != KindKmemleak || f.Culprit == nil || f.Culprit.Function != "drv_rx_alloc" {
		t.Fatalf("kmemleak evidence not attached: %+v culprit %+v", f.Evidence, f.Culprit)
	}
	// 300 objects × 128 bytes per 10 min = 230 400 bytes/h.
	if f.SlopePerHour < 220000 || f.SlopePerHour > 240000 || f.GrowthBytes < 2<<20 {
		t.Fatalf("slope %v growth %d, want about 230400/h and over 2 MiB", f.SlopePerHour, f.GrowthBytes)
	}
	if f.TimeToExhaustion <= 0 {
		t.Fatal("no time to exhaustion")
	}
}

func TestJudge_LeakStopsARunEarly(t *testing.T) {
	samples := soakRun(73, 4, leakingKmalloc128)
	stopped := 0
	for k := 2; k <= len(samples); k++ {
		if j := Judge(samples[:k], DefaultPolicy(), JudgeOptions{}); j.Verdict == verdict.Fail {
			stopped = k
			break
		}
	}
	if stopped == 0 {
		t.Fatal("a steady 2.7 MiB leak never stopped the run early")
	}
	// The sequential rule looks first after warm-up (6 samples) and both
	// EarlyMinSpan and EarlySequentialMinSamples of judged samples.
	pol := DefaultPolicy()
	first := 6 + max(pol.EarlySequentialMinSamples, int(pol.EarlyMinSpan/(10*time.Minute)))
	if pol.EarlyRule != EarlySequential || stopped < first {
		t.Fatalf("rule %s stopped after %d samples, before warm-up plus the first look (%d)", pol.EarlyRule, stopped, first)
	}
}

func TestJudge_AllowedLeakPassesWithReason(t *testing.T) {
	pol, err := LoadPolicy([]byte("allow:\n  - kind: slab\n    subject: kmalloc-1*\n    reason: rx pool grows with clients\n"), DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	j := Judge(soakRun(73, 5, leakingKmalloc128), pol, JudgeOptions{Final: true})
	f := findSubject(j, "kmalloc-128")
	if j.Verdict != verdict.Pass || f == nil || f.Verdict != verdict.Allowed || f.AllowReason != "rx pool grows with clients" {
		t.Fatalf("verdict %s finding %+v, want pass with kmalloc-128 allowed", j.Verdict, f)
	}
}

func TestJudge_MemAvailableBelowFloorFailsAtOnce(t *testing.T) {
	samples := soakRun(3, 6, func(i int, s *Sample) {
		if i == 2 {
			s.Mem["MemAvailable"] = 8 << 20
		}
	})
	j := Judge(samples, DefaultPolicy(), JudgeOptions{})
	f := findSubject(j, SubjectMemAvailable)
	if j.Verdict != verdict.Fail || f == nil || !strings.Contains(f.Reason, "floor") {
		t.Fatalf("verdict %s findings %+v, want fail on the MemAvailable floor", j.Verdict, j.Findings)
	}
}

func TestJudge_RestartedProcessIsANewSeries(t *testing.T) {
	// hostapd restarts at sample 36 with more memory: two flat series, no leak.
	samples := soakRun(73, 7, func(i int, s *Sample) {
		if i >= 36 {
			s.Procs[0].PID, s.Procs[0].StartTicks = 300, 90000
			s.Procs[0].RSSAnonBytes += 8 << 20
		}
	})
	j := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})
	if j.Verdict != verdict.Pass || j.Series != 8 {
		t.Fatalf("verdict %s series %d findings %+v, want pass with 8 series", j.Verdict, j.Series, j.Findings)
	}
}

func TestJudge_CacheAppearingMidRunWithGapsIsJudged(t *testing.T) {
	samples := soakRun(73, 8, func(i int, s *Sample) {
		if i >= 20 {
			s.Slabs = append(s.Slabs, slab.Cache{Name: "wifi_sta", ActiveObjects: int64(1000 + 200*(i-20)), ObjectSizeBytes: 512})
		}
	})
	// Drop every fifth sample: gaps in the indexes.
	var gappy []Sample
	for i, s := range samples {
		if i%5 != 3 {
			gappy = append(gappy, s)
		}
	}
	j := Judge(gappy, DefaultPolicy(), JudgeOptions{Final: true})
	f := findSubject(j, "wifi_sta")
	if f == nil || f.Verdict != verdict.Leak {
		t.Fatalf("findings %+v, want wifi_sta leak", j.Findings)
	}
	// 200 × 512 bytes per 10 min.
	if f.SlopePerHour < 600000 || f.SlopePerHour > 630000 {
		t.Fatalf("slope %v, want 614400/h", f.SlopePerHour)
	}
}

func TestJudge_FallingMemAvailableIsALeakInItsOwnDirection(t *testing.T) {
	samples := soakRun(73, 9, func(i int, s *Sample) {
		s.Mem["MemAvailable"] -= uint64(i) * (256 << 10)
	})
	j := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})
	f := findSubject(j, SubjectMemAvailable)
	if f == nil || f.Verdict != verdict.Leak || f.SlopePerHour >= 0 || f.SlopeHighPerHour >= 0 {
		t.Fatalf("finding %+v, want a leak with a negative slope", f)
	}
}

func TestJudge_OnlyTheLastBootIsJudged(t *testing.T) {
	samples := soakRun(73, 10, func(i int, s *Sample) {
		if i >= 40 {
			s.BootID = "boot-b"
		}
	})
	j := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})
	if j.Reboots != 1 || j.Samples != 33 {
		t.Fatalf("reboots %d samples %d, want 1 and 33", j.Reboots, j.Samples)
	}
}

func TestJudge_KmemleakAloneIsALeakWhenItKeepsGrowing(t *testing.T) {
	samples := soakRun(73, 11, func(i int, s *Sample) {
		if i >= 60 {
			s.Leaks = []kmemleak.Group{{Signature: "sig-x", Count: i - 58, Bytes: int64(64 * (i - 58)), SizesBytes: []int64{4000}}}
		}
	})
	j := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})
	f := findSubject(j, "sig-x")
	if f == nil || f.Kind != KindKmemleak || f.Verdict != verdict.Leak || f.Samples != 13 {
		t.Fatalf("finding %+v, want a kmemleak leak over 13 scans", f)
	}
	early := Judge(samples, DefaultPolicy(), JudgeOptions{})
	if early.Verdict != verdict.Pass {
		t.Fatalf("kmemleak alone stopped a run early: %+v", early.Findings)
	}
}

func TestJudge_FindingsAreSortedLeaksFirstByGrowth(t *testing.T) {
	samples := soakRun(73, 12, func(i int, s *Sample) {
		s.Slabs[0].ActiveObjects += int64(200 * i) // kmalloc-96: ~1.3 MiB
		s.Slabs[2].ActiveObjects += int64(300 * i) // dentry: ~4 MiB
	})
	j := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})
	if len(j.Findings) < 2 || j.Findings[0].Subject != "dentry" || j.Findings[1].Subject != "kmalloc-96" {
		t.Fatalf("order %+v, want dentry then kmalloc-96", j.Findings)
	}
}

func TestSizeMatches_KmallocRounding(t *testing.T) {
	present := []int64{8, 16, 32, 64, 96, 128, 192, 256, 512, 1024}
	tests := []struct {
		name  string
		cache string
		obj   int64
		size  int64
		want  bool
	}{
		{"a 100-byte object lives in kmalloc-128", "kmalloc-128", 128, 100, true},
		{"a 90-byte object lives in kmalloc-96, not 128", "kmalloc-128", 128, 90, false},
		{"the bucket's own size matches", "kmalloc-128", 128, 128, true},
		{"a larger object does not fit", "kmalloc-128", 128, 129, false},
		{"kilobyte names are parsed", "kmalloc-1k", 1024, 600, true},
		{"reclaimable kmalloc caches round the same way", "kmalloc-rcl-256", 256, 200, true},
		{"a named cache matches exactly", "dentry", 192, 192, true},
		{"a named cache does not round", "dentry", 192, 180, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sizeMatches(tc.cache, tc.obj, tc.size, present); got != tc.want {
				t.Fatalf("sizeMatches(%s, %d) = %v, want %v", tc.cache, tc.size, got, tc.want)
			}
		})
	}
}

// BenchmarkJudgeSoak73x300 judges a 12 h soak at 10 min (73 samples) of 300
// slab caches, a process and meminfo: the end-of-run verdict.
func BenchmarkJudgeSoak73x300(b *testing.B) {
	samples := soakRun(73, 13, func(i int, s *Sample) {
		for c := range 300 {
			s.Slabs = append(s.Slabs, slab.Cache{Name: "cache-" + string(rune('a'+c%26)) + "-" + itoa(c), ActiveObjects: int64(1000 + (c%7)*i), ObjectSizeBytes: 64})
		}
	})
	b.ResetTimer()
	for b.Loop() {
		Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestJudge_AllocSiteNamingTheCulpritCorroborates(t *testing.T) {
	// dentry grows; kmemleak reports 40-byte objects (no size match with a
	// 192-byte named cache) whose culprit is the cache's allocation site.
	samples := soakRun(73, 14, func(i int, s *Sample) {
		s.Slabs[2].ActiveObjects += int64(300 * i)
		s.AllocSites = map[string][]slab.AllocSite{"dentry": {{Count: 900, Caller: "d_alloc_parallel"}}}
		if i >= 10 {
			s.Leaks = []kmemleak.Group{{Signature: "sig-d", Count: i - 9, Bytes: int64(40 * (i - 9)), SizesBytes: []int64{40},
				Culprit: &kmemleak.Frame{Function: "d_alloc_parallel"}}}
		}
	})
	j := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})
	f := findSubject(j, "dentry")
	if f == nil || len(f.Evidence) != 1 || f.Evidence[0].Subject != "sig-d" || findSubject(j, "sig-d") != nil {
		t.Fatalf("findings %+v, want sig-d folded into dentry", j.Findings)
	}
}

func TestJudge_GrowthBelowTheFloorIsALeakWhenItWouldExhaustMemory(t *testing.T) {
	// kmalloc-128 grows 512 KiB over the run (below the 1 MiB floor), but
	// only 20 MiB are available: at ~45 KiB/h that is gone in under 30 days.
	samples := soakRun(73, 15, func(i int, s *Sample) {
		s.Slabs[1].ActiveObjects += int64(56 * i)
		s.Mem["MemAvailable"] = 20<<20 + uint64(i%3)*4096
	})
	j := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})
	f := findSubject(j, "kmalloc-128")
	if f == nil || f.Verdict != verdict.Leak || f.GrowthBytes >= 1<<20 || f.TimeToExhaustion <= 0 || f.TimeToExhaustion > 30*24*time.Hour {
		t.Fatalf("finding %+v, want a leak below the floor with a time to exhaustion under 30 days", f)
	}
	// The same growth with plenty of memory is only a suspect.
	plenty := soakRun(73, 15, func(i int, s *Sample) { s.Slabs[1].ActiveObjects += int64(56 * i) })
	if g := findSubject(Judge(plenty, DefaultPolicy(), JudgeOptions{Final: true}), "kmalloc-128"); g == nil || g.Verdict != verdict.Suspect {
		t.Fatalf("finding %+v, want a suspect", g)
	}
}
