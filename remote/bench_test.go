package remote_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/leakgate/leakgate/remote"
	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// benchPaths is one leak-gate sample: slabinfo, meminfo and every
// process's status and smaps_rollup.
var benchPaths = []string{"/proc/slabinfo", "/proc/meminfo", "/proc/[0-9]*/status", "/proc/[0-9]*/smaps_rollup"}

// BenchmarkReadSample_OneRoundTrip reads a sample from a real sshd with
// ReadFiles: one remote command.
func BenchmarkReadSample_OneRoundTrip(b *testing.B) {
	key, pub := newClientKey(b)
	d := startSSHD(b, "127.0.0.1", pub)
	tgt, err := remote.Dial(context.Background(), "ssh://root@"+d.addr(), realOptions(key, d.knownHosts(b)))
	if err != nil {
		b.Fatal(err)
	}
	defer tgt.Close()
	var files, bytes int
	b.ResetTimer()
	for b.Loop() {
		snap, err := tgt.ReadFiles(context.Background(), benchPaths, remote.ReadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		files, bytes = len(snap.Files), 0
		for _, c := range snap.Files {
			bytes += len(c)
		}
	}
	b.ReportMetric(float64(files), "files/op")
	b.ReportMetric(float64(bytes), "bytes/op")
	b.ReportMetric(1, "remote-commands/op")
}

// BenchmarkReadSample_SFTPOneByOne reads the same sample from the same kind
// of sshd over SFTP, globbing and then reading file after file.
func BenchmarkReadSample_SFTPOneByOne(b *testing.B) {
	key, pub := newClientKey(b)
	d := startSSHD(b, "127.0.0.1", pub)
	signer := loadSigner(b, key)
	hostPub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(d.hostLine))
	if err != nil {
		b.Fatal(err)
	}
	client, err := ssh.Dial("tcp", d.addr(), &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(hostPub)})
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
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
	defer sc.Close()
	var files, bytes int
	cw.n.Store(0)
	b.ResetTimer()
	for b.Loop() {
		files, bytes = 0, 0
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
				bytes += len(data)
			}
		}
	}
	b.ReportMetric(float64(files), "files/op")
	b.ReportMetric(float64(bytes), "bytes/op")
	b.ReportMetric(float64(cw.n.Load())/float64(b.N), "sftp-requests/op")
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
