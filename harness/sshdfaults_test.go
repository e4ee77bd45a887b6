package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/remote/remotetest"
)

// The faults of outage_test.go and linkdrop_test.go replayed against real
// SSH servers: OpenSSH sshd and dropbear on loopback (remotetest.Daemon: run
// as root, the login a dedicated account with /bin/sh), serving the
// scripted tree (the rig's captured 6.12 files, rewritten before every
// read) as the target's filesystem. remote.Options.Root (ClientOptions)
// maps the read script's paths and the path arguments the harness's own
// scripts mark (RunOptions.PathArgs) under the tree.

// realServers are the SSH servers the faults are replayed against.
var realServers = []string{remotetest.OpenSSH, remotetest.Dropbear}

// restartAt reports whether the SSH server restarts before sample n: at 30,
// and every 5 h of the long variant.
func restartAt(n int) bool {
	if faultsLong() {
		return n > 0 && n%30 == 0
	}
	return n == 30
}

// holedAt reports whether the network is black-holed at sample n: 20 and
// 21, and two intervals every 10 h of the long variant.
func holedAt(n int) bool {
	if faultsLong() {
		return n%60 == 20 || n%60 == 21
	}
	return n == 20 || n == 21
}

// daemonTarget is a scripted target over a real SSH server: the tree is the
// scripted one, served by d under a folder of its own.
func daemonTarget(t *testing.T, kind string, clock *fakeClock) (*scriptedTarget, *remotetest.Daemon) {
	t.Helper()
	root := t.TempDir()
	st := &scriptedTarget{t: t, root: root, clock: clock, start: clock.Now(), sc: scenario{interval: 10 * time.Minute}}
	st.writeTree(0) // before the daemon starts: it hands the tree to its user
	d := remotetest.StartDaemon(t, kind, root)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := remote.Dial(ctx, d.Spec(), d.ClientOptions())
	if err != nil {
		t.Fatalf("dial %s at %s: %v", kind, d.Addr(), err)
	}
	t.Cleanup(func() { conn.Close() })
	st.Target = conn
	return st, d
}

func TestSoak_RealSSHServerLinkKilledBeforeEveryThirdSampleLosesNoSample(t *testing.T) {
	t.Parallel()
	for _, kind := range realServers {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			st, d := daemonTarget(t, kind, clock)
			var mu sync.Mutex
			var noSession []int
			drops := &dropOnce{fault: everyThird, drop: func(n int) {
				if d.KillSessions() == 0 {
					mu.Lock()
					noSession = append(noSession, n)
					mu.Unlock()
				}
			}}
			tgt := &faultTarget{scriptedTarget: st, fault: func(n int) { drops.at(n) }}

			run := soakDropping(t, tgt, clock)

			assertEveryThirdDropped(t, run, drops.samples())
			if len(noSession) > 0 {
				t.Errorf("no %s session process to kill before samples %v: the link was not up, the fault proved nothing there", kind, noSession)
			}
			assertNoSampleLost(t, run, true)
			t.Logf("%s: recovery after the drops: at most %s past due (%d drops)", kind, maxRecovery(run, drops.samples()), len(drops.samples()))
		})
	}
}

func TestSoak_RealSSHServerLinkKilledMidReadEveryThirdSampleIsRetriedInItsSlot(t *testing.T) {
	t.Parallel()
	for _, kind := range realServers {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			st, d := daemonTarget(t, kind, clock)
			tgt := &fifoDropTarget{scriptedTarget: st, drops: &dropOnce{fault: everyThird, drop: func(int) {}}, kill: d.KillSessions}

			run := soakDropping(t, tgt, clock)

			assertEveryThirdDropped(t, run, tgt.drops.samples())
			failed, killed := tgt.results()
			if len(failed) != len(tgt.drops.samples()) {
				t.Errorf("%d reads failed, want %d: one per dropped sample", len(failed), len(tgt.drops.samples()))
			}
			for i, err := range failed {
				var le *remote.LinkError
				if !errors.As(err, &le) {
					t.Errorf("dropped read %d failed with %v; want a retryable link error", i, err)
				}
			}
			for i, k := range killed {
				if k == 0 {
					t.Errorf("dropped read %d: no %s session process was killed while the read ran", i, kind)
				}
			}
			assertNoSampleLost(t, run, true)
			t.Logf("%s: recovery after the mid-read drops: at most %s past due (%d drops)", kind, maxRecovery(run, tgt.drops.samples()), len(tgt.drops.samples()))
		})
	}
}

func TestSoak_RealSSHServerRestartedMidRunLosesNoSample(t *testing.T) {
	t.Parallel()
	for _, kind := range realServers {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			st, d := daemonTarget(t, kind, clock)
			restarts := &dropOnce{fault: restartAt, drop: func(int) { d.Restart() }}
			tgt := &faultTarget{scriptedTarget: st, fault: func(n int) { restarts.at(n) }}

			run := soakDropping(t, tgt, clock)

			var want []int
			for n := 1; n <= run.Meta.PlannedSamples; n++ {
				if restartAt(n) {
					want = append(want, n)
				}
			}
			if got := restarts.samples(); !equalInts(got, want) {
				t.Fatalf("%s restarted before samples %v, want %v", kind, got, want)
			}
			assertNoSampleLost(t, run, true)
			t.Logf("%s: recovery after the restarts: at most %s past due", kind, maxRecovery(run, want))
		})
	}
}

