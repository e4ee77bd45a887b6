package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/internal/rig"
)

// TestRigSoak_FastGridEndsALeakingSoakEarly is the early verdict, time
// compressed (the profile's 45 s warm-up stands for 45 min): wlansim leaks
// one RX buffer in 8 frames (about 1 MiB a minute here, 1 MiB/h in soak
// time), full samples come every 30 s (a kmemleak double scan takes
// seconds under TCG, and the fast grid runs in the time between), the
// cheap counters every 2 s, and the soak must end well before its 6
// minutes, naming the cache: the full grid alone needs 36 samples after
// the warm-up to stop early, 18 minutes at this interval.
func TestRigSoak_FastGridEndsALeakingSoakEarly(t *testing.T) {
	t.Parallel()
	vm := rig.Start(t, rig.BootOptions{ModuleParams: map[string]string{"leak": "1", "leak_every": "8"}})
	start := time.Now()
	res := soak(t, vm, "--interval", "30s", "--fast-interval", "2s", "--duration", "6m")
	took := time.Since(start)

	if res.exitCode == 0 || res.report.Verdict != "fail" {
		t.Fatalf("exit %d, verdict %q; want a fail\n%s", res.exitCode, res.report.Verdict, res.output)
	}
	slab := res.find("slab", checksLeak)
	if slab == nil || (!strings.Contains(slab.Subject, "wlansim") && !strings.HasPrefix(slab.Subject, "kmalloc")) {
		t.Fatalf("no slab leak naming the driver's cache; findings: %s", res.summary())
	}
	if !strings.Contains(res.output, "ended early") {
		t.Errorf("the soak did not end early (it took %s of a planned 6 min soak)\n%s", took.Round(time.Second), res.output)
	}
	if res.report.Samples >= res.report.PlannedSamples {
		t.Errorf("%d of %d planned samples taken: the soak ran its full length", res.report.Samples, res.report.PlannedSamples)
	}
	t.Logf("stopped after %d of %d full samples, %s wall (boot and build included)", res.report.Samples, res.report.PlannedSamples, took.Round(time.Second))
}
