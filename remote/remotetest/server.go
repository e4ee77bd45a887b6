// Package remotetest runs an in-process SSH + SFTP server on 127.0.0.1 that
// serves a folder as a target's filesystem and injects faults: a dropped
// link, a stalled handshake, refused auth, slow output, refused connections.
// It supplements tests against real sshd and dropbear; it never replaces them.
//
// Path mapping: the server does not chroot, and commands run under /bin/sh
// on the host as they are. The client side maps target paths under the
// folder with remote.Options.Root, which ClientOptions sets: every path
// ReadFiles reads and every argument Run marks in RunOptions.PathArgs. So
// /proc/meminfo read through a remotetest target is ROOT/proc/meminfo on
// the host, and the very same read script runs.
package remotetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/leakgate/leakgate/remote"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// New starts a server for the test and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts, t.TempDir())
	if err != nil {
		t.Fatalf("start remotetest server: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Options configure a Server.
type Options struct {
	// Root is the folder served as the target's filesystem; "" means a fresh temporary folder.
	Root string
	// User is the only login accepted; "" means "leakgate".
	User string
	// Password, when set, is accepted by password and keyboard-interactive auth.
	Password string
	// KeyboardInteractiveOnly accepts Password only through keyboard-interactive, as PAM-backed servers do.
	KeyboardInteractiveOnly bool
	// NoSFTP refuses the sftp subsystem, like dropbear without sftp-server.
	NoSFTP bool
	// HostKey pins the server's host key; nil means a fresh ed25519 key.
	HostKey ssh.Signer
	// Addr is the address to listen on; "" means 127.0.0.1:0.
	Addr string
}

// Fault is the misbehaviour the server shows from now on. The zero value is
// a healthy server.
type Fault struct {
	// StallHandshake accepts TCP connections and never answers.
	StallHandshake bool
	// RefuseAuth rejects every credential.
	RefuseAuth bool
	// RefuseConnections closes the next N connections right after accept.
	RefuseConnections int
	// DropAfter closes the TCP connection this long after a command starts (0: never).
	DropAfter time.Duration
	// DropAfterBytes closes the TCP connection once a command wrote this many stdout bytes (0: never).
	DropAfterBytes int64
	// SlowOutput delays every 4 KiB of command output and SFTP reply by this much.
	SlowOutput time.Duration
}

// Server is a running in-process SSH server.
type Server struct {
	opts       Options
	dir        string
	listener   net.Listener
	hostKey    ssh.Signer
	clientKey  ssh.Signer
	clientFile string
	knownHosts string

	mu        sync.Mutex
	fault     Fault
	conns     map[net.Conn]struct{}
	accepted  int
	execs     []string
	closed    bool
	closing   chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Start starts a server writing its client key and known_hosts into dir.
// Call Close when done; New does that for tests.
func Start(opts Options, dir string) (*Server, error) {
	if opts.User == "" {
		opts.User = "leakgate"
	}
	if opts.Root == "" {
		opts.Root = filepath.Join(dir, "root")
		if err := os.MkdirAll(opts.Root, 0o755); err != nil {
			return nil, err
		}
	}
	root, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, err
	}
	opts.Root = root
	s := &Server{opts: opts, dir: dir, conns: map[net.Conn]struct{}{}, closing: make(chan struct{})}
	if s.hostKey = opts.HostKey; s.hostKey == nil {
		if s.hostKey, _, err = NewKey(); err != nil {
			return nil, err
		}
	}
	var clientPEM []byte
	if s.clientKey, clientPEM, err = NewKey(); err != nil {
		return nil, err
	}
	s.clientFile = filepath.Join(dir, "client_ed25519")
	if err := os.WriteFile(s.clientFile, clientPEM, 0o600); err != nil {
		return nil, err
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if s.listener, err = net.Listen("tcp", addr); err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	s.knownHosts = filepath.Join(dir, "known_hosts")
	if err := s.WriteKnownHosts(s.knownHosts); err != nil {
		s.listener.Close()
		return nil, err
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// NewKey makes an ed25519 key and returns it with its OpenSSH PEM encoding.
func NewKey() (ssh.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, nil, err
	}
	return signer, pem.EncodeToMemory(block), nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Port is the port the server listens on.
func (s *Server) Port() int { return s.listener.Addr().(*net.TCPAddr).Port }

// Spec is the target spec naming this server: ssh://user@127.0.0.1:port.
func (s *Server) Spec() string { return "ssh://" + s.opts.User + "@" + s.Addr() }

// Root is the folder served as the target's filesystem.
func (s *Server) Root() string { return s.opts.Root }

// HostKey is the server's pinned public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHostsFile is a known_hosts file trusting this server.
func (s *Server) KnownHostsFile() string { return s.knownHosts }

// ClientKeyFile is an unencrypted private key the server accepts.
func (s *Server) ClientKeyFile() string { return s.clientFile }

// KnownHostsLine is the known_hosts line trusting this server.
func (s *Server) KnownHostsLine() string {
	return remote.KnownHostsLine("127.0.0.1", s.Port(), s.HostKey())
}

// WriteKnownHosts writes a known_hosts file trusting this server to path.
func (s *Server) WriteKnownHosts(path string) error {
	return os.WriteFile(path, []byte(s.KnownHostsLine()+"\n"), 0o600)
}

// ClientOptions are remote.Options that reach this server: its client key,
// its known_hosts, its root mapping, no agent, no ssh_config, short timeouts.
func (s *Server) ClientOptions() remote.Options {
	return remote.Options{
		IdentityFiles:     []string{s.clientFile},
		KnownHostsFiles:   []string{s.knownHosts},
		NoAgent:           true,
		SSHConfigFile:     "none",
		Root:              s.opts.Root,
		ConnectTimeout:    5 * time.Second,
		ReconnectBackoff:  50 * time.Millisecond,
		KeepaliveInterval: time.Second,
	}
}

// Dial connects a remote.Target to this server with ClientOptions.
func (s *Server) Dial(ctx context.Context) (remote.Target, error) {
	return remote.Dial(ctx, s.Spec(), s.ClientOptions())
}

// SetFault sets the misbehaviour for connections and commands from now on.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Accepted is how many TCP connections the server accepted so far.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Commands lists the exec requests received so far, in order.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.execs...)
}

// DropConnections closes every open client connection, as a crashed server would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops the server, drops every connection and waits for its goroutines.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.closing)
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.listener.Close()
		s.wg.Wait()
	})
}

func (s *Server) currentFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		conn, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.accepted++
		refuse := s.fault.RefuseConnections > 0
		if refuse {
			s.fault.RefuseConnections--
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
				conn.Close()
			}()
			if refuse {
				return
			}
			s.serveConn(conn)
		}()
	}
}

