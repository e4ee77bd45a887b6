package remote_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/remote/remotetest"
)

func dialTest(t *testing.T, srv *remotetest.Server, mutate func(*remote.Options)) (remote.Target, error) {
	t.Helper()
	opts := srv.ClientOptions()
	if mutate != nil {
		mutate(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tgt, err := remote.Dial(ctx, srv.Spec(), opts)
	if err == nil {
		t.Cleanup(func() { tgt.Close() })
	}
	return tgt, err
}

func mustDial(t *testing.T, srv *remotetest.Server) remote.Target {
	t.Helper()
	tgt, err := dialTest(t, srv, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", srv, err)
	}
	return tgt
}

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRemotetest_ReadFilesServesTheFolderInOneCommand(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	files := map[string]string{
		"/proc/meminfo":     "MemTotal: 1 kB\n",
		"/proc/7/status":    "Name:\tx\n",
		"/proc/8/status":    "Name:\ty\n",
		"/x/$(touch pwned)": "a",
		"/x/a'b\"c;d":       "b",
	}
	writeTree(t, srv.Root(), files)
	tgt := mustDial(t, srv)
	before := len(srv.Commands())

	snap, err := tgt.ReadFiles(context.Background(), []string{"/proc/meminfo", "/proc/[0-9]*/status", "/x/$(touch pwned)", "/x/a'b\"c;d", "/missing"}, remote.ReadOptions{})

	if err != nil {
		t.Fatal(err)
	}
	for p, want := range files {
		if string(snap.Files[p]) != want {
			t.Errorf("%s = %q, want %q", p, snap.Files[p], want)
		}
	}
	if snap.Errors["/missing"] == "" {
		t.Errorf("no error for /missing: %v", snap.Errors)
	}
	if n := len(srv.Commands()) - before; n != 1 {
		t.Errorf("ReadFiles ran %d remote commands, want 1", n)
	}
	for _, dir := range []string{srv.Root(), filepath.Join(srv.Root(), "x")} {
		if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
			t.Error("a hostile file name ran a command")
		}
	}
}

func TestRemotetest_RunKeepsStdoutStderrAndExitApart(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	tgt := mustDial(t, srv)
	hostile := `$(touch pwned) a'b"c;d`

	res, err := tgt.Run(context.Background(), []string{"sh", "-c", `printf %s "$1"; echo err >&2; exit 3`, "x", hostile}, remote.RunOptions{})

	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != hostile || string(res.Stderr) != "err\n" || res.ExitStatus != 3 {
		t.Errorf("got stdout %q stderr %q exit %d", res.Stdout, res.Stderr, res.ExitStatus)
	}
	if _, err := os.Stat(filepath.Join(srv.Root(), "pwned")); err == nil {
		t.Error("a hostile argument ran a command")
	}
}

func TestRemotetest_RunSendsStdinAndCapsOutput(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	tgt := mustDial(t, srv)

	res, err := tgt.Run(context.Background(), []string{"cat"}, remote.RunOptions{Stdin: []byte("0123456789"), MaxOutputBytes: 4})

	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "0123" || !res.Truncated {
		t.Errorf("got %q truncated=%v, want \"0123\" truncated", res.Stdout, res.Truncated)
	}
}

func TestRemotetest_UnknownHostIsRefusedWithTheLineToAdd(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	empty := filepath.Join(t.TempDir(), "known_hosts")

	_, err := dialTest(t, srv, func(o *remote.Options) { o.KnownHostsFiles = []string{empty} })

	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || hk.Changed {
		t.Fatalf("got %v, want an unknown-host HostKeyError", err)
	}
	msg := err.Error()
	for _, want := range []string{"ssh-keyscan -p " + itoa(srv.Port()) + " 127.0.0.1 >> " + empty, srv.KnownHostsLine(), hk.Fingerprint} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if remote.IsRetryable(err) {
		t.Error("an unknown host key is reported retryable")
	}
	if _, statErr := os.Stat(empty); statErr == nil {
		t.Error("verify policy wrote known_hosts")
	}
}

func TestRemotetest_ChangedHostKeyIsRefusedOnceNamingTheFingerprint(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	other := remotetest.New(t, remotetest.Options{})
	// known_hosts holds other's key under srv's address.
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := remote.KnownHostsLine("127.0.0.1", srv.Port(), other.HostKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := dialTest(t, srv, func(o *remote.Options) { o.KnownHostsFiles = []string{kh}; o.HostKeyPolicy = remote.HostKeyTOFU })

	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || !hk.Changed {
		t.Fatalf("got %v, want a changed-key HostKeyError", err)
	}
	want := sshFingerprint(t, srv)
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "CHANGED") {
		t.Errorf("message does not name the presented fingerprint %s:\n%v", want, err)
	}
	if remote.IsRetryable(err) {
		t.Error("a changed host key is reported retryable")
	}
	if n := srv.Accepted(); n != 1 {
		t.Errorf("the client connected %d times, want exactly 1 (never retried)", n)
	}
	if b, _ := os.ReadFile(kh); string(b) != line+"\n" {
		t.Errorf("TOFU rewrote known_hosts on a changed key: %q", b)
	}
}

func TestRemotetest_TOFUWritesKnownHostsThenVerifies(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	kh := filepath.Join(t.TempDir(), "sub", "known_hosts")

	tgt, err := dialTest(t, srv, func(o *remote.Options) { o.KnownHostsFiles = []string{kh}; o.HostKeyPolicy = remote.HostKeyTOFU })
	if err != nil {
		t.Fatal(err)
	}
	tgt.Close()

	b, err := os.ReadFile(kh)
	if err != nil || strings.TrimSpace(string(b)) != srv.KnownHostsLine() {
		t.Fatalf("known_hosts = %q (%v), want %q", b, err, srv.KnownHostsLine())
	}
	if _, err := dialTest(t, srv, func(o *remote.Options) { o.KnownHostsFiles = []string{kh} }); err != nil {
		t.Errorf("verify after TOFU: %v", err)
	}
}

func TestRemotetest_InsecurePolicyAcceptsAnyKey(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	_, err := dialTest(t, srv, func(o *remote.Options) {
		o.KnownHostsFiles = []string{filepath.Join(t.TempDir(), "none")}
		o.HostKeyPolicy = remote.HostKeyInsecure
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRemotetest_RefusedAuthIsAnAuthErrorNotRetried(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	srv.SetFault(remotetest.Fault{RefuseAuth: true})

	_, err := dialTest(t, srv, nil)

	var ae *remote.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an AuthError", err)
	}
	if remote.IsRetryable(err) || srv.Accepted() != 1 {
		t.Errorf("auth failure retried: retryable=%v, connections=%d", remote.IsRetryable(err), srv.Accepted())
	}
}

func TestRemotetest_PasswordFromEnvironmentAuthenticates(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{Password: "s3cret pass"})
	env := map[string]string{"LG_PW": "s3cret pass"}

	tgt, err := dialTest(t, srv, func(o *remote.Options) {
		o.IdentityFiles = nil
		o.PasswordEnv = "LG_PW"
		o.Getenv = func(k string) string { return env[k] }
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := tgt.Run(context.Background(), []string{"echo", "ok"}, remote.RunOptions{})
	if err != nil || string(res.Stdout) != "ok\n" {
		t.Errorf("run = %q, %v", res.Stdout, err)
	}
	if strings.Contains(tgt.Name(), "s3cret") {
		t.Error("the password leaked into the target name")
	}
}

func TestRemotetest_WrongPasswordIsAnAuthErrorWithoutTheSecret(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{Password: "right"})

	_, err := dialTest(t, srv, func(o *remote.Options) {
		o.IdentityFiles = nil
		o.PasswordEnv = "LG_PW"
		o.Getenv = func(string) string { return "wrong-secret-value" }
	})

	var ae *remote.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an AuthError", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Error("the error message contains the password")
	}
}

func TestRemotetest_StalledHandshakeTimesOutAsALinkError(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	srv.SetFault(remotetest.Fault{StallHandshake: true})

	_, err := dialTest(t, srv, func(o *remote.Options) { o.ConnectTimeout = 300 * time.Millisecond; o.ReconnectAttempts = 2 })

	var le *remote.LinkError
	if !errors.As(err, &le) || le.Op != "handshake" {
		t.Fatalf("got %v, want a handshake LinkError", err)
	}
	if !remote.IsRetryable(err) {
		t.Error("a stalled handshake is not reported retryable")
	}
	if srv.Accepted() != 2 {
		t.Errorf("connections = %d, want 2 (ReconnectAttempts)", srv.Accepted())
	}
}

func TestRemotetest_CancelledContextStopsAStalledHandshake(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	srv.SetFault(remotetest.Fault{StallHandshake: true})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()

	_, err := remote.Dial(ctx, srv.Spec(), srv.ClientOptions())

	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if remote.IsRetryable(err) {
		t.Error("a cancelled dial is reported retryable")
	}
}

func TestRemotetest_DroppedLinkMidReadIsALinkErrorAndTheNextCallReconnects(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	writeTree(t, srv.Root(), map[string]string{"/big": strings.Repeat("x", 1<<20)})
	tgt := mustDial(t, srv)
	srv.SetFault(remotetest.Fault{DropAfterBytes: 64 << 10})

	_, err := tgt.ReadFiles(context.Background(), []string{"/big"}, remote.ReadOptions{})

	var le *remote.LinkError
	if !errors.As(err, &le) || !remote.IsRetryable(err) {
		t.Fatalf("got %v, want a retryable LinkError", err)
	}
	srv.SetFault(remotetest.Fault{})
	snap, err := tgt.ReadFiles(context.Background(), []string{"/big"}, remote.ReadOptions{})
	if err != nil || len(snap.Files["/big"]) != 1<<20 {
		t.Fatalf("read after reconnect: %v", err)
	}
	if srv.Accepted() != 2 {
		t.Errorf("connections = %d, want 2", srv.Accepted())
	}
}

func TestRemotetest_DroppedLinkMidRunIsNotAnExitStatus(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	tgt := mustDial(t, srv)
	srv.SetFault(remotetest.Fault{DropAfter: 200 * time.Millisecond})

	res, err := tgt.Run(context.Background(), []string{"sleep", "5"}, remote.RunOptions{})

	var le *remote.LinkError
	if !errors.As(err, &le) {
		t.Fatalf("got result %+v, error %v; want a LinkError", res, err)
	}
}

func TestRemotetest_ReconnectWaitsOutRefusedConnections(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	tgt := mustDial(t, srv)
	srv.DropConnections()
	srv.SetFault(remotetest.Fault{RefuseConnections: 2})

	var err error
	for i := 0; i < 2; i++ { // the first call may see the dropped link
		_, err = tgt.Run(context.Background(), []string{"true"}, remote.RunOptions{})
		if err == nil {
			break
		}
	}

	if err != nil {
		t.Fatalf("run after refused connections: %v", err)
	}
	if srv.Accepted() != 4 {
		t.Errorf("connections = %d, want 4 (1 + 2 refused + 1)", srv.Accepted())
	}
}

func TestRemotetest_SlowOutputStillReadsEverything(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	content := strings.Repeat("slab line\n", 3000)
	writeTree(t, srv.Root(), map[string]string{"/proc/slabinfo": content})
	tgt := mustDial(t, srv)
	srv.SetFault(remotetest.Fault{SlowOutput: 5 * time.Millisecond})

	snap, err := tgt.ReadFiles(context.Background(), []string{"/proc/slabinfo"}, remote.ReadOptions{})

	if err != nil || string(snap.Files["/proc/slabinfo"]) != content {
		t.Fatalf("slow read: %v", err)
	}
}

func TestRemotetest_CancelledRunReturnsTheContextError(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	tgt := mustDial(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()

	_, err := tgt.Run(ctx, []string{"sleep", "30"}, remote.RunOptions{})

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	res, err := tgt.Run(context.Background(), []string{"echo", "still"}, remote.RunOptions{})
	if err != nil || string(res.Stdout) != "still\n" {
		t.Errorf("run after cancel: %q %v", res.Stdout, err)
	}
}

func TestRemotetest_UploadAndDownloadUseSFTP(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	tgt := mustDial(t, srv)
	checkTransfer(t, tgt, srv.Root(), "sftp")
}

func TestRemotetest_UploadAndDownloadFallBackToExecWithoutSFTP(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{NoSFTP: true})
	tgt := mustDial(t, srv)
	checkTransfer(t, tgt, srv.Root(), "exec")
}

// checkTransfer uploads a file, downloads it back, and checks the transport.
func checkTransfer(t *testing.T, tgt remote.Target, root, transport string) {
	t.Helper()
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "tool")
	payload := bytes.Repeat([]byte{0, 1, 2, 'x', '\n'}, 100000)
	if err := os.WriteFile(src, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := files(t, tgt).Upload(ctx, src, "/tool a'b", 0o750); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "tool a'b"))
	if err != nil || fi.Mode().Perm() != 0o750 || fi.Size() != int64(len(payload)) {
		t.Fatalf("uploaded file: %v %v", fi, err)
	}
	dir := t.TempDir()
	got, err := files(t, tgt).Download(ctx, "/tool a'b", dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, payload) || got != filepath.Join(dir, "tool a'b") {
		t.Errorf("downloaded %s with %d bytes", got, len(b))
	}
	if got := fileTransport(tgt); got != transport {
		t.Errorf("transport = %s, want %s", got, transport)
	}
	if _, err := files(t, tgt).Download(ctx, "/missing", dir); err == nil {
		t.Error("downloading a missing file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing")); err == nil {
		t.Error("a failed download left a file behind")
	}
}

