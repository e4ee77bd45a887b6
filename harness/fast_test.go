package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/remote"
)

// leakOneMiBPerHour grows wlansim_rxbuf (576-byte objects) by 30 objects a
// minute: 1.0 MiB/h, seen by the fast grid between full samples.
var leakOneMiBPerHour = scenario{
	slabPerMinute: true,
	slabExtra: func(m int) map[string]int64 {
		return map[string]int64{"wlansim_rxbuf": int64(30 * m)}
	},
}

func TestSoak_FastCountersEndALeakingSoakEarlyNamingTheCache(t *testing.T) {
	t.Parallel()
	run, _ := soakFor(t, leakOneMiBPerHour, func(c *Config) { c.FastInterval = time.Minute })

	if run.Meta.Status != verdict.Fail {
		t.Fatalf("status = %q (%s), want fail", run.Meta.Status, run.Meta.Error)
	}
	f := leakFinding(run, checks.KindSlab, "wlansim_rxbuf")
	if f == nil {
		t.Fatalf("no slab leak naming wlansim_rxbuf: %+v", run.Judgement.Findings)
	}
	soaked := run.Samples[len(run.Samples)-1].At.Sub(run.Meta.BaselineAt)
	// The sequential rule looks first early_min_span (2 h) after the 1 h
	// warm-up, then every early_look_every (10 min): a 1 MiB/h leak sampled
	// every minute is certain by the first look.
	pol := DefaultPolicy()
	if bound := pol.Warmup + pol.EarlyMinSpan + pol.EarlyLookEvery; soaked > bound {
		t.Errorf("the soak ran %s before stopping; the fast grid should stop a 1 MiB/h leak by the sequential rule's first look (%s)", soaked, bound)
	}
	if run.FastSamples < 30 || run.Meta.FastInterval != time.Minute {
		t.Errorf("fast samples %d, recorded fast interval %s: want the fast grid at 1m", run.FastSamples, run.Meta.FastInterval)
	}
	fast, err := os.ReadDir(filepath.Join(run.Dir, RawDir, FastRawDir))
	if err != nil || len(fast) != run.FastSamples {
		t.Errorf("raw/fast holds %d snapshots (%v), want one per fast sample (%d)", len(fast), err, run.FastSamples)
	}
	if !strings.Contains(run.Message(), "wlansim_rxbuf") {
		t.Errorf("the message does not name the cache:\n%s", run.Message())
	}

	// Re-judged from its folder, the run fails the same way: the fast raws
	// are evidence like the full ones.
	loaded, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Rejudge(nil)
	if status, _ := loaded.Outcome(); loaded.FastSamples != run.FastSamples || leakFinding(loaded, checks.KindSlab, "wlansim_rxbuf") == nil || status != verdict.Fail {
		t.Errorf("loaded run: %d fast samples (want %d), status %s, findings %+v", loaded.FastSamples, run.FastSamples, status, loaded.Judgement.Findings)
	}
}

func TestSoak_ALeakTheEarlyRuleStoppedIsToldWithTheFiguresThatStoppedIt(t *testing.T) {
	t.Parallel()
	// 8 wlansim_rxbuf objects (576 bytes) a minute: 270 KiB/h, under the
	// final judge's floors after 2 h of judged samples, so the finding
	// that names it is the early rule's.
	slow := scenario{slabPerMinute: true, slabExtra: func(m int) map[string]int64 {
		return map[string]int64{"wlansim_rxbuf": int64(8 * m)}
	}}
	run, _ := soakFor(t, slow, func(c *Config) { c.FastInterval = time.Minute })

	f := leakFinding(run, checks.KindSlab, "wlansim_rxbuf")
	if f == nil || !strings.HasPrefix(f.Reason, "stopped at 3 h: ") {
		t.Fatalf("no early-rule leak naming wlansim_rxbuf: %+v", run.Judgement.Findings)
	}
	// The judged window runs from the end of the 1 h warm-up to the stop
	// at 3 h: 13 full samples, 12 steps of 80 objects, 960 objects =
	// 552 960 bytes = 540.0 KiB, 480 objects/h.
	want := "leak: slab cache wlansim_rxbuf +960 objects (+540.0 KiB, +480/h, p<1e-9, 12/12 intervals rising) on " + run.Meta.Target
	if lines := strings.Split(run.Message(), "\n"); !slices.Contains(lines, want) {
		t.Errorf("the message has no line\n%s\nmessage:\n%s", want, run.Message())
	}
}

