package harness

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/remote/remotetest"
	"golang.org/x/crypto/ssh/knownhosts"
)

// faultTarget runs fault before every call the soak makes, with the sample
// number the scripted clock is at, then passes the call to the scripted
// target (which rewrites the tree and talks SSH to the real server).
type faultTarget struct {
	*scriptedTarget
	fault func(n int)
}

func (f *faultTarget) Run(ctx context.Context, argv []string, opts remote.RunOptions) (remote.Result, error) {
	f.fault(f.sampleN())
	return f.scriptedTarget.Run(ctx, argv, opts)
}

func (f *faultTarget) ReadFiles(ctx context.Context, paths []string, opts remote.ReadOptions) (*remote.Snapshot, error) {
	f.fault(f.sampleN())
	return f.scriptedTarget.ReadFiles(ctx, paths, opts)
}

// dialScripted connects a scripted target to srv through addr (the server
// itself or a proxy in front of it) with a password, as a lab rig with a
// root password is reached; short keepalives so a silent link is noticed.
func dialScripted(t *testing.T, srv *remotetest.Server, addr, passwordEnv string, clock *fakeClock, sc scenario) *scriptedTarget {
	t.Helper()
	tgt := &scriptedTarget{t: t, srv: srv, root: srv.Root(), clock: clock, start: clock.Now(), sc: sc}
	tgt.writeTree(0)
	known := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, srv.HostKey()) + "\n"
	if err := os.WriteFile(known, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := srv.ClientOptions()
	opts.IdentityFiles = nil
	opts.PasswordEnv = passwordEnv
	opts.KnownHostsFiles = []string{known}
	blackholeClientOptions(&opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := remote.Dial(ctx, "ssh://leakgate@"+addr, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	tgt.Target = conn
	return tgt
}

// blackholeClientOptions makes a silent link noticed within seconds: a
// connect timeout long enough for a handshake on a loaded machine (-race,
// parallel soaks, a load average far above the cores), short enough that a
// black-holed connect fails in a few seconds; keepalives every second, three
// unanswered drop the link; one connect attempt per call (the soak retries).
func blackholeClientOptions(opts *remote.Options) {
	opts.ConnectTimeout = 3 * time.Second
	opts.KeepaliveInterval = time.Second
	opts.KeepaliveCountMax = 3
	opts.ReconnectAttempts = 1
}

// setSecretEnv sets a password variable for the test; each test uses its own name.
func setSecretEnv(t *testing.T, name, value string) {
	os.Setenv(name, value)
	t.Cleanup(func() { os.Unsetenv(name) })
}

// soakThrough runs a clean soak of faultSoakDuration (12 h, 24 h in the
// long variants) at 10 min on tgt. The reconnect backoff
// may grow to 4 min (on the soak's clock), so a black-holed slot costs about
// nine hanging connects instead of fourteen.
func soakThrough(t *testing.T, tgt remote.Target, clock *fakeClock) *Run {
	t.Helper()
	cfg := Config{Target: tgt, Duration: faultSoakDuration(), Interval: 10 * time.Minute,
		OutDir: filepath.Join(t.TempDir(), "out"), Clock: clock, ReadTimeout: 10 * time.Second, MaxBackoff: 4 * time.Minute}
	if testing.Verbose() {
		cfg.Log = os.Stderr
	}
	run, err := Soak(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Soak: %v", err)
	}
	return run
}

// recoveryAfter is how long after its due time the first sample following
// the outage was taken (on the soak's clock), for docs/reliability.md.
func recoveryAfter(run *Run, firstAfter int) time.Duration {
	for _, s := range run.Samples {
		if s.Index >= firstAfter {
			return s.At.Sub(run.Meta.BaselineAt.Add(time.Duration(s.Index) * run.Meta.Interval))
		}
	}
	return -1
}

func gapIndexes(run *Run) []int {
	var out []int
	for _, g := range run.Gaps {
		out = append(out, g.Index)
	}
	return out
}

func TestSoak_NetworkBlackHoledForTwoIntervalsLosesOnlyThoseSamples(t *testing.T) {
	t.Parallel()
	const pwEnv = "LEAKGATE_TEST_BLACKHOLE_PASSWORD"
	setSecretEnv(t, pwEnv, "pw-blackhole")
	srv := remotetest.New(t, remotetest.Options{Password: "pw-blackhole"})
	proxy := remotetest.NewLinkProxy(t, srv.Addr())
	clock := newFakeClock()
	sc := scenario{interval: 10 * time.Minute}
	st := dialScripted(t, srv, proxy.Addr(), pwEnv, clock, sc)
	tgt := &faultTarget{scriptedTarget: st, fault: func(n int) { proxy.SetHoled(holedAt(n)) }}

	run := soakThrough(t, tgt, clock)

	assertOnlyHoledGaps(t, run)
	t.Logf("recovery after the black holes: at most %s past due", maxRecovery(run, afterHoles(run)))
}

func TestSoak_SSHServerRestartedMidRunLosesNoSample(t *testing.T) {
	t.Parallel()
	const pwEnv = "LEAKGATE_TEST_RESTART_PASSWORD"
	setSecretEnv(t, pwEnv, "pw-restart")
	hostKey, _, err := remotetest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	first := remotetest.New(t, remotetest.Options{Password: "pw-restart", HostKey: hostKey})
	clock := newFakeClock()
	sc := scenario{interval: 10 * time.Minute}
	st := dialScripted(t, first, first.Addr(), pwEnv, clock, sc)
	// sshd restarted: every session dies, a new server listens on the
	// same port with the same host key and root (at sample 30; every 5 h
	// of the long variant).
	current := first
	var restarted []*remotetest.Server
	restarts := &dropOnce{fault: restartAt, drop: func(int) {
		current.Close()
		// Another test's outgoing connection may hold the freed port as
		// its ephemeral port for a moment; a real sshd restart would
		// wait for it too.
		var next *remotetest.Server
		var err error
		for attempt := 0; ; attempt++ {
			next, err = remotetest.Start(remotetest.Options{Password: "pw-restart", HostKey: hostKey, Root: first.Root(), Addr: first.Addr()}, t.TempDir())
			if err == nil || !errors.Is(err, syscall.EADDRINUSE) || attempt == 100 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("restart the server on %s: %v", first.Addr(), err)
			return
		}
		t.Cleanup(next.Close)
		current = next
		restarted = append(restarted, next)
	}}
	tgt := &faultTarget{scriptedTarget: st, fault: func(n int) { restarts.at(n) }}

	run := soakThrough(t, tgt, clock)

	var want []int
	for n := 1; n <= run.Meta.PlannedSamples; n++ {
		if restartAt(n) {
			want = append(want, n)
		}
	}
	if got := restarts.samples(); !equalInts(got, want) || len(restarted) != len(want) {
		t.Fatalf("server restarted before samples %v (%d new servers), want %v: the test proved nothing", got, len(restarted), want)
	}
	assertNoSampleLost(t, run, true)
	for i, srv := range restarted {
		if srv.Accepted() < 1 || len(srv.Commands()) == 0 {
			t.Errorf("restarted server %d accepted %d connections and ran %d commands: the samples after its restart did not come through it", i+1, srv.Accepted(), len(srv.Commands()))
		}
	}
	t.Logf("recovery: at most %s past due after the restarts", maxRecovery(run, want))
}