func TestRemotetest_DownloadNeverWritesOutsideItsFolder(t *testing.T) {
	for _, transport := range []string{"sftp", "exec"} {
		t.Run(transport, func(t *testing.T) {
			srv := remotetest.New(t, remotetest.Options{NoSFTP: transport == "exec"})
			writeTree(t, srv.Root(), map[string]string{"/etc/passwd": "evil\n", "/d/victim": "evil\n"})
			tgt := mustDial(t, srv)
			outside := t.TempDir()
			dir := t.TempDir()
			// A symlink in the destination named like the file points outside.
			if err := os.Symlink(filepath.Join(outside, "victim"), filepath.Join(dir, "victim")); err != nil {
				t.Fatal(err)
			}

			got, err := files(t, tgt).Download(context.Background(), "/d/../etc/passwd", dir)
			if err != nil || got != filepath.Join(dir, "passwd") {
				t.Errorf("download of a dotted path: %s, %v; want %s", got, err, filepath.Join(dir, "passwd"))
			}
			_, err = files(t, tgt).Download(context.Background(), "/d/victim", dir)
			if err == nil {
				t.Error("download through a symlink in the destination succeeded")
			}
			if _, err := os.Stat(filepath.Join(outside, "victim")); err == nil {
				t.Error("download wrote outside its folder through a symlink")
			}
			for _, bad := range []string{"/d/..", "/", "/d/."} {
				if _, err := files(t, tgt).Download(context.Background(), bad, dir); err == nil {
					t.Errorf("download of %q succeeded", bad)
				}
			}
		})
	}
}

