package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// SSH is the transport to a target reached over SSH, possibly through
// ProxyJump hops. After a dropped link the next call reconnects, with
// backoff. It is safe for concurrent use: each call opens its own session on
// the shared link. Dial makes one and wraps it into a Target; it also moves
// files (FileTransfer).
type SSH struct {
	name string
	hops []hop
	opts Options

	// sessions bounds the sessions open at once on the link (see maxSessions).
	sessions chan struct{}

	mu        sync.Mutex
	link      *link
	closed    bool
	noSFTP    bool   // the server has no SFTP subsystem
	transport string // "sftp" or "exec": how the last file moved
}

// newSSH returns an unconnected SSH target.
func newSSH(name string, hops []hop, opts Options) *SSH {
	return &SSH{name: name, hops: hops, opts: opts, sessions: make(chan struct{}, maxSessions)}
}

// Name is the target as the user named it.
func (s *SSH) Name() string { return s.name }

// FileTransport says how the last Upload or Download moved its file: "sftp",
// "exec" (the server has no SFTP subsystem), or "" before any transfer.
func (s *SSH) FileTransport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport
}

// Close closes the connection and every jump hop. Safe to call more than once.
func (s *SSH) Close() error {
	s.mu.Lock()
	l := s.link
	s.link = nil
	s.closed = true
	s.mu.Unlock()
	if l != nil {
		l.close()
	}
	return nil
}

// errClosed is returned by calls on a closed target.
var errClosed = errors.New("target is closed")

// Exec runs p.Argv in a new session, each argument quoted for the remote
// shell, reconnecting first if the link dropped. The command is wrapped so
// that it reports its pid first (see runCommand): a cancelled command can
// then be killed even where the server ignores signal requests.
func (s *SSH) Exec(ctx context.Context, p Process) (int, error) {
	if len(p.Argv) == 0 {
		return 0, errEmptyCommand
	}
	stdout, stderr := p.Stdout, p.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	sniff := &pidSniffer{w: stderr}
	return s.exec(ctx, "run", runCommand(p.Argv), p.Stdin, stdout, sniff, sniff.PID)
}

// exec runs one command line in a new session on a live link, reconnecting
// first if needed. It returns the exit status; a lost link is a *LinkError.
//
// On cancel it asks the server to kill the command (the "signal" request)
// and closes the session. Servers that ignore that (OpenSSH refuses signals
// for root sessions) keep the command running: then, if pid reports the
// command's process id, a second session kills its process group; as a
// last resort the link is dropped so the call still returns.
func (s *SSH) exec(ctx context.Context, op, cmd string, stdin io.Reader, stdout, stderr io.Writer, pid func() int64) (int, error) {
	// The kill of a cancelled command runs while that command still holds
	// its slot, so it does not queue behind it.
	if op != "kill" {
		select {
		case s.sessions <- struct{}{}:
			defer func() { <-s.sessions }()
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	l, err := s.ensure(ctx)
	if err != nil {
		return 0, err
	}
	sess, err := s.startSession(ctx, l, op, cmd, stdin, stdout, stderr)
	if err != nil {
		return 0, err
	}
	defer sess.Close()
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		// Ask the server to kill the command and close the channel. A server
		// that ignores the signal keeps the channel open while the command
		// runs: then kill it by pid, and as a last resort drop the link.
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		if !waitFor(waited, cancelGrace) && pid != nil && pid() > 0 {
			kctx, cancel := context.WithTimeout(context.Background(), 2*cancelGrace)
			kill := fmt.Sprintf("kill -KILL -- -%d 2>/dev/null || kill -KILL %d", pid(), pid())
			_, _ = s.exec(kctx, "kill", kill, nil, io.Discard, io.Discard, nil)
			cancel()
		}
		if !waitFor(waited, cancelGrace) {
			s.lost(l, op, ctx.Err())
			<-waited
		}
		return 0, ctx.Err()
	}
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		if ee.Signal() != "" {
			return 128 + signalNumber(ee.Signal()), nil
		}
		return ee.ExitStatus(), nil
	case stdin != nil && errors.Is(err, io.EOF) && l.alive(5*time.Second):
		// The command exited 0 without reading all its stdin: x/crypto
		// reports the failed stdin copy, but the link is fine.
		return 0, nil
	default:
		// *ssh.ExitMissingError, io.EOF and friends: the channel closed
		// without an exit status, so the link (or the server) died.
		return 0, s.lost(l, op, err)
	}
}

