package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/harness"
	"github.com/leakgate/leakgate/harness/report"
	"github.com/leakgate/leakgate/internal/human"
	"github.com/leakgate/leakgate/internal/rig"
	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/remote/remotetest"
)

// faultSoak is one soak of the rig driven from Go (harness.Soak with the
// qemu-rig profile and the real clock), through a linkProxy, with a hook
// that runs before every call the harness makes on the target, so a fault
// lands at a known sample.
type faultSoak struct {
	// Interval and Duration override the profile's (10 s, 3 min).
	// A sample on the rig takes ~8 s on an idle host (scan, 6 s, scan, read)
	// and 25 s at a load average of 25, so the fault soaks use 30 s slots: a
	// fault then lands inside its sample's slot instead of on a soak that
	// is already behind its schedule.
	Interval, Duration time.Duration
	// MaxBackoff caps the harness's wait between reconnect attempts.
	MaxBackoff time.Duration
	// Before runs before every target call with the index of the sample in
	// progress (0 during preflight and the baseline). It runs on the soak's
	// goroutine: the call waits for it.
	Before func(sample int)
}

// faultOutcome is what a fault soak left: the run as Soak returned it, the
// same run re-read from its folder (samples.jsonl, raw/), and report.json.
type faultOutcome struct {
	run    *harness.Run
	loaded *harness.Run
	report report.Run
	wall   time.Duration
	// target saw every call; its firstAnswerAfter measures recovery.
	target *watchedTarget
}

