package checks

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/meminfo"
	"github.com/leakgate/leakgate/checks/verdict"
)

func TestSources_EveryEntryIsComplete(t *testing.T) {
	seen := map[Kind]bool{}
	for _, src := range Sources() {
		if src.Kind == "" || src.Noun == "" || (src.Unit != "bytes" && src.Unit != "objects") {
			t.Errorf("source %q: kind, noun and unit (bytes|objects) are required, got %+v", src.Kind, src)
		}
		if seen[src.Kind] {
			t.Errorf("kind %q registered twice", src.Kind)
		}
		seen[src.Kind] = true
		if src.Paths == nil || src.Parse == nil || src.Points == nil {
			t.Errorf("source %q: Paths, Parse and Points are required (a source that is read must reach a verdict)", src.Kind)
		}
		if src.Rule == RuleTrend && (src.MinGrowthBytes <= 0 || src.MinSlopeBytesPerHour <= 0) {
			t.Errorf("source %q: a trend source needs default floors", src.Kind)
		}
		if len(src.Paths(SampleOptions{})) == 0 && src.Kind != KindProcess {
			t.Errorf("source %q reads nothing", src.Kind)
		}
	}
	pol := DefaultPolicy()
	for _, src := range Sources() {
		if src.Rule == RuleTrend && (pol.MinGrowthBytes.For(src.Kind) != src.MinGrowthBytes || pol.MinSlopeBytesPerHour.For(src.Kind) != src.MinSlopeBytesPerHour) {
			t.Errorf("source %q: the default policy's floors are not the descriptor's", src.Kind)
		}
	}
}

// TestSources_EveryFileReadOnTheRigYieldsJudgedSeries parses the files
// captured from the reference target and checks that each source read there
// yields series, and that every series but those charted for context is
// judged: nothing is read only to be dropped.
func TestSources_EveryFileReadOnTheRigYieldsJudgedSeries(t *testing.T) {
	dir := filepath.Join("..", "testdata", "rig", "captured")
	files := map[string][]byte{PathBootID: []byte("b0\n"), PathUptime: []byte("100.0 90.0\n")}
	for name, p := range map[string]string{"slabinfo": PathSlabinfo, "meminfo": PathMeminfo, "kmemleak": PathKmemleak} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	files[PathVmallocinfo] = []byte("0xffffc90000000000-0xffffc90000005000   20480 alloc_large_system_hash+0x1d/0x2b pages=4 vmalloc N0=4\n")
	opts := SampleOptions{SkipProcesses: true}
	var samples []Sample
	for i := range 3 {
		samples = append(samples, ParseSnapshot(i, runStart.Add(time.Duration(i)*time.Minute), files, nil, opts))
	}
	for p, e := range samples[0].Errors {
		t.Errorf("captured %s: %s", p, e)
	}
	b := NewSeriesBuilder()
	for _, s := range samples {
		b.Add(s)
	}
	perKind := map[Kind]int{}
	for _, s := range b.Series() {
		perKind[s.Kind]++
		if len(s.Values) != 3 {
			t.Errorf("%s %s: %d points, want 3", s.Kind, s.Subject, len(s.Values))
		}
	}
	for _, k := range []Kind{KindSlab, KindKmemleak, KindVmalloc, KindMeminfo} {
		if perKind[k] == 0 {
			t.Errorf("no %s series from the captured files", k)
		}
	}
	j := b.Judge(DefaultPolicy(), JudgeOptions{Final: true})
	context := 1 // meminfo Slab
	if want := len(b.Series()) - context; j.Series != want {
		t.Errorf("judged %d series, want %d (every series but the context ones)", j.Series, want)
	}
}

func TestJudge_GrowingVmallocCallerIsALeakNamingTheCaller(t *testing.T) {
	samples := soakRun(73, 5, func(i int, s *Sample) {
		s.Vmalloc = []meminfo.VmallocCaller{
			{Caller: "wlansim_ring_grow", Module: "wlansim", Areas: 1 + i, SizeBytes: int64(1+i) * 68 << 10},
			{Caller: "alloc_large_system_hash", Areas: 3, SizeBytes: 3 << 20},
		}
	})
	j := Judge(samples, DefaultPolicy(), JudgeOptions{Final: true})
	f := findSubject(j, "wlansim_ring_grow [wlansim]")
	if f == nil || f.Kind != KindVmalloc || f.Verdict != verdict.Leak {
		t.Fatalf("vmalloc caller growing 68 KiB every 10 min: finding %+v, want a vmalloc leak; all %+v", f, j.Findings)
	}
	if findSubject(j, "alloc_large_system_hash") != nil {
		t.Errorf("a flat vmalloc caller got a finding")
	}
}

func TestJudge_OKCountsOnlySeriesWithoutAFinding(t *testing.T) {
	j := Judge(soakRun(73, 3, leakingKmalloc128), DefaultPolicy(), JudgeOptions{Final: true})
	withFinding := 0
	for _, f := range j.Findings {
		if f.Kind != KindMeminfo || f.Subject != SubjectMemAvailable || !strings.Contains(f.Reason, "floor") {
			withFinding += 1 + len(f.Evidence)
		}
	}
	if j.OK+j.Insufficient+withFinding != j.Series {
		t.Errorf("ok %d + insufficient %d + with a finding %d != series %d", j.OK, j.Insufficient, withFinding, j.Series)
	}
}

func TestPolicy_FloorsOfAnUnknownKindAreRefused(t *testing.T) {
	_, err := LoadPolicy([]byte("min_growth_bytes: {slabs: 1048576}\n"), DefaultPolicy())
	if err == nil || !strings.Contains(err.Error(), "min_growth_bytes.slabs") || !strings.Contains(err.Error(), "slab, process, vmalloc, allocinfo, page_owner, meminfo") {
		t.Fatalf("err %v, want the unknown kind named with the known ones", err)
	}
	base := DefaultPolicy()
	p, err := LoadPolicy([]byte("min_growth_bytes: {vmalloc: 2097152}\n"), base)
	if err != nil {
		t.Fatal(err)
	}
	if p.MinGrowthBytes[KindVmalloc] != 2<<20 || p.MinGrowthBytes[KindSlab] != 1<<20 || base.MinGrowthBytes[KindVmalloc] != 1<<20 {
		t.Errorf("override %v over base %v: want vmalloc 2 MiB, slab kept, base untouched", p.MinGrowthBytes, base.MinGrowthBytes)
	}
}

func TestSnapshotPaths_AFastSampleReadsOnlyTheCheapCounters(t *testing.T) {
	opts := SampleOptions{AllocTraces: true, AllocCallsCaches: []string{"kmalloc-64"}, Fast: true}
	got := strings.Join(SnapshotPaths(opts), " ")
	want := "/proc/sys/kernel/random/boot_id /proc/uptime /proc/slabinfo /proc/vmallocinfo /proc/allocinfo /proc/meminfo"
	if got != want {
		t.Errorf("fast paths:\n got %s\nwant %s", got, want)
	}
	opts.Fast = false
	full := strings.Join(SnapshotPaths(opts), " ")
	for _, p := range []string{GlobAllocTraces, "/sys/kernel/slab/kmalloc-64/alloc_calls", PathKmemleak, GlobProcSmapsRollup, "/sys/kernel/debug/page_owner_stacks/show_stacks"} {
		if !strings.Contains(full, p) {
			t.Errorf("a full sample does not read %s: %s", p, full)
		}
	}
}