// startSession opens a session on l and starts cmd in it. Two refusals are
// not a lost link, so the start is tried again, with doubling waits, until
// ctx ends: a server at its limit of sessions per connection refuses the
// channel (OpenSSH MaxSessions), and dropbear 2022.82 and later closes a
// fresh session that has no process yet when another session's process
// exits at that moment (mkj/dropbear#173: sesscheckclose sees pid 0), so
// the command never started and starting it again is safe.
func (s *SSH) startSession(ctx context.Context, l *link, op, cmd string, stdin io.Reader, stdout, stderr io.Writer) (*ssh.Session, error) {
	wait := 10 * time.Millisecond
	for {
		sess, err := s.tryStart(ctx, l, op, cmd, stdin, stdout, stderr)
		var refused *ssh.OpenChannelError
		if !errors.As(err, &refused) && !errors.Is(err, errSessionClosedEarly) {
			return sess, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (the server kept refusing a new session: %v)", ctx.Err(), err)
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
}

// tryStart opens one session and starts cmd. Both steps wait for the
// server, and a silent link must not outlive ctx, so they run aside. A
// refused channel comes back as the *ssh.OpenChannelError it is, a session
// the server closed before the command started while the link still
// answers as errSessionClosedEarly; any other failure means the link is
// gone.
func (s *SSH) tryStart(ctx context.Context, l *link, op, cmd string, stdin io.Reader, stdout, stderr io.Writer) (*ssh.Session, error) {
	type started struct {
		sess *ssh.Session
		err  error
	}
	startc := make(chan started, 1)
	go func() {
		sess, err := l.client.NewSession()
		if err != nil {
			startc <- started{nil, err}
			return
		}
		sess.Stdin, sess.Stdout, sess.Stderr = stdin, stdout, stderr
		if err := sess.Start(cmd); err != nil {
			sess.Close()
			startc <- started{nil, err}
			return
		}
		startc <- started{sess, nil}
	}()
	var st started
	select {
	case st = <-startc:
	case <-ctx.Done():
		s.lost(l, op, ctx.Err())
		if st = <-startc; st.sess != nil {
			st.sess.Close()
		}
		return nil, ctx.Err()
	}
	var refused *ssh.OpenChannelError
	switch {
	case st.err == nil:
		return st.sess, nil
	case errors.As(st.err, &refused):
		return nil, st.err
	case errors.Is(st.err, io.EOF) && l.alive(5*time.Second):
		return nil, errSessionClosedEarly
	default:
		return nil, s.lost(l, op, st.err)
	}
}

// errSessionClosedEarly marks a session the server closed before its
// command started, on a link that still answers.
var errSessionClosedEarly = errors.New("the server closed the new session before its command started")

// alive reports whether the link answers a keepalive within timeout.
func (l *link) alive(timeout time.Duration) bool {
	answered := make(chan error, 1)
	go func() {
		_, _, err := l.client.SendRequest("keepalive@openssh.com", true, nil)
		answered <- err
	}()
	select {
	case err := <-answered:
		return err == nil
	case <-time.After(timeout):
		l.closeClients() // unblocks the request; the link is dead anyway
		<-answered
		return false
	}
}

// maxSessions is how many commands run at once on one SSH link; further
// calls wait for a free slot. OpenSSH refuses an eleventh session on a
// connection (sshd_config MaxSessions, default 10), and a refused channel
// must not look like a lost link; the margin leaves room for the kill
// sessions of cancelled commands, which do not wait.
const maxSessions = 8

// cancelGrace is how long a cancelled command's channel may take to close.
const cancelGrace = time.Second

// waitFor reports whether ch delivered within d; the value is put back.
func waitFor(ch chan error, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case err := <-ch:
		ch <- err
		return true
	case <-t.C:
		return false
	}
}

// runCommand runs argv ("$@") after printing its own process id on the
// first stderr line, so a cancelled command can be killed even where the
// server ignores signal requests. pidSniffer removes that line again.
func runCommand(argv []string) string {
	return "sh -c " + Quote(`printf 'leakgate-pid %s\n' "$$" >&2; exec "$@"`) + " leakgate-run " + QuoteArgv(argv)
}

// pidSniffer passes stderr on, minus the wrapper's first line, whose pid it keeps.
type pidSniffer struct {
	w    io.Writer
	mu   sync.Mutex
	buf  []byte
	done bool
	pid  int64
}

func (p *pidSniffer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return p.w.Write(b)
	}
	p.buf = append(p.buf, b...)
	i := bytes.IndexByte(p.buf, '\n')
	if i < 0 && len(p.buf) < 64 {
		return len(b), nil
	}
	p.done = true
	rest := p.buf
	if i >= 0 {
		if v, ok := strings.CutPrefix(string(p.buf[:i]), "leakgate-pid "); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				p.pid = n
				rest = p.buf[i+1:]
			}
		}
	}
	p.buf = nil
	if len(rest) > 0 {
		if _, err := p.w.Write(rest); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// PID is the command's process id on the target, or 0 before it is known.
func (p *pidSniffer) PID() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pid
}

