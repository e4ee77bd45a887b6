package harness

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leakgate/leakgate/harness/report"
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
// instead of being refused and open links go silent.
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
			if !p.gate() { // a connect during the hole hangs here
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
	// Long enough for a handshake on a loaded machine (-race, parallel
	// soaks), short enough that a black-holed connect fails in a second or two.
	opts.ConnectTimeout = 1500 * time.Millisecond
	opts.KeepaliveInterval = 500 * time.Millisecond
	opts.KeepaliveCountMax = 3
	opts.ReconnectAttempts = 1
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

// setSecretEnv sets a password variable for the test; each test uses its own name.
func setSecretEnv(t *testing.T, name, value string) {
	os.Setenv(name, value)
	t.Cleanup(func() { os.Unsetenv(name) })
}

// soakThrough runs a clean 12 h soak at 10 min on tgt. The reconnect backoff
// may grow to 4 min (on the soak's clock), so a black-holed slot costs about
// nine hanging connects instead of fourteen.
func soakThrough(t *testing.T, tgt remote.Target, clock *fakeClock) *Run {
	t.Helper()
	cfg := Config{Target: tgt, Duration: 12 * time.Hour, Interval: 10 * time.Minute,
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
	tgt := &faultTarget{scriptedTarget: st, fault: func(n int) { proxy.setHoled(n == 20 || n == 21) }}

	run := soakThrough(t, tgt, clock)

	if run.Meta.Status != report.VerdictPass {
		t.Fatalf("status %q (%s), want pass: an outage is gaps, not a verdict", run.Meta.Status, run.Meta.Error)
	}
	if got := gapIndexes(run); len(got) != 2 || got[0] != 20 || got[1] != 21 {
		t.Fatalf("gaps at %v, want exactly [20 21] (the two black-holed intervals)", got)
	}
	for _, g := range run.Gaps {
		if !strings.Contains(g.Reason, "unreachable") {
			t.Errorf("gap %d reason %q does not say the target was unreachable", g.Index, g.Reason)
		}
	}
	if got, want := len(run.Samples), 73-2; got != want {
		t.Errorf("%d samples, want %d: none lost outside the outage", got, want)
	}
	for i, s := range run.Samples {
		want := i
		if i >= 20 {
			want = i + 2
		}
		if s.Index != want {
			t.Fatalf("sample %d has index %d, want %d", i, s.Index, want)
		}
	}
	assertRunFolder(t, run)
	t.Logf("recovery: sample 22 taken %s after it was due", recoveryAfter(run, 22))
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
	var second *remotetest.Server
	tgt := &faultTarget{scriptedTarget: st, fault: func(n int) {
		if n != 30 || second != nil {
			return
		}
		// sshd restarted: every session dies, a new server listens on the
		// same port with the same host key and root.
		first.Close()
		// Another test's outgoing connection may hold the freed port as
		// its ephemeral port for a moment; a real sshd restart would
		// wait for it too.
		for attempt := 0; ; attempt++ {
			second, err = remotetest.Start(remotetest.Options{Password: "pw-restart", HostKey: hostKey, Root: first.Root(), Addr: first.Addr()}, t.TempDir())
			if err == nil || !errors.Is(err, syscall.EADDRINUSE) || attempt == 100 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Errorf("restart the server on %s: %v", first.Addr(), err)
			return
		}
		t.Cleanup(second.Close)
	}}

	run := soakThrough(t, tgt, clock)

	if second == nil {
		t.Fatal("the server was never restarted; the test proved nothing")
	}
	if run.Meta.Status != report.VerdictPass {
		t.Fatalf("status %q (%s), want pass", run.Meta.Status, run.Meta.Error)
	}
	if len(run.Gaps) != 0 || len(run.Samples) != 73 {
		t.Errorf("%d samples, gaps %v: a restart between reads must cost no sample", len(run.Samples), gapIndexes(run))
	}
	if second.Accepted() < 1 {
		t.Errorf("the restarted server accepted no connection: samples after 30 did not come through it")
	}
	if cmds := second.Commands(); len(cmds) == 0 {
		t.Errorf("the restarted server ran no command")
	}
	assertRunFolder(t, run)
	t.Logf("recovery: sample 30 taken %s after it was due", recoveryAfter(run, 30))
}
