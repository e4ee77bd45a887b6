package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/harness"
	"github.com/leakgate/leakgate/harness/report"
	"github.com/leakgate/leakgate/internal/rig"
	"github.com/leakgate/leakgate/remote/remotetest"
)

// Faults against the QEMU reference target: the real 6.12 kernel, the real
// dropbear supervised by busybox init, the harness on the real clock at the
// qemu-rig profile's accelerated interval (10 s). Each soak goes through a
// linkProxy in the test (harness → proxy → QEMU hostfwd → dropbear), and a
// hook before every harness call injects the fault at a known sample.
// docs/reliability.md ("Faults against the QEMU reference target") has the
// table these tests produce. LEAKGATE_FAULTS_LONG=1 runs the long variants.

// faultInterval is the fault soaks' sample interval (see faultSoak.Interval).
const faultInterval = 30 * time.Second

// TestRigFaults_LinkDropsAndARebootOnOneRig shares one clean rig, booted so
// that a guest reboot restarts it in place, between two soaks: the SSH link
// dropped every third sample, then the target rebooted mid-run.
func TestRigFaults_LinkDropsAndARebootOnOneRig(t *testing.T) {
	t.Parallel()
	vm := rig.Start(t, rig.BootOptions{AllowReboot: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	t.Run("the SSH link dropped every third sample loses no sample", func(t *testing.T) {
		proxy := remotetest.NewLinkProxy(t, "127.0.0.1:"+itoa(vm.SSHPort()))
		samples := 6
		if longFaults() {
			samples = 15
		}
		var mu sync.Mutex
		dropped := map[int]int{}         // sample → connections closed just before it
		droppedAt := map[int]time.Time{} // sample → when
		out := soakWithFault(t, vm, proxy, faultSoak{Interval: faultInterval, Duration: time.Duration(samples) * faultInterval,
			MaxBackoff: 2 * time.Second,
			Before: func(n int) {
				mu.Lock()
				defer mu.Unlock()
				if n > 0 && n%3 == 0 {
					if _, done := dropped[n]; !done {
						dropped[n] = proxy.DropAll()
						droppedAt[n] = time.Now()
					}
				}
			}})
		run := out.run

		var hit []int
		for n := 3; n <= run.Meta.PlannedSamples; n += 3 {
			hit = append(hit, n)
			if dropped[n] < 1 {
				t.Errorf("no open connection was closed before sample %d (%v): the fault did not happen", n, dropped)
			}
		}
		// Every drop costs the harness one new connection.
		if got, want := proxy.Connections(), 1+len(hit); got < want {
			t.Errorf("the proxy accepted %d connections, want at least %d (the first, one after each drop)", got, want)
		}
		assertSamples(t, out, indexesExcept(run.Meta.PlannedSamples), []int{})
		wantUndisturbedVerdict(t, out)
		logDropbearFindings(t, out.report)
		for _, n := range hit {
			t.Logf("recovery: link dropped before sample %d; the harness's next call answered %s later; sample taken %s after due",
				n, out.target.firstAnswerAfter(droppedAt[n]).Round(100*time.Millisecond), lateness(run, n).Round(100*time.Millisecond))
		}
		t.Logf("undisturbed samples: median %s after due; %d connections for %d drops", usualLateness(run, hit...).Round(100*time.Millisecond), proxy.Connections(), len(hit))
	})

	t.Run("the target rebooted mid-run fails saying so and keeps the samples before", func(t *testing.T) {
		proxy := remotetest.NewLinkProxy(t, "127.0.0.1:"+itoa(vm.SSHPort()))
		const at = 2
		oldBoot := bootID(ctx, t, vm)
		var rebootedAt, backAt time.Time
		var newBoot string
		out := soakWithFault(t, vm, proxy, faultSoak{Interval: faultInterval, Duration: 4 * faultInterval, MaxBackoff: time.Second,
			Before: func(n int) {
				if n != at || !rebootedAt.IsZero() {
					return
				}
				// reboot -f, then hold the harness's call until the guest
				// answers SSH again: the reboot, not the outage (that is the
				// black-hole test), is what this soak is about.
				rebootedAt = time.Now()
				rebootGuest(ctx, t, vm)
				newBoot, backAt = waitForNewBoot(ctx, t, vm, oldBoot)
				// The old boot's TCP flow is dead; close it at the proxy and
				// give the keepalive (5 s) time to notice, as it would
				// within 20 s on its own.
				proxy.DropAll()
				time.Sleep(6 * time.Second)
			}})
		run := out.run

		if rebootedAt.IsZero() || newBoot == "" {
			t.Fatal("the guest was never rebooted; the test proved nothing")
		}
		if run.Meta.Status != verdict.Fail || out.report.Verdict != verdict.Fail {
			t.Errorf("status %q, report.json verdict %q, want fail", run.Meta.Status, out.report.Verdict)
		}
		for _, want := range []string{"target rig rebooted before sample 2 (boot_id changed)", "the samples before it are kept", "evidence/reboot.txt"} {
			if !strings.Contains(run.Meta.Error, want) || !strings.Contains(out.report.Error, want) {
				t.Errorf("run error %q / report.json error %q lacks %q", run.Meta.Error, out.report.Error, want)
			}
		}
		rb := out.report.Reboot
		if rb == nil || rb.AtSample != at || rb.OldBootID != oldBoot || rb.NewBootID != newBoot {
			t.Fatalf("report.json reboot = %+v, want one at sample %d from boot %s to %s", rb, at, oldBoot, newBoot)
		}
		assertSamples(t, out, []int{0, 1}, []int{})
		evidence, err := os.ReadFile(filepath.Join(run.Dir, harness.EvidenceDir, "reboot.txt"))
		if err != nil {
			t.Fatalf("no evidence/reboot.txt: %v", err)
		}
		if !strings.Contains(string(evidence), "== dmesg (the new boot)") || !strings.Contains(string(evidence), "rig: ready") {
			t.Errorf("evidence/reboot.txt lacks the new boot's dmesg:\n%.2000s", evidence)
		}
		if msg := run.Message(); !strings.Contains(msg, "reboot") {
			t.Errorf("the message does not mention the reboot:\n%s", msg)
		}
		if out.loaded.Meta.Reboot == nil || out.loaded.Meta.Status != verdict.Fail {
			t.Errorf("the folder re-read says status %q, reboot %+v; want fail with the reboot", out.loaded.Meta.Status, out.loaded.Meta.Reboot)
		}
		// samples.jsonl still holds the sample that saw the new boot (LoadRun drops it).
		seen, ok := sampleAt(t, run.Dir, at)
		if !ok {
			t.Fatalf("samples.jsonl has no line for sample %d, the one that saw the new boot", at)
		}
		t.Logf("recovery: the guest answered SSH %s after reboot -f; the harness's next call answered %s after that (6 s of it the test's wait), its sample %d read the new boot %s after the guest was back and ended the run",
			backAt.Sub(rebootedAt).Round(100*time.Millisecond), out.target.firstAnswerAfter(backAt).Round(100*time.Millisecond), at, seen.Sub(backAt).Round(100*time.Millisecond))
	})
}

// TestRigFaults_DropbearRestartAndABlackHoleOnOneRig shares one clean rig
// between two soaks: dropbear (the listener and every session) restarted
// mid-run, then the network black-holed for two intervals.
func TestRigFaults_DropbearRestartAndABlackHoleOnOneRig(t *testing.T) {
	t.Parallel()
	vm := rig.Start(t, rig.BootOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	t.Run("dropbear restarted mid-run loses no sample", func(t *testing.T) {
		proxy := remotetest.NewLinkProxy(t, "127.0.0.1:"+itoa(vm.SSHPort()))
		oldPID := dropbearListener(ctx, t, vm, "")
		restarts, samples := []int{2}, 3
		if longFaults() {
			restarts, samples = []int{2, 5, 8}, 9
		}
		killedAt := map[int]time.Time{}
		out := soakWithFault(t, vm, proxy, faultSoak{Interval: faultInterval, Duration: time.Duration(samples) * faultInterval,
			MaxBackoff: 2 * time.Second,
			Before: func(n int) {
				if _, done := killedAt[n]; slices.Contains(restarts, n) && !done {
					killedAt[n] = time.Now()
					restartDropbear(ctx, t, vm)
				}
			}})
		run := out.run

		newPID := dropbearListener(ctx, t, vm, oldPID)
		if got, want := proxy.Connections(), 1+len(restarts); got < want {
			t.Errorf("the harness opened %d connections, want at least %d: its session did not die with dropbear", got, want)
		}
		assertSamples(t, out, indexesExcept(run.Meta.PlannedSamples), []int{})
		wantUndisturbedVerdict(t, out)
		logDropbearFindings(t, out.report)
		for _, n := range restarts {
			t.Logf("recovery: dropbear killed before sample %d; the harness's next call answered %s later; sample taken %s after due",
				n, out.target.firstAnswerAfter(killedAt[n]).Round(100*time.Millisecond), lateness(run, n).Round(100*time.Millisecond))
		}
		t.Logf("undisturbed samples: median %s after due; dropbear listener pid %s → %s", usualLateness(run, restarts...).Round(100*time.Millisecond), oldPID, newPID)
	})

	t.Run("the network black-holed for two intervals loses exactly those two samples", func(t *testing.T) {
		proxy := remotetest.NewLinkProxy(t, "127.0.0.1:"+itoa(vm.SSHPort()))
		holes, samples := []int{2, 3}, 4
		if longFaults() {
			holes, samples = []int{2, 3, 7, 8}, 10
		}
		var holed bool
		var lifted []time.Time
		out := soakWithFault(t, vm, proxy, faultSoak{Interval: faultInterval, Duration: time.Duration(samples) * faultInterval,
			MaxBackoff: 2 * time.Second,
			Before: func(n int) {
				on := slices.Contains(holes, n)
				if holed && !on {
					lifted = append(lifted, time.Now())
				}
				holed = on
				proxy.SetHoled(on)
			}})
		run := out.run

		assertSamples(t, out, indexesExcept(run.Meta.PlannedSamples, holes...), holes)
		for _, g := range run.Gaps {
			if !strings.Contains(g.Reason, "target unreachable until the next sample was due") {
				t.Errorf("gap %d says %q, want it to say the target was unreachable until the next sample was due", g.Index, g.Reason)
			}
		}
		wantUndisturbedVerdict(t, out)
		logDropbearFindings(t, out.report)
		var after []int
		for _, h := range holes {
			if !slices.Contains(holes, h+1) {
				after = append(after, h+1)
			}
		}
		for i, n := range after {
			if i < len(lifted) {
				t.Logf("recovery: hole lifted before sample %d; the harness's next call answered %s later; sample taken %s after due",
					n, out.target.firstAnswerAfter(lifted[i]).Round(100*time.Millisecond), lateness(run, n).Round(100*time.Millisecond))
			}
		}
		t.Logf("undisturbed samples: median %s after due", usualLateness(run, after...).Round(100*time.Millisecond))
	})
}

// logDropbearFindings notes a clean run that flagged dropbear (the SSH
// server's session serving the harness): the qemu-rig profile allows it today.
func logDropbearFindings(t *testing.T, r report.Run) {
	for _, f := range r.Findings {
		if strings.HasPrefix(f.Subject, "dropbear") {
			t.Logf("finding on dropbear: %s %s %s", f.Verdict, f.Kind, f.Subject)
		}
	}
}

// dropbearListener is the pid of the dropbear that busybox init supervises
// (parent pid 1), read over a side connection. With not set, it waits (up
// to 2 minutes: init respawns dropbear within seconds, more on a loaded
// host) for a listener whose pid is not that one.
func dropbearListener(ctx context.Context, t *testing.T, vm *rig.VM, not string) string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := sideRun(ctx, vm, "sh", "-c", `for p in $(pidof dropbear); do set -- $(cat /proc/$p/stat); [ "$4" = 1 ] && echo $p; done`)
		pid := strings.TrimSpace(string(out))
		switch {
		case err == nil && pid != "" && !strings.Contains(pid, "\n") && pid != not:
			return pid
		case time.Now().After(deadline):
			t.Fatalf("no dropbear listener under init other than %q (got %q, %v): dropbear was not respawned", not, pid, err)
		}
		time.Sleep(time.Second)
	}
}

// bootID is the guest's boot id, read over a side connection.
func bootID(ctx context.Context, t *testing.T, vm *rig.VM) string {
	t.Helper()
	out, err := sideRun(ctx, vm, "cat", "/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatalf("read the boot id: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// waitForNewBoot waits (up to 3 minutes) until the guest answers SSH with a
// boot id other than old, and returns it and when it answered.
func waitForNewBoot(ctx context.Context, t *testing.T, vm *rig.VM, old string) (string, time.Time) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		out, err := sideRun(ctx, vm, "cat", "/proc/sys/kernel/random/boot_id")
		if id := strings.TrimSpace(string(out)); err == nil && id != "" && id != old {
			return id, time.Now()
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("the guest did not come back with a new boot id within 3 minutes; console:\n%s", consoleTail(vm))
	return "", time.Time{}
}

// sideRun is vm.Run bounded to 30 s: a connection QEMU's user network
// accepted while the guest was down waits for the SSH banner forever
// (ssh's ConnectTimeout does not cover it).
func sideRun(ctx context.Context, vm *rig.VM, argv ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return vm.Run(ctx, argv...)
}

func consoleTail(vm *rig.VM) string {
	b, err := os.ReadFile(vm.ConsoleLog())
	if err != nil {
		return err.Error()
	}
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// restartDropbear kills every dropbear process (the listener and all its
// sessions, the harness's among them) over a side connection; busybox init
// respawns the listener. The kill is detached so the side session, which
// dies with it, has returned first.
func restartDropbear(ctx context.Context, t *testing.T, vm *rig.VM) {
	t.Helper()
	if _, err := sideRun(ctx, vm, "sh", "-c", `(sleep 0.5; kill $(pidof dropbear)) </dev/null >/dev/null 2>&1 &`); err != nil {
		t.Errorf("restart dropbear: %v", err)
	}
	time.Sleep(time.Second)
}

// rebootGuest runs reboot -f on the guest over a side connection, detached
// so the side session returns first.
func rebootGuest(ctx context.Context, t *testing.T, vm *rig.VM) {
	t.Helper()
	if _, err := sideRun(ctx, vm, "sh", "-c", `(sleep 0.5; reboot -f) </dev/null >/dev/null 2>&1 &`); err != nil {
		t.Errorf("reboot the guest: %v", err)
	}
}

// sampleAt is the time samples.jsonl records for sample i.
func sampleAt(t *testing.T, dir string, i int) (time.Time, bool) {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, harness.SamplesFile))
	if err != nil {
		t.Fatalf("open samples.jsonl: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		// A sample line is whole (sample) or the changes from the one
		// before it (delta, harness/compact.go); both carry index and time.
		type head struct {
			Index int       `json:"index"`
			At    time.Time `json:"at"`
		}
		var rec struct {
			Sample *head `json:"sample"`
			Delta  *head `json:"delta"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		for _, h := range []*head{rec.Sample, rec.Delta} {
			if h != nil && h.Index == i {
				return h.At, true
			}
		}
	}
	return time.Time{}, false
}

func itoa(n int) string { return strconv.Itoa(n) }
