package remote_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakgate/leakgate/remote"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// benchPaths is one leak-gate sample: slabinfo, meminfo and every
// process's status and smaps_rollup.
var benchPaths = []string{"/proc/slabinfo", "/proc/meminfo", "/proc/[0-9]*/status", "/proc/[0-9]*/smaps_rollup"}

// BenchmarkReadSample reads one sample from a real sshd two ways — ReadFiles
// (one remote command) and SFTP file after file — over loopback and over a
// link with an emulated round-trip time.
func BenchmarkReadSample(b *testing.B) {
	key, pub := newClientKey(b)
	d := startSSHD(b, "127.0.0.1", pub)
	kh := d.knownHosts(b)
	for _, rtt := range []time.Duration{0, 5 * time.Millisecond} {
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			var nd net.Dialer
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil || rtt == 0 {
				return c, err
			}
			return withLatency(c, rtt), nil
		}
		b.Run(fmt.Sprintf("method=one-round-trip/rtt=%s", rtt), func(b *testing.B) {
			opts := realOptions(key, kh)
			opts.DialContext = dial
			tgt, err := remote.Dial(context.Background(), "ssh://root@"+d.addr(), opts)
			if err != nil {
				b.Fatal(err)
			}
			defer tgt.Close()
			var files, size int
			for b.Loop() {
				snap, err := tgt.ReadFiles(context.Background(), benchPaths, remote.ReadOptions{})
				if err != nil {
					b.Fatal(err)
				}
				files, size = len(snap.Files), 0
				for _, c := range snap.Files {
					size += len(c)
				}
			}
			b.ReportMetric(float64(files), "files/op")
			b.ReportMetric(float64(size), "file-bytes/op")
			b.ReportMetric(1, "remote-commands/op")
		})
		b.Run(fmt.Sprintf("method=sftp-one-by-one/rtt=%s", rtt), func(b *testing.B) {
			sc, requests, closeAll := sftpClient(b, d, key, dial)
			defer closeAll()
			var files, size int
			requests.Store(0)
			for b.Loop() {
				files, size = sftpReadSample(b, sc)
			}
			b.ReportMetric(float64(files), "files/op")
			b.ReportMetric(float64(size), "file-bytes/op")
			b.ReportMetric(float64(requests.Load())/float64(b.N), "sftp-requests/op")
		})
	}
}

// sftpClient opens an SFTP session to d whose requests are counted.
func sftpClient(b *testing.B, d *daemon, key string, dial func(context.Context, string, string) (net.Conn, error)) (*sftp.Client, *atomic.Int64, func()) {
	b.Helper()
	hostPub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(d.hostLine))
	if err != nil {
		b.Fatal(err)
	}
	conn, err := dial(context.Background(), "tcp", d.addr())
	if err != nil {
		b.Fatal(err)
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, d.addr(), &ssh.ClientConfig{User: "root",
		Auth: []ssh.AuthMethod{ssh.PublicKeys(loadSigner(b, key))}, HostKeyCallback: ssh.FixedHostKey(hostPub)})
	if err != nil {
		b.Fatal(err)
	}
	client := ssh.NewClient(c, chans, reqs)
	sess, err := client.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	w, _ := sess.StdinPipe()
	r, _ := sess.StdoutPipe()
	if err := sess.RequestSubsystem("sftp"); err != nil {
		b.Fatal(err)
	}
	cw := &countingWriter{w: w}
	sc, err := sftp.NewClientPipe(r, cw)
	if err != nil {
		b.Fatal(err)
	}
	return sc, &cw.n, func() { sc.Close(); client.Close() }
}

// sftpReadSample globs and reads benchPaths file by file, as a poller would.
func sftpReadSample(b *testing.B, sc *sftp.Client) (files, size int) {
	for _, pattern := range benchPaths {
		matches, err := sc.Glob(pattern)
		if err != nil {
			b.Fatal(err)
		}
		if len(matches) == 0 {
			matches = []string{pattern}
		}
		for _, m := range matches {
			f, err := sc.Open(m)
			if err != nil {
				continue // a process exited
			}
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				continue
			}
			files++
			size += len(data)
		}
	}
	return files, size
}

// withLatency delays everything c receives by rtt: a link with that
// round-trip time (and no bandwidth limit).
func withLatency(c net.Conn, rtt time.Duration) net.Conn {
	pr, pw := io.Pipe()
	type chunk struct {
		due time.Time
		b   []byte
	}
	q := make(chan chunk, 4096)
	l := &latencyConn{Conn: c, pr: pr}
	l.wg.Add(2)
	go func() {
		defer l.wg.Done()
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			n, err := c.Read(buf)
			if n > 0 {
				q <- chunk{time.Now().Add(rtt), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		defer l.wg.Done()
		for ch := range q {
			time.Sleep(time.Until(ch.due))
			if _, err := pw.Write(ch.b); err != nil {
				for range q {
				}
				return
			}
		}
		pw.Close()
	}()
	return l
}

type latencyConn struct {
	net.Conn
	pr *io.PipeReader
	wg sync.WaitGroup
}

func (l *latencyConn) Read(p []byte) (int, error) { return l.pr.Read(p) }

func (l *latencyConn) Close() error {
	err := l.Conn.Close()
	l.pr.Close()
	l.wg.Wait()
	return err
}

// BenchmarkRun_EchoOverSSHD is the cost of one small command on a live link.
func BenchmarkRun_EchoOverSSHD(b *testing.B) {
	key, pub := newClientKey(b)
	d := startSSHD(b, "127.0.0.1", pub)
	tgt, err := remote.Dial(context.Background(), "ssh://root@"+d.addr(), realOptions(key, d.knownHosts(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer tgt.Close()
	for b.Loop() {
		if _, err := tgt.Run(context.Background(), []string{"true"}, remote.RunOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLocalReadSample is the read script's own cost on this machine.
func BenchmarkLocalReadSample(b *testing.B) {
	tgt := remote.NewLocal("")
	for b.Loop() {
		if _, err := tgt.ReadFiles(context.Background(), benchPaths, remote.ReadOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// countingWriter counts the writes of SFTP packets: one per request.
type countingWriter struct {
	w io.WriteCloser
	n atomic.Int64
}

func (c *countingWriter) Close() error { return c.w.Close() }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.w.Write(p)
}

func loadSigner(b *testing.B, file string) ssh.Signer {
	b.Helper()
	s, err := ssh.ParsePrivateKey(mustRead(b, file))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

func mustRead(tb testing.TB, file string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Clean(file))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