func TestSoak_FastGridOnACleanTargetRunsTheFullDuration(t *testing.T) {
	t.Parallel()
	run, tgt := soakFor(t, scenario{}, func(c *Config) { c.FastInterval = time.Minute })

	if run.Meta.Status != verdict.Pass || len(run.Samples) != 73 {
		t.Fatalf("status %q (%s), %d samples: want a pass after 73 samples", run.Meta.Status, run.Meta.Error, len(run.Samples))
	}
	// Nine fast samples between two full ones (the one due with a full
	// sample is not taken): 72 intervals × 9.
	if run.FastSamples != 72*9 {
		t.Errorf("fast samples = %d, want %d", run.FastSamples, 72*9)
	}
	// The fast grid reads only the cheap counters: no kmemleak scan. A full
	// sample writes about three times (scan, scan, retries under load); 648
	// fast samples that scanned would add at least 1296.
	if w := tgt.kmemleakWrites(); len(w) > 4*73 {
		t.Errorf("%d kmemleak writes for 73 full samples: the fast grid scanned", len(w))
	}
	// No slot was skipped, and run.json says so rather than saying nothing.
	if got := runJSONField(t, run.Dir, "fast_grid"); got != `{"slots_skipped":0}` {
		t.Errorf("run.json fast_grid = %s, want {\"slots_skipped\":0}", got)
	}
}

func TestFlags_FastIntervalBelowASecondIsRefused(t *testing.T) {
	for _, v := range []string{"-1s", "10ms"} {
		var f Flags
		fs := newFlagSet()
		f.Register(fs)
		if err := fs.Parse([]string{"--target", "local", "--fast-interval", v}); err != nil {
			t.Fatal(err)
		}
		if err := f.Validate(); err == nil || !strings.Contains(err.Error(), "--fast-interval") {
			t.Errorf("--fast-interval %s: err %v, want it refused", v, err)
		}
	}
}

func leakFinding(r *Run, kind checks.Kind, subject string) *checks.Finding {
	for _, f := range r.Judgement.Findings {
		if f.Kind == kind && f.Subject == subject && f.Verdict == verdict.Leak {
			return &f
		}
	}
	return nil
}