// serveConn runs the SSH protocol on one connection until it ends.
func (s *Server) serveConn(conn net.Conn) {
	if s.currentFault().StallHandshake {
		<-s.closing
		return
	}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if s.currentFault().RefuseAuth || meta.User() != s.opts.User {
				return nil, errors.New("refused")
			}
			if string(key.Marshal()) == string(s.clientKey.PublicKey().Marshal()) {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	if s.opts.Password != "" {
		check := func(user, pw string) error {
			if s.currentFault().RefuseAuth || user != s.opts.User || pw != s.opts.Password {
				return errors.New("refused")
			}
			return nil
		}
		if !s.opts.KeyboardInteractiveOnly {
			cfg.PasswordCallback = func(meta ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
				return nil, check(meta.User(), string(pw))
			}
		}
		cfg.KeyboardInteractiveCallback = func(meta ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			answers, err := ask(meta.User(), "", []string{"Password: "}, []bool{false})
			if err != nil || len(answers) != 1 {
				return nil, errors.New("refused")
			}
			return nil, check(meta.User(), answers[0])
		}
	}
	cfg.AddHostKey(s.hostKey)
	sconn, chans, reqs, err := ssh.NewServerConn(conn, cfg)
	if err != nil {
		return
	}
	defer sconn.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for r := range reqs {
			// keepalive@openssh.com and friends: answer so keepalives see a live peer.
			if r.WantReply {
				_ = r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveSession(conn, ch, creqs)
		}()
	}
}

// serveSession answers one session channel: exec or the sftp subsystem.
func (s *Server) serveSession(conn net.Conn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	var (
		wg     sync.WaitGroup
		procMu sync.Mutex
		proc   *os.Process
	)
	defer wg.Wait()
	for r := range reqs {
		switch r.Type {
		case "exec":
			var p struct{ Command string }
			if ssh.Unmarshal(r.Payload, &p) != nil {
				_ = r.Reply(false, nil)
				continue
			}
			s.mu.Lock()
			s.execs = append(s.execs, p.Command)
			s.mu.Unlock()
			_ = r.Reply(true, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.runCommand(conn, ch, p.Command, func(pr *os.Process) {
					procMu.Lock()
					proc = pr
					procMu.Unlock()
				})
			}()
		case "subsystem":
			var p struct{ Name string }
			if ssh.Unmarshal(r.Payload, &p) != nil || p.Name != "sftp" || s.opts.NoSFTP {
				_ = r.Reply(false, nil)
				continue
			}
			_ = r.Reply(true, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				srv, err := sftp.NewServer(slowChannel{ch, s})
				if err != nil {
					return
				}
				_ = srv.Serve()
				srv.Close()
				ch.Close()
			}()
		case "signal":
			var p struct{ Signal string }
			_ = ssh.Unmarshal(r.Payload, &p)
			procMu.Lock()
			if proc != nil {
				_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
			}
			procMu.Unlock()
			if r.WantReply {
				_ = r.Reply(true, nil)
			}
		case "env":
			_ = r.Reply(true, nil)
		default:
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}
	// The client closed the channel: stop any command still running.
	procMu.Lock()
	if proc != nil {
		_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
	}
	procMu.Unlock()
}

// runCommand runs one exec request under /bin/sh.
func (s *Server) runCommand(conn net.Conn, ch ssh.Channel, command string, started func(*os.Process)) {
	fault := s.currentFault()
	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = ch.Stderr()
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(ch.Stderr(), "remotetest: %v\n", err)
		sendExit(ch, 127)
		ch.Close()
		return
	}
	started(cmd.Process)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(stdin, ch)
		stdin.Close()
	}()
	stopDrop := make(chan struct{})
	if fault.DropAfter > 0 {
		go func() {
			defer wg.Done()
			select {
			case <-time.After(fault.DropAfter):
				conn.Close()
			case <-stopDrop:
			}
		}()
	} else {
		wg.Done()
	}
	w := &faultWriter{w: ch, conn: conn, dropAfter: fault.DropAfterBytes, delay: fault.SlowOutput}
	_, _ = io.Copy(w, stdout)
	err := cmd.Wait()
	close(stopDrop)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	}
	if !w.dropped {
		sendExit(ch, code)
	}
	_ = ch.CloseWrite()
	ch.Close()
	wg.Wait()
}

