package harness

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/remote"
)

// staticTarget answers instantly from memory: the captured rig's files for
// every read, success for every command. It isolates the harness's own
// memory and time from the link's.
type staticTarget struct{ files map[string][]byte }

func (staticTarget) Name() string { return "static" }
func (staticTarget) Run(context.Context, []string, remote.RunOptions) (remote.Result, error) {
	return remote.Result{}, nil
}
func (s staticTarget) ReadFiles(_ context.Context, paths []string, _ remote.ReadOptions) (*remote.Snapshot, error) {
	return &remote.Snapshot{Files: s.files}, nil
}
func (staticTarget) Upload(context.Context, string, string, uint32) error { return nil }
func (staticTarget) Download(context.Context, string, string) (string, error) {
	return "", os.ErrNotExist
}
func (staticTarget) Close() error { return nil }

func newStaticTarget(tb testing.TB) staticTarget {
	files := map[string][]byte{
		checks.PathBootID:            []byte("6f1c2e5a-0b7d-4c1e-9d1a-3b2f5c7e8a90\n"),
		checks.PathUptime:            []byte("1000.00 1800.00\n"),
		checks.PathSlabinfo:          []byte(captured(tb, "slabinfo")),
		checks.PathMeminfo:           []byte(captured(tb, "meminfo")),
		checks.PathKmemleak:          []byte(captured(tb, "kmemleak")),
		"/proc/40/status":            []byte(captured(tb, "wlansimd-status")),
		"/proc/40/smaps_rollup":      []byte(captured(tb, "wlansimd-smaps_rollup")),
		"/proc/sys/kernel/osrelease": []byte("6.12.117\n"),
		"/proc/mounts":               []byte("debugfs /sys/kernel/debug debugfs rw 0 0\n"),
		"/proc/cmdline":              []byte("kmemleak=on slub_debug=U\n"),
	}
	return staticTarget{files: files}
}

// BenchmarkSoakMemory soaks the static target on the fake clock for
// LEAKGATE_BENCH_HOURS (default 6) at 10 s sampling and reports the heap
// the finished run holds and the process's peak RSS.
//
//	LEAKGATE_BENCH_HOURS=24 go test -run '^$' -bench SoakMemory -benchtime 1x ./harness/
//
// With LEAKGATE_BENCH_ANALYZE=1 it then loads and re-judges the run folder
// as leakgate analyze does and reports the heap that holds.
func BenchmarkSoakMemory(b *testing.B) {
	hours := 6
	if v := os.Getenv("LEAKGATE_BENCH_HOURS"); v != "" {
		if _, err := fmtSscan(v, &hours); err != nil {
			b.Fatal(err)
		}
	}
	tgt := newStaticTarget(b)
	for b.Loop() {
		clock := newFakeClock()
		run, err := Soak(context.Background(), Config{Target: tgt, Duration: time.Duration(hours) * time.Hour, Interval: 10 * time.Second,
			OutDir: b.TempDir(), Clock: clock})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(len(run.Samples)), "samples")
		b.ReportMetric(float64(peakRSSKiB())/1024, "peak-RSS-MiB")
		runtime.KeepAlive(run)
		if os.Getenv("LEAKGATE_BENCH_ANALYZE") != "" {
			// leakgate analyze of the same folder: re-parse every raw, re-judge.
			dir := run.Dir
			run = nil
			runtime.GC()
			loaded, err := LoadRun(dir)
			if err != nil {
				b.Fatal(err)
			}
			loaded.Rejudge(nil)
			runtime.GC()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "analyze-heap-MiB")
			b.ReportMetric(float64(len(loaded.Samples)), "analyze-samples")
			runtime.KeepAlive(loaded)
		}
	}
}

func fmtSscan(s string, v *int) (int, error) { return fmt.Sscan(s, v) }

// peakRSSKiB is VmHWM of this process.
func peakRSSKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmHWM:"), "kB")), &kb)
			return kb
		}
	}
	return 0
}

// deadlineTarget records the time each kmemleak write was allowed.
type deadlineTarget struct {
	staticTarget
	budgets []time.Duration
	scripts []string
	words   []string
}

func (d *deadlineTarget) Run(ctx context.Context, argv []string, opts remote.RunOptions) (remote.Result, error) {
	if len(argv) > 5 && argv[5] == kmemleakPath {
		dl, ok := ctx.Deadline()
		if !ok {
			d.budgets = append(d.budgets, -1)
		} else {
			d.budgets = append(d.budgets, time.Until(dl))
		}
		d.scripts = append(d.scripts, argv[2])
		d.words = append(d.words, argv[4])
	}
	return remote.Result{}, nil
}

func TestSoak_KmemleakScansGetTheLongBudgetAndIgnoreHangups(t *testing.T) {
	tgt := &deadlineTarget{staticTarget: newStaticTarget(t)}

	run, err := Soak(context.Background(), Config{Target: tgt, Duration: time.Hour, Interval: 10 * time.Minute, OutDir: t.TempDir(), Clock: newFakeClock(), Policy: shortRunPolicy(6)})
	if err != nil {
		t.Fatal(err)
	}

	if run.Meta.Status == "error" {
		t.Fatalf("soak: %s", run.Meta.Error)
	}
	if len(tgt.budgets) != 3+2*6+1 || tgt.words[len(tgt.words)-1] != "scan=on" {
		t.Fatalf("kmemleak writes %q, want 16: baseline scan=off, scan, scan; two scans per sample; scan=on to restore the auto-scan", tgt.words)
	}
	for i, b := range tgt.budgets[:len(tgt.budgets)-1] {
		if b < 9*time.Minute {
			t.Errorf("write %d had %s; a scan must never get a short timeout (a signal aborts it silently)", i, b)
		}
		if !strings.HasPrefix(tgt.scripts[i], "trap '' HUP INT TERM PIPE;") {
			t.Errorf("write %d does not ignore hang-ups: %q", i, tgt.scripts[i])
		}
	}
}