func TestSoak_ReclaimProbeTurnsACacheThatGivesItsGrowthBackIntoReclaimable(t *testing.T) {
	t.Parallel()
	sc := scenario{
		slabExtra:   func(n int) map[string]int64 { return map[string]int64{"dentry": int64(400 * n)} },
		reclaimable: []string{"dentry"},
	}
	// No early stop: the run reaches its end and its final verdict. Growth
	// over the judged window (samples 6-72): 66 × 400 × 256 B = 6 758 400 B;
	// last (1301 + 28 800) × 256 = 7 705 856 B; after 1301 × 256 = 333 056 B;
	// given back 7 372 800 / 6 758 400 = 109 %.
	run, _ := soakFor(t, sc, func(c *Config) {
		pol := endOnlyPolicy()
		c.Policy = &pol
	})

	if run.Meta.Status != verdict.Pass {
		t.Fatalf("status %q (%s), want pass: findings %+v", run.Meta.Status, run.Meta.Error, run.Judgement.Findings)
	}
	var f *checks.Finding
	for _, x := range run.Judgement.Findings {
		if x.Kind == checks.KindSlab && x.Subject == "dentry" {
			f = &x
		}
	}
	if f == nil || f.Verdict != verdict.Reclaimable || !strings.Contains(f.Reason, "gave back 109 % of its growth when asked to reclaim (drop_caches, shrink): 7.3 MiB at the last sample, 325.2 KiB after") {
		t.Fatalf("dentry finding %+v, want reclaimable saying it gave its growth back", f)
	}
	p := run.Meta.Reclaim
	if p == nil || len(p.Results) != 1 || p.Results[0].Subject != "dentry" || !p.Results[0].Reclaimable {
		t.Fatalf("run.json reclaim probe %+v, want dentry reclaimable", p)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, RawDir, ProbeRawDir, "reclaim.tar.gz")); err != nil {
		t.Fatalf("the probe's raw snapshot: %v", err)
	}
	loaded, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// raw/probes is part of the run folder the probe wrote, not litter.
	if len(loaded.Unused) != 0 {
		t.Errorf("loaded run lists as unused %q, want nothing", loaded.Unused)
	}
	loaded.Rejudge(nil)
	if status, why := loaded.Outcome(); status != verdict.Pass {
		t.Errorf("re-judged: %s (%s), want the probe's result applied again (pass)", status, why)
	}
}

func TestSoak_ReclaimProbeLeavesALeakThatKeepsItsMemoryALeak(t *testing.T) {
	t.Parallel()
	sc := scenario{
		slabExtra: func(n int) map[string]int64 { return map[string]int64{"wlansim_rxbuf": int64(64 * n)} },
	}
	run, _ := soakFor(t, sc, nil)

	if run.Meta.Status != verdict.Fail || leakFinding(run, checks.KindSlab, "wlansim_rxbuf") == nil {
		t.Fatalf("status %q, findings %+v: want wlansim_rxbuf still a leak", run.Meta.Status, run.Judgement.Findings)
	}
	p := run.Meta.Reclaim
	if p == nil || len(p.Results) == 0 || p.Results[0].Reclaimable || p.Results[0].GaveBack > 0.01 {
		t.Fatalf("reclaim probe %+v: want it run, with nothing given back", p)
	}
}

func TestSoak_ARunStoppedEarlyForAReclaimableCacheIsAnErrorNotAPass(t *testing.T) {
	t.Parallel()
	sc := scenario{
		slabExtra:   func(n int) map[string]int64 { return map[string]int64{"dentry": int64(400 * n)} },
		reclaimable: []string{"dentry"},
	}
	run, _ := soakFor(t, sc, nil)

	if run.Meta.Status != verdict.Error || !strings.Contains(run.Meta.Error, "reclaim probe then found reclaimable (dentry)") {
		t.Fatalf("status %q (%s), want error: stopped early for a cache the probe found reclaimable", run.Meta.Status, run.Meta.Error)
	}
	if len(run.Samples) >= 73 {
		t.Errorf("%d samples: the run was meant to stop early", len(run.Samples))
	}
}