func sendExit(ch ssh.Channel, code int) {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(code))
	_, _ = ch.SendRequest("exit-status", false, b[:])
}

// faultWriter passes command output on, slowly or up to a drop.
type faultWriter struct {
	w         io.Writer
	conn      net.Conn
	dropAfter int64
	delay     time.Duration
	written   int64
	dropped   bool
}

func (f *faultWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		n := min(len(p), 4096)
		if f.dropAfter > 0 && f.written+int64(n) >= f.dropAfter {
			n = int(max(f.dropAfter-f.written, 0))
			if n > 0 {
				_, _ = f.w.Write(p[:n])
			}
			f.dropped = true
			f.conn.Close()
			return total, errors.New("remotetest: link dropped")
		}
		if f.delay > 0 {
			time.Sleep(f.delay)
		}
		if _, err := f.w.Write(p[:n]); err != nil {
			return total - len(p), err
		}
		f.written += int64(n)
		p = p[n:]
	}
	return total, nil
}

// slowChannel delays SFTP replies when the SlowOutput fault is on.
type slowChannel struct {
	ssh.Channel
	s *Server
}

func (c slowChannel) Write(p []byte) (int, error) {
	if d := c.s.currentFault().SlowOutput; d > 0 {
		time.Sleep(d)
	}
	return c.Channel.Write(p)
}

// String names the server for logs.
func (s *Server) String() string {
	return "remotetest " + s.Addr() + " root " + strconv.Quote(s.opts.Root)
}
