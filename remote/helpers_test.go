package remote_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/remote/remotetest"
	"golang.org/x/crypto/ssh"
)

func itoa(n int) string { return strconv.Itoa(n) }

func sshFingerprint(t *testing.T, srv *remotetest.Server) string {
	t.Helper()
	return ssh.FingerprintSHA256(srv.HostKey())
}

// encryptKey copies an unencrypted OpenSSH key and encrypts the copy with ssh-keygen.
func encryptKey(t *testing.T, src, pass string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "id_encrypted")
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ssh-keygen", "-p", "-q", "-f", dst, "-P", "", "-N", pass).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen -p: %v: %s (run scripts/deps.sh)", err, out)
	}
	if b, _ := os.ReadFile(dst); !strings.Contains(string(b), "OPENSSH PRIVATE KEY") {
		t.Fatalf("ssh-keygen wrote no key")
	}
	return dst
}

// files is tgt's file transfer; a target without one fails the test.
func files(t *testing.T, tgt remote.Target) remote.FileTransfer {
	t.Helper()
	ft, ok := tgt.(remote.FileTransfer)
	if !ok {
		t.Fatalf("%s moves no files: %T is not a remote.FileTransfer", tgt.Name(), tgt)
	}
	return ft
}

// fileTransport is how the SSH transport under tgt moved its last file.
func fileTransport(tgt remote.Target) string {
	if s, ok := remote.TransportOf(tgt).(*remote.SSH); ok {
		return s.FileTransport()
	}
	return "not SSH"
}
