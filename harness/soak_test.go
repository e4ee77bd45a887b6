package harness

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/remote"
)

// soakFor runs a whole soak against a scripted target on the fake clock.
func soakFor(t testing.TB, sc scenario, mutate func(*Config)) (*Run, *scriptedTarget) {
	t.Helper()
	clock := newFakeClock()
	clock.now = clock.now.Add(sc.startAfter)
	if sc.interval == 0 {
		sc.interval = 10 * time.Minute
	}
	tgt := newScriptedTarget(t, clock, sc)
	cfg := Config{
		Target:   tgt,
		Duration: 12 * time.Hour,
		Interval: sc.interval,
		OutDir:   filepath.Join(t.TempDir(), "out", "wifi_soak"),
		Clock:    clock,
		Versions: map[string]string{"leakgate": "test"},
	}
	if testing.Verbose() {
		cfg.Log = os.Stderr
	}
	if mutate != nil {
		mutate(&cfg)
	}
	run, err := Soak(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Soak: %v", err)
	}
	return run, tgt
}

func TestSoak_CleanTargetPassesAfterTheFullDuration(t *testing.T) {
	t.Parallel()
	run, tgt := soakFor(t, scenario{}, nil)

	if run.Meta.Status != verdict.Pass {
		t.Fatalf("status = %q (%s), want pass", run.Meta.Status, run.Meta.Error)
	}
	if got, want := len(run.Samples), 73; got != want {
		t.Errorf("samples = %d, want %d (baseline + 72)", got, want)
	}
	if len(run.Gaps) != 0 {
		t.Errorf("gaps = %v, want none", run.Gaps)
	}
	writes := tgt.kmemleakWrites()
	if len(writes) < 3 || writes[0] != "scan=off" {
		t.Errorf("kmemleak writes start %v, want scan=off first", writes)
	}
	for _, w := range writes {
		if w == "clear" {
			t.Errorf("the soak wrote clear to kmemleak; it must never clear during a soak")
		}
	}
	assertRunFolder(t, run)
}

func TestSoak_SlabLeakWithKmemleakSignatureFails(t *testing.T) {
	t.Parallel()
	sc := scenario{
		leakObjects: func(n int) int { return 3 * n },
		slabExtra: func(n int) map[string]int64 {
			return map[string]int64{"kmalloc-512": 0, "wlansim_rxbuf": int64(64 * n)}
		},
	}
	run, _ := soakFor(t, sc, nil)

	if run.Meta.Status != verdict.Fail {
		t.Fatalf("status = %q (%s), want fail", run.Meta.Status, run.Meta.Error)
	}
	var slabLeak, kmLeak bool
	for _, f := range run.Judgement.Findings {
		if f.Verdict != verdict.Leak {
			continue
		}
		if f.Kind == checks.KindSlab && f.Subject == "wlansim_rxbuf" {
			slabLeak = true
		}
		if f.Kind == checks.KindKmemleak && strings.Contains(f.Subject, "wlansim_alloc_rx_buf") {
			kmLeak = true
		}
	}
	if !slabLeak || !kmLeak {
		t.Errorf("findings %+v: want a slab leak in wlansim_rxbuf and a kmemleak leak blaming wlansim_alloc_rx_buf", run.Judgement.Findings)
	}
	msg := run.Message()
	if !strings.Contains(msg, "wlansim_rxbuf") {
		t.Errorf("message does not name the cache:\n%s", msg)
	}
	assertRunFolder(t, run)
}

// assertRunFolder checks the artifacts every finished run leaves.
func assertRunFolder(t *testing.T, run *Run) {
	t.Helper()
	for _, name := range []string{RunFile, SamplesFile, "report.json", "report.html"} {
		fi, err := os.Stat(filepath.Join(run.Dir, name))
		if err != nil {
			t.Errorf("run folder lacks %s: %v", name, err)
			continue
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; evidence must not be readable by other users", name, fi.Mode().Perm())
		}
	}
	var meta RunMeta
	data, err := os.ReadFile(filepath.Join(run.Dir, RunFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatalf("run.json: %v", err)
	}
	if meta.Status != run.Meta.Status || meta.Kernel == "" || meta.Ended.IsZero() {
		t.Errorf("run.json status=%q kernel=%q ended=%v; want the final status %q, a kernel and an end", meta.Status, meta.Kernel, meta.Ended, run.Meta.Status)
	}
	raws, _ := filepath.Glob(filepath.Join(run.Dir, RawDir, "[0-9]*.tar.gz")) // not the probes' raws
	if len(raws) != len(run.Samples) {
		t.Errorf("raw snapshots = %d, samples = %d; every sample keeps its raw snapshot", len(raws), len(run.Samples))
	}
	loaded, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatalf("LoadRun: %v", err)
	}
	if len(loaded.Samples) != len(run.Samples) || len(loaded.Gaps) != len(run.Gaps) {
		t.Errorf("LoadRun: %d samples %d gaps, want %d and %d", len(loaded.Samples), len(loaded.Gaps), len(run.Samples), len(run.Gaps))
	}
}