func TestRemotetest_SSHConfigAliasIsHonoured(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	cfg := filepath.Join(t.TempDir(), "config")
	body := "Host rig\n  HostName 127.0.0.1\n  Port " + itoa(srv.Port()) + "\n  User leakgate\n  IdentityFile " + srv.ClientKeyFile() +
		"\n  UserKnownHostsFile " + srv.KnownHostsFile() + "\n  ConnectTimeout 3\n  ServerAliveInterval 1\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := remote.Options{SSHConfigFile: cfg, NoAgent: true, Root: srv.Root()}

	tgt, err := remote.Dial(context.Background(), "rig", opts)

	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	if tgt.Name() != "rig" {
		t.Errorf("name = %q", tgt.Name())
	}
	res, err := tgt.Run(context.Background(), []string{"id", "-u"}, remote.RunOptions{})
	if err != nil || res.ExitStatus != 0 {
		t.Errorf("run: %v %+v", err, res)
	}
}

func TestRemotetest_EncryptedIdentityNeedsItsPassphraseFromTheEnvironment(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	enc := encryptKey(t, srv.ClientKeyFile(), "pass phrase")

	_, err := dialTest(t, srv, func(o *remote.Options) { o.IdentityFiles = []string{enc} })
	var ae *remote.AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "--passphrase-env") {
		t.Errorf("without a passphrase: %v, want an AuthError naming --passphrase-env", err)
	}

	_, err = dialTest(t, srv, func(o *remote.Options) {
		o.IdentityFiles = []string{enc}
		o.PassphraseEnv = "LG_PASS"
		o.Getenv = func(k string) string {
			if k == "LG_PASS" {
				return "pass phrase"
			}
			return ""
		}
	})
	if err != nil {
		t.Errorf("with the passphrase: %v", err)
	}
}