func TestSoak_ReloadProbeNamesTheSiteAModuleStillHeldAtUnload(t *testing.T) {
	t.Parallel()
	warn := "drivers/net/wireless/wlansim/wlansim.c:212 module wlansim func:wlansim_rx_fill has 1048576 allocated at module unload"
	// The commands run on this host (the in-process server); their files
	// live in a folder of the test's.
	dir := t.TempDir()
	klog, state := filepath.Join(dir, "klog"), filepath.Join(dir, "module-state")
	prof := &Profile{Name: "reload", ReloadModules: []ReloadModule{{
		Module: "wlansim",
		Unload: []string{"sh", "-c", `echo "[  812.1] $1" >> "$2"; echo unloaded > "$3"`, "sh", warn, klog, state},
		Load:   []string{"sh", "-c", `echo loaded > "$1"`, "sh", state},
		Log:    []string{"sh", "-c", `cat "$1" 2>/dev/null; exit 0`, "sh", klog},
	}}}
	run, _ := soakFor(t, scenario{}, func(c *Config) { c.Profile = prof })

	if run.Meta.Status != verdict.Fail {
		t.Fatalf("status %q (%s), want fail", run.Meta.Status, run.Meta.Error)
	}
	f := leakFinding(run, checks.KindAllocinfo, "drivers/net/wireless/wlansim/wlansim.c:212 [wlansim] func:wlansim_rx_fill")
	if f == nil || !strings.Contains(f.Reason, "still held 1.0 MiB when module wlansim was unloaded") {
		t.Fatalf("findings %+v, want the allocinfo site held at unload", run.Judgement.Findings)
	}
	if len(run.Meta.Reload) != 1 || !run.Meta.Reload[0].Unloaded || !run.Meta.Reload[0].Reloaded || len(run.Meta.Reload[0].Held) != 1 {
		t.Fatalf("run.json reload probe %+v", run.Meta.Reload)
	}
	got, err := os.ReadFile(state)
	if err != nil || strings.TrimSpace(string(got)) != "loaded" {
		t.Errorf("module state %q (%v): the probe must leave the module loaded", got, err)
	}
	if !strings.Contains(run.Message(), "allocation site drivers/net/wireless/wlansim/wlansim.c:212 [wlansim] func:wlansim_rx_fill") {
		t.Errorf("the message does not name the site:\n%s", run.Message())
	}
}

// TestSoak_OnA54KernelTheSlabFindingNamesItsAllocCallsSites soaks a target
// reporting kernel 5.4 whose wlansim_rxbuf tracks owners (store_user=1):
// before 5.14 the sites are in sysfs alloc_calls, which every sample must
// read for that cache, and the slab finding names the driver's function.
func TestSoak_OnA54KernelTheSlabFindingNamesItsAllocCallsSites(t *testing.T) {
	t.Parallel()
	sc := scenario{
		kernel: "5.4.194",
		files: map[string]string{
			"/sys/kernel/slab/wlansim_rxbuf/store_user":  "1\n",
			"/sys/kernel/slab/wlansim_rxbuf/alloc_calls": "    820 wlansim_alloc_rx_buf+0x2c/0x90 [wlansim] age=120/40211/90042 pid=40 cpus=0\n      4 kmem_cache_prealloc+0x10/0x40 age=5 pid=1 cpus=0\n",
			"/sys/kernel/slab/kmalloc-64/store_user":     "0\n",
		},
		slabExtra: func(n int) map[string]int64 { return map[string]int64{"wlansim_rxbuf": int64(64 * n)} },
	}
	run, _ := soakFor(t, sc, nil)

	if got := strings.Join(run.Meta.AllocCallsCaches, ","); got != "wlansim_rxbuf" {
		t.Fatalf("run.json alloc_calls_caches %q, want wlansim_rxbuf (the one cache with store_user=1)", got)
	}
	f := leakFinding(run, checks.KindSlab, "wlansim_rxbuf")
	if f == nil {
		t.Fatalf("no slab leak: %+v", run.Judgement.Findings)
	}
	if strings.Join(f.AllocCallers, ",") != "wlansim_alloc_rx_buf,kmem_cache_prealloc" {
		t.Errorf("allocation callers %q, want the sites alloc_calls lists", f.AllocCallers)
	}
	if !strings.Contains(run.Message(), "\n  allocated by wlansim_alloc_rx_buf, kmem_cache_prealloc (the cache's allocation sites)\n") {
		t.Errorf("the message does not name the allocation sites:\n%s", run.Message())
	}
}

func TestReport_CarriesTheJudgesSeriesCounts(t *testing.T) {
	r := &Run{Meta: RunMeta{Status: verdict.Pass}, Judgement: checks.Judgement{Series: 108, Insufficient: 3, OK: 105}}

	rr := r.Report()

	if rr.SeriesJudged != 108 || rr.SeriesInsufficient != 3 {
		t.Errorf("report series %d judged, %d insufficient; want the judgement's 108 and 3", rr.SeriesJudged, rr.SeriesInsufficient)
	}
}