// linkOptions are how the fault soaks reach the rig: the rig's key and host
// key, no ssh_config or agent, the default 15 s connect timeout (a handshake
// with a TCG guest on a loaded host takes seconds), keepalives that notice a
// silent link in 15 s, and one connection attempt per call (the harness's
// sample loop retries).
func linkOptions(t *testing.T, vm *rig.VM, port int) remote.Options {
	t.Helper()
	pub, err := os.ReadFile(vm.Paths().HostPublicKey)
	if err != nil {
		t.Fatalf("read the rig's host key: %v", err)
	}
	known := filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%d %s\n", port, strings.TrimSpace(string(pub)))
	if err := os.WriteFile(known, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	return remote.Options{
		IdentityFiles:     []string{vm.IdentityFile()},
		KnownHostsFiles:   []string{known},
		SSHConfigFile:     "none",
		NoAgent:           true,
		ConnectTimeout:    15 * time.Second,
		KeepaliveInterval: 5 * time.Second,
		KeepaliveCountMax: 3,
		ReconnectAttempts: 1,
	}
}

// soakWithFault runs fs against vm through proxy and returns what it left.
func soakWithFault(t *testing.T, vm *rig.VM, proxy *remotetest.LinkProxy, fs faultSoak) faultOutcome {
	t.Helper()
	prof, err := harness.LoadProfile(filepath.Join(moduleRoot(t), "testdata", "profiles", "qemu-rig.yaml"))
	if err != nil {
		t.Fatalf("load the qemu-rig profile: %v", err)
	}
	// Host workloads reach the rig's UDP port through their own environment,
	// so soaks of several rigs can run in one test process.
	for i := range prof.Workloads {
		if prof.Workloads[i].Side == harness.SideHost {
			if prof.Workloads[i].Env == nil {
				prof.Workloads[i].Env = map[string]string{}
			}
			prof.Workloads[i].Env["RIG_UDP_PORT"] = strconv.Itoa(vm.UDPPort())
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	spec := fmt.Sprintf("ssh://root@127.0.0.1:%d", proxy.Port())
	conn, err := remote.Dial(ctx, spec, linkOptions(t, vm, proxy.Port()))
	if err != nil {
		t.Fatalf("dial the rig through the proxy: %v", err)
	}
	defer conn.Close()
	tgt := &watchedTarget{Target: conn, last: -1, before: fs.Before}

	cfg := harness.Config{
		Target:     tgt,
		TargetName: "rig",
		TargetHost: "127.0.0.1",
		Profile:    prof,
		Duration:   fs.Duration,
		Interval:   fs.Interval,
		OutDir:     filepath.Join(t.TempDir(), "out"),
		MaxBackoff: fs.MaxBackoff,
		Progress:   tgt.progress,
		Log:        &lineLog{t: t},
	}
	start := time.Now()
	run, err := harness.Soak(ctx, cfg)
	if err != nil {
		t.Fatalf("Soak: %v", err)
	}
	out := faultOutcome{run: run, wall: time.Since(start), target: tgt}
	if out.loaded, err = harness.LoadRun(run.Dir); err != nil {
		t.Fatalf("LoadRun %s: %v", run.Dir, err)
	}
	data, err := os.ReadFile(filepath.Join(run.Dir, "report.json"))
	if err != nil {
		t.Fatalf("read report.json: %v", err)
	}
	if err := json.Unmarshal(data, &out.report); err != nil {
		t.Fatalf("report.json: %v", err)
	}
	t.Logf("soak of %s took %s: verdict %s, %d samples, gaps %v%s", spec, out.wall.Round(time.Second),
		run.Meta.Status, len(run.Samples), gapIndexes(run), suffix(run.Meta.Error))
	return out
}

// watchedTarget passes every call to the rig after running the fault hook
// with the sample in progress, which it learns from the soak's Progress
// callback (called after every sample and every gap).
type watchedTarget struct {
	remote.Target
	mu     sync.Mutex
	last   int // the last sample reported; -1 before the baseline's
	before func(sample int)
	// hookMu makes the hook run once at a time: periodic target workloads
	// call the target from their own goroutines.
	hookMu sync.Mutex
	// answered holds when each call that succeeded returned.
	answered []time.Time
}

// firstAnswerAfter is how long after t0 the first call that succeeded
// returned: the recovery time of a fault injected at t0; -1 if none did.
func (w *watchedTarget) firstAnswerAfter(t0 time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, at := range w.answered {
		if at.After(t0) {
			return at.Sub(t0)
		}
	}
	return -1
}

func (w *watchedTarget) answer(err error) {
	if err != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answered = append(w.answered, time.Now())
}

func (w *watchedTarget) progress(p harness.Progress) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = p.Sample
}

func (w *watchedTarget) hook() {
	if w.before == nil {
		return
	}
	w.hookMu.Lock()
	defer w.hookMu.Unlock()
	w.mu.Lock()
	n := w.last + 1
	w.mu.Unlock()
	w.before(n)
}

func (w *watchedTarget) Run(ctx context.Context, argv []string, opts remote.RunOptions) (remote.Result, error) {
	w.hook()
	res, err := w.Target.Run(ctx, argv, opts)
	w.answer(err)
	return res, err
}

func (w *watchedTarget) ReadFiles(ctx context.Context, paths []string, opts remote.ReadOptions) (*remote.Snapshot, error) {
	w.hook()
	snap, err := w.Target.ReadFiles(ctx, paths, opts)
	w.answer(err)
	return snap, err
}

// lineLog sends the soak's lifecycle log to the test log in -v runs.
type lineLog struct {
	t   *testing.T
	mu  sync.Mutex
	buf []byte
}

func (l *lineLog) Write(p []byte) (int, error) {
	if !testing.Verbose() {
		return len(p), nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.t.Log(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

func gapIndexes(run *harness.Run) []int {
	out := []int{}
	for _, g := range run.Gaps {
		out = append(out, g.Index)
	}
	return out
}

func sampleIndexes(run *harness.Run) []int {
	out := []int{}
	for _, s := range run.Samples {
		out = append(out, s.Index)
	}
	return out
}

func reportGapIndexes(r report.Run) []int {
	out := []int{}
	for _, g := range r.Gaps {
		out = append(out, g.Index)
	}
	return out
}

// indexesExcept is 0..last without the given indexes.
func indexesExcept(last int, except ...int) []int {
	out := []int{}
	for i := 0; i <= last; i++ {
		if !slices.Contains(except, i) {
			out = append(out, i)
		}
	}
	return out
}

// assertSamples checks, in the run Soak returned, in the folder re-read from
// samples.jsonl and raw/, and in report.json, that exactly the samples want
// were taken and exactly the gaps wantGaps recorded.
func assertSamples(t *testing.T, out faultOutcome, want, wantGaps []int) {
	t.Helper()
	for _, c := range []struct {
		name string
		run  *harness.Run
	}{{"the run", out.run}, {"the run folder (samples.jsonl, raw/)", out.loaded}} {
		if got := sampleIndexes(c.run); !slices.Equal(got, want) {
			t.Errorf("%s has samples %v, want %v", c.name, got, want)
		}
		if got := gapIndexes(c.run); !slices.Equal(got, wantGaps) {
			t.Errorf("%s has gaps %v, want %v", c.name, got, wantGaps)
		}
	}
	if out.report.Samples != len(want) {
		t.Errorf("report.json says %d samples, want %d", out.report.Samples, len(want))
	}
	if got := reportGapIndexes(out.report); !slices.Equal(got, wantGaps) {
		t.Errorf("report.json lists gaps %v, want %v", got, wantGaps)
	}
}

// lateness is how long after its due time sample i was taken (a sample is
// taken after the kmemleak scan, wait, scan, so ~7 s late on schedule); -1
// when there is no sample i.
func lateness(run *harness.Run, i int) time.Duration {
	for _, s := range run.Samples {
		if s.Index == i {
			return s.At.Sub(run.Meta.BaselineAt.Add(time.Duration(i) * run.Meta.Interval))
		}
	}
	return -1
}

// usualLateness is the median lateness of the samples not in hit: what "on
// schedule" means on this machine during this run.
func usualLateness(run *harness.Run, hit ...int) time.Duration {
	var ds []time.Duration
	for _, s := range run.Samples {
		if s.Index > 0 && !slices.Contains(hit, s.Index) {
			ds = append(ds, lateness(run, s.Index))
		}
	}
	if len(ds) == 0 {
		return -1
	}
	sort.Slice(ds, func(a, b int) bool { return ds[a] < ds[b] })
	return ds[len(ds)/2]
}

// longFaults reports whether the long variants were asked for
// (LEAKGATE_FAULTS_LONG=1, as make soak-faults sets).
func longFaults() bool { return os.Getenv("LEAKGATE_FAULTS_LONG") == "1" }

// wantUndisturbedVerdict checks that a fault soak of the clean rig ended as
// an undisturbed soak of its length would: a pass, with no error, when at
// least min_samples samples follow the profile's warm-up; otherwise the
// error saying the run is too short to judge (a run whose series all lack
// samples never passes, live or re-judged). Either way nothing in the
// verdict mentions the fault.
func wantUndisturbedVerdict(t *testing.T, out faultOutcome) {
	t.Helper()
	run := out.run
	if run.Meta.Policy == nil || len(run.Samples) == 0 {
		t.Fatalf("the run recorded no policy or no sample: %s %q", run.Meta.Status, run.Meta.Error)
	}
	pol := *run.Meta.Policy
	judged := 0
	for _, s := range run.Samples {
		if s.At.Sub(run.Samples[0].At) >= pol.Warmup {
			judged++
		}
	}
	wantStatus, wantError := verdict.Pass, ""
	if judged < pol.MinSamples {
		wantStatus = verdict.Error
		wantError = fmt.Sprintf("%d samples after the warm-up of %s, and a verdict needs %d (min_samples); a run this short cannot pass the gate", judged, human.Duration(pol.Warmup), pol.MinSamples)
	}
	if run.Meta.Status != wantStatus || out.report.Verdict != wantStatus || run.Meta.Error != wantError {
		t.Errorf("status %q, report.json verdict %q, error %q; want %q with error %q: the fault must leave no trace in the verdict\n%s",
			run.Meta.Status, out.report.Verdict, run.Meta.Error, wantStatus, wantError, run.Message())
	}
}