func TestRemotetest_KeyboardInteractiveGetsThePasswordFromTheEnvironment(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{Password: "kbd-secret", KeyboardInteractiveOnly: true})

	tgt, err := dialTest(t, srv, func(o *remote.Options) {
		o.IdentityFiles = nil
		o.PasswordEnv = "LG_PW"
		o.Getenv = func(string) string { return "kbd-secret" }
	})

	if err != nil {
		t.Fatal(err)
	}
	echoOK(t, tgt)
}

func TestRemotetest_UnansweredKeepalivesDropTheLink(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	tgt, conns := dialFreezable(t, srv, 250*time.Millisecond)
	echoOK(t, tgt)
	conns()[0].frozen.Store(true) // the peer goes silent, the socket stays open
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	_, err := tgt.Run(ctx, []string{"sleep", "20"}, remote.RunOptions{})

	var le *remote.LinkError
	if !errors.As(err, &le) {
		t.Fatalf("got %v, want a LinkError from unanswered keepalives", err)
	}
	echoOK(t, tgt) // reconnects on a fresh connection
}

func TestRemotetest_ASilentLinkDoesNotOutliveTheContext(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	tgt, conns := dialFreezable(t, srv, -1) // no keepalives
	echoOK(t, tgt)
	conns()[0].frozen.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()

	_, err := tgt.Run(ctx, []string{"true"}, remote.RunOptions{})

	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	echoOK(t, tgt)
}