func TestSoak_BothProbesRunWhenTheReclaimProbeHasSomethingToMeasure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	state := filepath.Join(dir, "module-state")
	prof := &Profile{Name: "both", ReloadModules: []ReloadModule{{
		Module: "wlansim",
		Unload: []string{"sh", "-c", `echo unloaded > "$1"`, "sh", state},
		Load:   []string{"sh", "-c", `echo loaded > "$1"`, "sh", state},
		Log:    []string{"true"},
	}}}
	sc := scenario{slabExtra: func(n int) map[string]int64 { return map[string]int64{"wlansim_rxbuf": int64(64 * n)} }}
	run, _ := soakFor(t, sc, func(c *Config) { c.Profile = prof })

	if run.Meta.Reclaim == nil || len(run.Meta.Reclaim.Results) == 0 {
		t.Errorf("the reclaim probe did not measure the flagged cache: %+v", run.Meta.Reclaim)
	}
	if len(run.Meta.Reload) != 1 || !run.Meta.Reload[0].Unloaded || !run.Meta.Reload[0].Reloaded {
		t.Errorf("the reload probe did not run after the reclaim probe: %+v", run.Meta.Reload)
	}
}

// slowTarget makes reads and scans take simulated time: every full
// sample's first kmemleak scan takes scan (0: none) and the fast read
// numbered slowFast (1-based) takes fastRead.
type slowTarget struct {
	*scriptedTarget
	clock    *fakeClock
	scan     time.Duration
	slowFast int
	fastRead time.Duration

	mu        sync.Mutex
	fastReads int
	lastScan  int
}

func (s *slowTarget) Run(ctx context.Context, argv []string, opts remote.RunOptions) (remote.Result, error) {
	if len(argv) > 4 && argv[4] == "scan" && s.scan > 0 {
		s.mu.Lock()
		n := s.sampleN()
		first := n != s.lastScan
		s.lastScan = n
		s.mu.Unlock()
		if first {
			<-s.clock.After(s.scan)
		}
	}
	return s.scriptedTarget.Run(ctx, argv, opts)
}

func (s *slowTarget) ReadFiles(ctx context.Context, paths []string, opts remote.ReadOptions) (*remote.Snapshot, error) {
	if slices.Equal(paths, s.fastPaths()) {
		s.mu.Lock()
		s.fastReads++
		slow := s.fastReads == s.slowFast
		s.mu.Unlock()
		if slow {
			<-s.clock.After(s.fastRead)
		}
	}
	return s.scriptedTarget.ReadFiles(ctx, paths, opts)
}

// fastPaths is what a fast sample reads.
func (s *slowTarget) fastPaths() []string {
	opts := sampleOptions(nil)
	opts.Fast = true
	return checks.SnapshotPaths(opts)
}