func TestSoak_ProcessLeakNamesTheProcess(t *testing.T) {
	t.Parallel()
	// hostapd's anonymous memory grows 96 kB a sample: 6.9 MB over 12 h.
	sc := scenario{procAnonKB: func(n int) int64 { return 2048 + 96*int64(n) }}
	run, _ := soakFor(t, sc, nil)

	if run.Meta.Status != verdict.Fail {
		t.Fatalf("status = %q (%s), want fail", run.Meta.Status, run.Meta.Error)
	}
	var found bool
	for _, f := range run.Judgement.Findings {
		if f.Verdict == verdict.Leak && f.Kind == checks.KindProcess && strings.HasPrefix(f.Subject, "hostapd") {
			found = true
		} else if f.Verdict == verdict.Leak {
			t.Errorf("unexpected leak %s %s", f.Kind, f.Subject)
		}
	}
	if !found {
		t.Errorf("no process leak naming hostapd in %+v", run.Judgement.Findings)
	}
	if msg := run.Message(); !strings.Contains(msg, "hostapd") {
		t.Errorf("message does not name hostapd:\n%s", msg)
	}
	assertRunFolder(t, run)
}

func TestSoak_BenignWarmupCachePasses(t *testing.T) {
	t.Parallel()
	// dentry fills by 30000 objects (5.5 MiB) in the first 40 minutes, then stays.
	sc := scenario{slabExtra: func(n int) map[string]int64 {
		return map[string]int64{"dentry": int64(min(n, 4)) * 7500}
	}}
	run, _ := soakFor(t, sc, nil)

	if run.Meta.Status != verdict.Pass {
		t.Fatalf("status = %q (%s), want pass; message:\n%s", run.Meta.Status, run.Meta.Error, run.Message())
	}
	if len(run.Samples) != 73 {
		t.Errorf("a clean run must run its full duration: %d samples, want 73", len(run.Samples))
	}
	assertRunFolder(t, run)
}

func TestSoak_RebootAtSampleFiveFailsNamingTheSample(t *testing.T) {
	t.Parallel()
	run, _ := soakFor(t, scenario{rebootAt: 5}, nil)

	if run.Meta.Status != verdict.Fail {
		t.Fatalf("status = %q, want fail", run.Meta.Status)
	}
	rb := run.Meta.Reboot
	if rb == nil || rb.AtSample != 5 || rb.OldBootID == rb.NewBootID {
		t.Fatalf("reboot record = %+v, want one at sample 5 with two boot ids", rb)
	}
	if len(run.Samples) != 5 {
		t.Errorf("kept %d samples, want the 5 before the reboot (0-4)", len(run.Samples))
	}
	if !strings.Contains(run.Meta.Error, "rebooted before sample 5") {
		t.Errorf("error %q does not say the target rebooted before sample 5", run.Meta.Error)
	}
	if rb.Evidence == "" || !strings.Contains(rb.Evidence, "dmesg") {
		t.Errorf("reboot evidence %q lacks the dmesg capture", rb.Evidence)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, EvidenceDir, "reboot.txt")); err != nil {
		t.Errorf("no evidence/reboot.txt: %v", err)
	}
	if msg := run.Message(); !strings.Contains(msg, "reboot") {
		t.Errorf("message does not mention the reboot:\n%s", msg)
	}
	loaded, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	loaded.Rejudge(nil)
	if status, _ := loaded.Outcome(); status != verdict.Fail || len(loaded.Samples) != 5 || loaded.Meta.Reboot == nil {
		t.Errorf("analyze of the rebooted run: status %q, %d samples, reboot %v; want fail, the 5 samples of the first boot, the reboot", status, len(loaded.Samples), loaded.Meta.Reboot)
	}
}

