package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/leakgate/leakgate/internal/rig"
	"github.com/leakgate/leakgate/remote/remotetest"
)

// TestRigFaults_ABriefOutageWhileTheSoakIsBehindScheduleCostsNoSample holds
// sample 2 back for 2.5 intervals (a kmemleak scan slower than an interval,
// or a loaded host: on the 2-core VM at load 20 the rig's samples run 30–60 s
// behind a 30 s grid on their own), then restarts dropbear just before
// sample 3, which is overdue. The outage lasts the seconds init takes to
// respawn dropbear; no sample should be lost to it.
func TestRigFaults_ABriefOutageWhileTheSoakIsBehindScheduleCostsNoSample(t *testing.T) {
	t.Parallel()
	vm := rig.Start(t, rig.BootOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	proxy := remotetest.NewLinkProxy(t, "127.0.0.1:"+itoa(vm.SSHPort()))
	const interval = 20 * time.Second
	held, restarted := false, false
	out := soakWithFault(t, vm, proxy, faultSoak{Interval: interval, Duration: 6 * interval, MaxBackoff: 2 * time.Second,
		Before: func(n int) {
			switch {
			case n == 2 && !held:
				held = true
				time.Sleep(5 * interval / 2)
			case n == 3 && !restarted:
				restarted = true
				restartDropbear(ctx, t, vm)
			}
		}})
	run := out.run
	dropbearListener(ctx, t, vm, "")

	assertSamples(t, out, indexesExcept(run.Meta.PlannedSamples), []int{})
	for _, g := range run.Gaps {
		t.Logf("gap %d at +%s after the baseline: %s", g.Index, g.At.Sub(run.Meta.BaselineAt).Round(100*time.Millisecond), g.Reason)
	}
}