// dialFreezable dials srv through connections the test can freeze.
func dialFreezable(t *testing.T, srv *remotetest.Server, keepalive time.Duration) (remote.Target, func() []*freezeConn) {
	t.Helper()
	var mu sync.Mutex
	var conns []*freezeConn
	tgt, err := dialTest(t, srv, func(o *remote.Options) {
		o.KeepaliveInterval = keepalive
		o.KeepaliveCountMax = 3
		o.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			fc := &freezeConn{Conn: c, closed: make(chan struct{})}
			mu.Lock()
			conns = append(conns, fc)
			mu.Unlock()
			return fc, nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return tgt, func() []*freezeConn {
		mu.Lock()
		defer mu.Unlock()
		return append([]*freezeConn(nil), conns...)
	}
}

// freezeConn holds back everything it reads while frozen: a peer that went
// silent without closing the socket.
type freezeConn struct {
	net.Conn
	frozen atomic.Bool
	closed chan struct{}
	once   sync.Once
}

func (c *freezeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	for c.frozen.Load() {
		select {
		case <-c.closed:
			return 0, net.ErrClosed
		case <-time.After(5 * time.Millisecond):
		}
	}
	return n, err
}

func (c *freezeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func echoOK(t *testing.T, tgt remote.Target) {
	t.Helper()
	res, err := tgt.Run(context.Background(), []string{"echo", "ok"}, remote.RunOptions{})
	if err != nil || string(res.Stdout) != "ok\n" {
		t.Fatalf("echo ok: %q %v", res.Stdout, err)
	}
}

func TestRemotetest_AClosedTargetRefusesCallsInsteadOfReconnecting(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	tgt := mustDial(t, srv)
	if err := tgt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tgt.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	_, err := tgt.Run(context.Background(), []string{"true"}, remote.RunOptions{})

	if err == nil || remote.IsRetryable(err) || srv.Accepted() != 1 {
		t.Errorf("run after close: %v (connections %d)", err, srv.Accepted())
	}
}

func TestRemotetest_RevokedHostKeyIsRefusedAndNotRetried(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	kh := filepath.Join(t.TempDir(), "known_hosts")
	body := "@revoked " + srv.KnownHostsLine() + "\n" + srv.KnownHostsLine() + "\n"
	if err := os.WriteFile(kh, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := dialTest(t, srv, func(o *remote.Options) { o.KnownHostsFiles = []string{kh} })

	var hk *remote.HostKeyError
	if !errors.As(err, &hk) || !hk.Revoked || remote.IsRetryable(err) {
		t.Fatalf("got %v, want a non-retryable revoked HostKeyError", err)
	}
	if srv.Accepted() != 1 {
		t.Errorf("connections = %d, want 1", srv.Accepted())
	}
}

func TestRemotetest_TOFUThatCannotWriteKnownHostsFailsWithoutRetrying(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	_, err := dialTest(t, srv, func(o *remote.Options) {
		o.KnownHostsFiles = []string{filepath.Join(notADir, "known_hosts")}
		o.HostKeyPolicy = remote.HostKeyTOFU
	})

	if err == nil || remote.IsRetryable(err) || !strings.Contains(err.Error(), "trust") {
		t.Fatalf("got %v, want a non-retryable first-use failure", err)
	}
	if srv.Accepted() != 1 {
		t.Errorf("connections = %d, want 1", srv.Accepted())
	}
}

func TestRemotetest_ACommandIgnoringItsStdinStillExitsCleanly(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	tgt := mustDial(t, srv)

	res, err := tgt.Run(context.Background(), []string{"true"}, remote.RunOptions{Stdin: bytes.Repeat([]byte("x"), 8<<20)})

	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("got exit %d, %v; want 0 and no error", res.ExitStatus, err)
	}
	if srv.Accepted() != 1 {
		t.Errorf("connections = %d, want 1 (no reconnect)", srv.Accepted())
	}
}