func TestSoak_RealSSHServerBlackHoledForTwoIntervalsLosesOnlyThoseSamples(t *testing.T) {
	t.Parallel()
	for _, kind := range realServers {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			st, proxy := daemonTargetBehindProxy(t, kind, clock)
			tgt := &faultTarget{scriptedTarget: st, fault: func(n int) { proxy.SetHoled(holedAt(n)) }}

			run := soakThrough(t, tgt, clock)

			assertOnlyHoledGaps(t, run)
			t.Logf("%s: recovery after the black holes: at most %s past due", kind, maxRecovery(run, afterHoles(run)))
		})
	}
}

// daemonTargetBehindProxy starts a daemon and a black-hole proxy in front of
// it, and connects through the proxy with keepalives short enough that a
// silent link is noticed within seconds.
func daemonTargetBehindProxy(t *testing.T, kind string, clock *fakeClock) (*scriptedTarget, *remotetest.LinkProxy) {
	t.Helper()
	root := t.TempDir()
	st := &scriptedTarget{t: t, root: root, clock: clock, start: clock.Now(), sc: scenario{interval: 10 * time.Minute}}
	st.writeTree(0) // before the daemon starts: it hands the tree to its user
	d := remotetest.StartDaemon(t, kind, root)
	proxy := remotetest.NewLinkProxy(t, d.Addr())
	addr := proxy.Addr()
	opts := d.ClientOptions()
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, []byte(d.KnownHostsLine(addr)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts.KnownHostsFiles = []string{known}
	blackholeClientOptions(&opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := remote.Dial(ctx, "ssh://"+remotetest.DaemonUser+"@"+addr, opts)
	if err != nil {
		t.Fatalf("dial %s through the proxy %s: %v", kind, addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	st.Target = conn
	return st, proxy
}

// afterHoles lists the first samples after each black hole.
func afterHoles(run *Run) []int {
	var out []int
	for n := 1; n <= run.Meta.PlannedSamples; n++ {
		if holedAt(n-1) && !holedAt(n) {
			out = append(out, n)
		}
	}
	return out
}

// assertOnlyHoledGaps checks that the run passed and lost exactly the
// black-holed samples, each gap saying the target was unreachable.
func assertOnlyHoledGaps(t *testing.T, run *Run) {
	t.Helper()
	if run.Meta.Status != verdict.Pass {
		t.Fatalf("status %q (%s), want pass: an outage is gaps, not a verdict", run.Meta.Status, run.Meta.Error)
	}
	var want []int
	for n := 1; n <= run.Meta.PlannedSamples; n++ {
		if holedAt(n) {
			want = append(want, n)
		}
	}
	if got := gapIndexes(run); !equalInts(got, want) {
		t.Fatalf("gaps at %v, want exactly %v (the black-holed intervals)", got, want)
	}
	for _, g := range run.Gaps {
		if !strings.Contains(g.Reason, "unreachable") {
			t.Errorf("gap %d reason %q does not say the target was unreachable", g.Index, g.Reason)
		}
	}
	if got, want := len(run.Samples), run.Meta.PlannedSamples+1-len(want); got != want {
		t.Errorf("%d samples, want %d: none lost outside the outage", got, want)
	}
	assertRunFolder(t, run)
}

// fifoDropTarget kills the SSH server's session processes while the read
// command of a selected sample is running. To catch the read mid-stream on
// a server whose read takes milliseconds, the slot's first read finds a
// FIFO at /proc/vmallocinfo (a path the snapshot reads after boot_id,
// uptime, meminfo and slabinfo, absent from the scripted tree otherwise):
// the read script blocks opening it, the test's opening of the write end
// proves the read is under way, and the sessions are killed then.
type fifoDropTarget struct {
	*scriptedTarget
	drops *dropOnce
	kill  func() int

	mu     sync.Mutex
	failed []error
	killed []int
}

func (f *fifoDropTarget) ReadFiles(ctx context.Context, paths []string, opts remote.ReadOptions) (*remote.Snapshot, error) {
	if !f.drops.at(f.sampleN()) {
		return f.scriptedTarget.ReadFiles(ctx, paths, opts)
	}
	fifo := filepath.Join(f.root, "proc", "vmallocinfo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		f.t.Fatalf("mkfifo %s: %v", fifo, err)
	}
	defer os.Remove(fifo)
	done := make(chan struct{})
	killed := make(chan int, 1)
	go func() {
		for {
			w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			if err == nil { // the read script has the FIFO open: it is mid-read
				killed <- f.kill()
				w.Close()
				return
			}
			select {
			case <-done:
				killed <- 0
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	snap, err := f.scriptedTarget.ReadFiles(ctx, paths, opts)
	close(done)
	k := <-killed
	f.mu.Lock()
	defer f.mu.Unlock()
	f.killed = append(f.killed, k)
	if err != nil {
		f.failed = append(f.failed, err)
	}
	return snap, err
}

func (f *fifoDropTarget) results() ([]error, []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.failed...), append([]int(nil), f.killed...)
}