// fastTimes lists the times of a run's fast samples from raw/fast.
func fastTimes(t *testing.T, run *Run) []time.Time {
	t.Helper()
	dir := filepath.Join(run.Dir, RawDir, FastRawDir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []time.Time
	for _, e := range ents {
		_, meta, err := readRawMeta(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out = append(out, meta.At)
	}
	return out
}

func soakSlow(t *testing.T, sc scenario, tgt func(*scriptedTarget, *fakeClock) remote.Target, log io.Writer) *Run {
	t.Helper()
	clock := newFakeClock()
	if sc.interval == 0 {
		sc.interval = 10 * time.Minute
	}
	// An hour is enough to watch the grids; the judge gets a warm-up and a
	// sample count that let an hour reach a verdict.
	pol := DefaultPolicy()
	pol.Warmup, pol.MinSamples = 10*time.Minute, 4
	cfg := Config{
		Target: tgt(newScriptedTarget(t, clock, sc), clock), Duration: time.Hour, Interval: sc.interval,
		FastInterval: time.Minute, OutDir: t.TempDir(), Clock: clock, Log: log, Policy: &pol,
	}
	run, err := Soak(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func TestSoak_FastSlotsThatFallInsideASlowFullSampleAreStillTaken(t *testing.T) {
	t.Parallel()
	// Sample 2's first scan takes 15 min: it runs from 20 min to 35 min
	// after the baseline, past sample 3's due time.
	run := soakSlow(t, scenario{slowScanAt: 2}, func(s *scriptedTarget, _ *fakeClock) remote.Target { return s }, io.Discard)

	if run.Meta.Status != verdict.Pass || len(run.Samples) != 7 {
		t.Fatalf("status %q (%s), %d samples: want a pass with 7", run.Meta.Status, run.Meta.Error, len(run.Samples))
	}
	base, s2 := run.Meta.BaselineAt, run.Samples[2].At
	if want := base.Add(35 * time.Minute); !s2.Equal(want) {
		t.Fatalf("sample 2 read at %s, want %s (its scan took 15 min)", s2, want)
	}
	// Nine fast slots in each of the six intervals (the one due with a full
	// sample is that sample's), whatever the full samples are doing.
	times := fastTimes(t, run)
	if run.FastSamples != 54 || len(times) != 54 {
		t.Errorf("%d fast samples (%d raws), want 6 × 9 = 54", run.FastSamples, len(times))
	}
	// Inside sample 2 (20 min to 35 min): 21–29 and 31–34.
	inside := 0
	for _, at := range times {
		if at.After(base.Add(20*time.Minute)) && at.Before(s2) {
			inside++
		}
	}
	if inside != 13 {
		t.Errorf("%d fast samples taken while sample 2 was read, want 13 (minutes 21–29 and 31–34)", inside)
	}
}

func TestSoak_AFastSlotMissedWhileTheLastFastReadRunsIsSkippedAndCounted(t *testing.T) {
	t.Parallel()
	var log strings.Builder
	// The fifth fast read (5 min after the baseline) takes 2 min 30 s: the
	// slots at 6 and 7 min pass while it runs.
	run := soakSlow(t, scenario{}, func(s *scriptedTarget, c *fakeClock) remote.Target {
		return &slowTarget{scriptedTarget: s, clock: c, slowFast: 5, fastRead: 150 * time.Second}
	}, &syncWriter{w: &log})

	if run.Meta.Status != verdict.Pass {
		t.Fatalf("status %q (%s), want pass", run.Meta.Status, run.Meta.Error)
	}
	if run.FastSamples != 52 {
		t.Errorf("%d fast samples, want 54 − 2 skipped = 52", run.FastSamples)
	}
	at := func(d time.Duration) string {
		return run.Meta.BaselineAt.Add(d).UTC().Format(time.RFC3339) + " leakgate: "
	}
	for _, want := range []string{
		at(7*time.Minute+30*time.Second) + "fast grid: 2 slot(s) skipped after fast sample 5: its read outlasted the fast interval 1 min; later skips are counted, not logged",
		// After the last full sample: due at 1 h, read 6 s later (kmemleak's
		// scan spacing).
		at(time.Hour+6*time.Second) + "fast grid: 52 fast samples, 2 slots skipped (a read still running)",
	} {
		if !slices.Contains(strings.Split(log.String(), "\n"), want) {
			t.Errorf("the log has no line\n%s\nlog:\n%s", want, log.String())
		}
	}
	times := fastTimes(t, run)
	for _, skipped := range []time.Duration{6 * time.Minute, 7 * time.Minute} {
		if slices.ContainsFunc(times, func(at time.Time) bool { return at.Equal(run.Meta.BaselineAt.Add(skipped)) }) {
			t.Errorf("a fast sample was taken at %s, a slot that passed while the fifth read ran", skipped)
		}
	}
	// The next morning's reader finds the count and the slots in run.json
	// and in report.html's facts, not only in the log.
	first, last := run.Meta.BaselineAt.Add(6*time.Minute).UTC(), run.Meta.BaselineAt.Add(7*time.Minute).UTC()
	wantJSON := `{"slots_skipped":2,"first_skipped":"` + first.Format(time.RFC3339) + `","last_skipped":"` + last.Format(time.RFC3339) + `"}`
	if got := runJSONField(t, run.Dir, "fast_grid"); got != wantJSON {
		t.Errorf("run.json fast_grid = %s, want %s", got, wantJSON)
	}
	wantRow := "<tr><th>fast_slots_skipped</th><td>2, due " + first.Format(time.RFC3339) + " to " + last.Format(time.RFC3339) + ": the fast read before them was still running</td></tr>"
	if html, err := os.ReadFile(filepath.Join(run.Dir, "report.html")); err != nil || !strings.Contains(string(html), wantRow) {
		t.Errorf("report.html (%v) has no facts row\n%s", err, wantRow)
	}
}

// runJSONField returns one top-level field of dir's run.json as compact
// JSON ("" when it is absent).
func runJSONField(t *testing.T, dir, field string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", RunFile, err)
	}
	if m[field] == nil {
		return ""
	}
	var out bytes.Buffer
	if err := json.Compact(&out, m[field]); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestSoak_AnEarlyStopDuringAFullSampleLeavesNothingOfItWritten(t *testing.T) {
	t.Parallel()
	var log strings.Builder
	// Every full sample's first scan takes 9 min 30 s of its 10 min: the
	// fast grid's early test stops the run while one is being read.
	clock := newFakeClock()
	sc := leakOneMiBPerHour
	sc.interval = 10 * time.Minute
	tgt := &slowTarget{scriptedTarget: newScriptedTarget(t, clock, sc), clock: clock, scan: 9*time.Minute + 30*time.Second}
	cfg := Config{Target: tgt, Duration: 12 * time.Hour, Interval: sc.interval, FastInterval: time.Minute,
		OutDir: t.TempDir(), Clock: clock, Log: &syncWriter{w: &log}}
	run, err := Soak(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}

	if run.Meta.Status != verdict.Fail || leakFinding(run, checks.KindSlab, "wlansim_rxbuf") == nil {
		t.Fatalf("status %q (%s), findings %+v: want a fail naming wlansim_rxbuf", run.Meta.Status, run.Meta.Error, run.Judgement.Findings)
	}
	n := len(run.Samples) // samples 0..n-1 recorded; sample n was in flight
	if n >= 73 {
		t.Fatalf("%d samples: the run did not stop early", n)
	}
	lines := strings.Split(log.String(), "\n")
	abandoned := fmt.Sprintf("sample %d of 72: abandoned: the early test ended the soak while it was taken", n)
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, " leakgate: "+abandoned) }) {
		t.Errorf("the log has no line ending %q:\n%s", abandoned, log.String())
	}
	if _, err := os.Stat(filepath.Join(run.Dir, RawDir, fmt.Sprintf("%04d.tar.gz", n))); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("raw/%04d.tar.gz of the abandoned sample: %v, want none", n, err)
	}
	loaded, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded.Samples) != n || len(loaded.Unused) != 0 || loaded.FastSamples != run.FastSamples {
		t.Fatalf("loaded: %d samples (want %d), %d fast (want %d), unused %q", len(loaded.Samples), n, loaded.FastSamples, run.FastSamples, loaded.Unused)
	}
	loaded.Rejudge(nil)
	if status, _ := loaded.Outcome(); status != verdict.Fail || leakFinding(loaded, checks.KindSlab, "wlansim_rxbuf") == nil {
		t.Errorf("re-judged from the folder: %s, findings %+v; want the same fail", status, loaded.Judgement.Findings)
	}
}

// syncWriter serialises writes to a strings.Builder the test reads after
// the soak.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
