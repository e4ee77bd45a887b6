package harness

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
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

// blackholeProxy forwards TCP to a backend until it is black-holed: then
// connections are still accepted but nothing is forwarded either way and
// nothing is closed — a cable pulled behind a switch, where connects hang
// instead of being refused and open links go silent. Open links resume when
// the hole lifts; connects made during it are closed then.
type blackholeProxy struct {
	ln      net.Listener
	backend string

	mu     sync.Mutex
	holed  bool
	resume chan struct{} // closed when the hole lifts or the proxy closes
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func newBlackholeProxy(t testing.TB, backend string) *blackholeProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &blackholeProxy{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}, resume: make(chan struct{})}
	close(p.resume)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *blackholeProxy) addr() string { return p.ln.Addr().String() }

// setHoled starts or ends the black hole.
func (p *blackholeProxy) setHoled(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on == p.holed || p.closed {
		return
	}
	p.holed = on
	if on {
		p.resume = make(chan struct{})
	} else {
		close(p.resume)
	}
}

// holedNow reports whether the proxy is black-holed.
func (p *blackholeProxy) holedNow() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.holed
}

// gate waits while the proxy is black-holed; false once it is closed.
func (p *blackholeProxy) gate() bool {
	for {
		p.mu.Lock()
		closed, holed, ch := p.closed, p.holed, p.resume
		p.mu.Unlock()
		if closed {
			return false
		}
		if !holed {
			return true
		}
		<-ch
	}
}

func (p *blackholeProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *blackholeProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer c.Close()
			// A connect during the hole hangs until the client gives up; its
			// SYN never reached the server, so when the hole lifts it is
			// closed, not forwarded (forwarding a burst of connects the
			// client abandoned long ago would flood the server with stale
			// handshakes no real network delivers).
			if p.holedNow() {
				p.gate()
				return
			}
			b, err := net.Dial("tcp", p.backend)
			if err != nil || !p.track(b) {
				return
			}
			defer b.Close()
			done := make(chan struct{}, 2)
			p.wg.Add(2)
			go p.pump(b, c, done)
			go p.pump(c, b, done)
			<-done
			c.Close()
			b.Close()
		}()
	}
}

// pump copies src to dst, holding each chunk while the proxy is black-holed.
func (p *blackholeProxy) pump(dst, src net.Conn, done chan<- struct{}) {
	defer p.wg.Done()
	defer func() { done <- struct{}{} }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *blackholeProxy) close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		if p.holed {
			close(p.resume)
		}
		for c := range p.conns {
			c.Close()
		}
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
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
	proxy := newBlackholeProxy(t, srv.Addr())
	clock := newFakeClock()
	sc := scenario{interval: 10 * time.Minute}
	st := dialScripted(t, srv, proxy.addr(), pwEnv, clock, sc)
	tgt := &faultTarget{scriptedTarget: st, fault: func(n int) { proxy.setHoled(holedAt(n)) }}

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