// lost records that link l died and returns the typed error for op.
func (s *SSH) lost(l *link, op string, err error) error {
	s.mu.Lock()
	if s.link == l {
		s.link = nil
	}
	s.mu.Unlock()
	l.close()
	return &LinkError{Op: op, Target: s.name, Err: err}
}

// ensure returns a live link, connecting with backoff when there is none.
func (s *SSH) ensure(ctx context.Context) (*link, error) {
	s.mu.Lock()
	l, closed := s.link, s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("use %s: %w (dial it again)", s.name, errClosed)
	}
	if l != nil && !l.dead.Load() {
		return l, nil
	}
	if l != nil {
		s.lost(l, "keepalive", errors.New("keepalives unanswered"))
	}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.link == nil {
		return nil, &LinkError{Op: "dial", Target: s.name, Err: errors.New("closed")}
	}
	return s.link, nil
}

// connect dials every hop, retrying retryable failures with doubling backoff.
func (s *SSH) connect(ctx context.Context) error {
	attempts := s.opts.ReconnectAttempts
	if attempts <= 0 {
		attempts = defaultReconnectAttempts
	}
	backoff := s.opts.ReconnectBackoff
	if backoff <= 0 {
		backoff = defaultReconnectBackoff
	}
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("connect to %s: %w (last error: %v)", s.name, ctx.Err(), err)
			case <-t.C:
			}
			backoff = min(backoff*2, 8*time.Second)
		}
		var l *link
		l, err = dialLink(ctx, s.name, s.hops, s.opts)
		if err == nil {
			s.mu.Lock()
			closed := s.closed
			if !closed {
				s.link = l
			}
			s.mu.Unlock()
			if closed {
				l.close()
				return fmt.Errorf("use %s: %w", s.name, errClosed)
			}
			return nil
		}
		if !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// link is one live connection: the jump clients and the target's client,