// linkDownAt reports whether the link is down (connections dropped and
// refused) at sample n: 10 and 11, and two intervals every 40 samples of
// the long variant.
func linkDownAt(n int) bool {
	if faultsLong() {
		return n%40 == 10 || n%40 == 11
	}
	return n == 10 || n == 11
}

func TestSoak_LinkDropShowsAsGapsThenRecovers(t *testing.T) {
	t.Parallel()
	// The link is down while samples 10 and 11 are due, then comes back.
	sc := scenario{down: linkDownAt}
	run, tgt := soakFor(t, sc, func(c *Config) { c.Duration = faultSoakDuration() })

	if run.Meta.Status != verdict.Pass {
		t.Fatalf("status = %q (%s), want pass", run.Meta.Status, run.Meta.Error)
	}
	var want []int
	for n := 1; n <= run.Meta.PlannedSamples; n++ {
		if linkDownAt(n) {
			want = append(want, n)
		}
	}
	for _, g := range run.Gaps {
		if !strings.Contains(g.Reason, "unreachable") {
			t.Errorf("gap %d reason %q does not say the target was unreachable", g.Index, g.Reason)
		}
	}
	if got := gapIndexes(run); !equalInts(got, want) {
		t.Errorf("gaps at %v, want %v", got, want)
	}
	if got, want := len(run.Samples), run.Meta.PlannedSamples+1-len(want); got != want {
		t.Errorf("samples = %d, want %d: none lost outside the outage", got, want)
	}
	if tgt.srv.Accepted() < 1+len(want)/2 {
		t.Errorf("server accepted %d connections; the target must have reconnected after each outage", tgt.srv.Accepted())
	}
	recs, err := readRecords(filepath.Join(run.Dir, SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	gaps := 0
	for _, r := range recs {
		if r.Gap != nil {
			gaps++
		}
	}
	if gaps != len(want) {
		t.Errorf("samples.jsonl holds %d gap records, want %d", gaps, len(want))
	}
	assertRunFolder(t, run)
}

func TestConfig_WarmupReplacesThePolicyWarmup(t *testing.T) {
	pol := DefaultPolicy()
	cfg := Config{Target: remoteStub{}, Warmup: 20 * time.Minute, Policy: &pol}

	if err := cfg.complete(); err != nil {
		t.Fatal(err)
	}

	if cfg.Policy.Warmup != 20*time.Minute {
		t.Errorf("policy warmup %s, want the configured 20m", cfg.Policy.Warmup)
	}
	if pol.Warmup == 20*time.Minute {
		t.Errorf("the caller's policy was modified in place")
	}
}

func TestSoak_ALibraryCallerIsHeldToTheFlagParsersTimingRules(t *testing.T) {
	cases := []struct {
		name     string
		interval time.Duration
		fast     time.Duration
		want     string
	}{
		{"a 1 s interval is refused with the scan protocol's reason", time.Second, 0,
			"soak: interval 1s: want at least 10s, because each full sample runs two kmemleak scans 6s apart (kmemleak reports an object only once it is 5s old at the start of a scan) and then reads the snapshot"},
		{"an interval just below the minimum is refused", 9999 * time.Millisecond, 0,
			"soak: interval 9.999s: want at least 10s, because each full sample runs two kmemleak scans 6s apart (kmemleak reports an object only once it is 5s old at the start of a scan) and then reads the snapshot"},
		{"a fast interval below a second is refused", 10 * time.Minute, 500 * time.Millisecond,
			"soak: fast interval 500ms: want 0 (off) or at least 1s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run, err := Soak(t.Context(), Config{Target: remoteStub{}, Duration: time.Hour, Interval: tc.interval,
				FastInterval: tc.fast, OutDir: t.TempDir(), Clock: newFakeClock()})
			if err == nil || err.Error() != tc.want || run != nil {
				t.Fatalf("Soak: run %v, err %v; want no run and the error\n%s", run, err, tc.want)
			}
		})
	}
}

func TestConfig_TheShortestTimingsTheFlagsAcceptAreAccepted(t *testing.T) {
	cfg := Config{Target: remoteStub{}, Duration: time.Hour, Interval: MinInterval, FastInterval: MinFastInterval}

	if err := cfg.complete(); err != nil {
		t.Fatalf("interval %s, fast interval %s: %v; want both accepted", MinInterval, MinFastInterval, err)
	}
}

// remoteStub is a Target that is never called: it only names itself.
type remoteStub struct{ remote.Target }

func (remoteStub) Name() string { return "stub" }