// plus the keepalive goroutines that watch it.
type link struct {
	clients []*ssh.Client // hops in order; the last is the target
	client  *ssh.Client
	dead    atomic.Bool

	sftpOnce sync.Once
	sftp     *sftp.Client
	sftpErr  error

	stop      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// dialLink connects through every hop in turn; each hop's dialer is the
// previous hop's client, so ProxyJump chains and reconnects compose.
func dialLink(ctx context.Context, name string, hops []hop, opts Options) (*link, error) {
	l := &link{stop: make(chan struct{})}
	dial := func(ctx context.Context, addr string) (net.Conn, error) {
		if opts.DialContext != nil {
			return opts.DialContext(ctx, "tcp", addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	for _, h := range hops {
		c, err := dialHop(ctx, h, opts, dial)
		if err != nil {
			l.close()
			return nil, err
		}
		l.clients = append(l.clients, c)
		prev := c
		dial = func(ctx context.Context, addr string) (net.Conn, error) { return prev.DialContext(ctx, "tcp", addr) }
	}
	l.client = l.clients[len(l.clients)-1]
	last := hops[len(hops)-1]
	if last.keepalive > 0 {
		l.startKeepalive(last.keepalive, last.keepaliveMax)
	}
	return l, nil
}

// dialHop dials and handshakes one hop within its connect timeout and ctx.
func dialHop(ctx context.Context, h hop, opts Options, dial func(context.Context, string) (net.Conn, error)) (*ssh.Client, error) {
	addr := h.addr()
	check, err := newHostKeyCheck(opts.HostKeyPolicy, h.knownHosts)
	if err != nil {
		return nil, err
	}
	creds, err := newCredentials(h, opts)
	if err != nil {
		return nil, err
	}
	defer creds.close()
	cfg := &ssh.ClientConfig{
		User:              h.user,
		Auth:              creds.methods,
		HostKeyCallback:   check.callback,
		HostKeyAlgorithms: check.algorithms(addr),
		Timeout:           h.connectTimeout,
	}
	hctx, cancel := context.WithTimeout(ctx, h.connectTimeout)
	defer cancel()
	conn, err := dial(hctx, addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, ctx.Err())
		}
		return nil, &LinkError{Op: "dial", Target: h.alias + " (" + addr + ")", Err: err, Hint: hintSSHDial}
	}
	_ = conn.SetDeadline(time.Now().Add(h.connectTimeout))
	// A stalled handshake ends when the timeout or ctx closes the connection.
	stop := context.AfterFunc(hctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	fired := !stop()
	if err != nil {
		conn.Close()
		if hk := check.raised(); hk != nil {
			return nil, hk
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("handshake with %s: %w", addr, ctx.Err())
		}
		if fired {
			return nil, &LinkError{Op: "handshake", Target: h.alias + " (" + addr + ")",
				Err: fmt.Errorf("no handshake within %s: %w", h.connectTimeout, err), Hint: hintSSHHandshake}
		}
		if strings.Contains(err.Error(), "unable to authenticate") || strings.Contains(err.Error(), "no auth passed yet") {
			return nil, &AuthError{User: h.user, Target: h.alias + " (" + addr + ")", Methods: creds.names, Err: err, Hint: hintSSHAuth}
		}
		return nil, &LinkError{Op: "handshake", Target: h.alias + " (" + addr + ")", Err: err, Hint: hintSSHHandshake}
	}
	if fired {
		c.Close()
		return nil, &LinkError{Op: "handshake", Target: h.alias + " (" + addr + ")", Err: fmt.Errorf("no handshake within %s", h.connectTimeout), Hint: hintSSHHandshake}
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// What to check after an SSH failure, for LinkError.Hint and AuthError.Hint.
const (
	hintSSHDial      = "check the address and port, and that the target is up with its SSH server running"
	hintSSHHandshake = "the port answered but SSH did not complete; check that an SSH server listens there and is not overloaded"
	hintSSHAuth      = "check --identity, ssh-agent (SSH_AUTH_SOCK), or --password-env"
)

// startKeepalive sends keepalive@openssh.com every interval; when countMax
// intervals pass without a reply it closes the link, which fails any
// session in flight with a *LinkError.
func (l *link) startKeepalive(interval time.Duration, countMax int) {
	var lastReply atomic.Int64
	lastReply.Store(time.Now().UnixNano())
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			if _, _, err := l.client.SendRequest("keepalive@openssh.com", true, nil); err != nil {
				l.dead.Store(true)
				return
			}
			lastReply.Store(time.Now().UnixNano())
		}
	}()
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			if time.Since(time.Unix(0, lastReply.Load())) > time.Duration(countMax+1)*interval {
				l.dead.Store(true)
				l.closeClients()
				return
			}
		}
	}()
}

// close stops the keepalives and closes every hop, target first.
func (l *link) close() {
	l.closeOnce.Do(func() {
		l.dead.Store(true)
		close(l.stop)
		if l.sftp != nil {
			l.sftp.Close()
		}
		l.closeClients()
		l.wg.Wait()
	})
}

func (l *link) closeClients() {
	for i := len(l.clients) - 1; i >= 0; i-- {
		l.clients[i].Close()
	}
}

// signalNumber maps an SSH signal name to its Linux number.
func signalNumber(name string) int {
	n := map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9, "USR1": 10,
		"SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15}[strings.TrimPrefix(name, "SIG")]
	if n == 0 {
		return 127
	}
	return n
}
