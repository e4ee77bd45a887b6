package remote_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leakgate/leakgate/remote/remotetest"
)

// daemon is a real SSH server (OpenSSH sshd or dropbear) started by a test
// on a loopback address and a random port, with its own host key and
// authorized keys in a temporary folder.
type daemon struct {
	t        testing.TB
	kind     string // "sshd" or "dropbear"
	ip       string
	port     int
	dir      string
	argv     []string
	cmd      *exec.Cmd
	hostLine string // "ssh-ed25519 AAAA..." of the host key
}

// requireBinary fails (never skips) when a server binary is missing.
func requireBinary(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: run scripts/deps.sh (%v)", path, err)
	}
}

// freePort returns a port free on ip right now.
func freePort(t testing.TB, ip string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

// newClientKey makes an unencrypted ed25519 key pair; it returns the private
// key file and the public key line.
func newClientKey(t testing.TB) (string, string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "id_ed25519")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "leakgate-test", "-f", f)
	pub, err := os.ReadFile(f + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return f, strings.TrimSpace(string(pub))
}

// startSSHD starts OpenSSH sshd on ip, trusting authorizedKeys for every user.
func startSSHD(t testing.TB, ip string, authorizedKeys ...string) *daemon {
	t.Helper()
	requireBinary(t, "/usr/sbin/sshd")
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, kind: "sshd", ip: ip, port: freePort(t, ip), dir: t.TempDir()}
	hostKey := filepath.Join(d.dir, "host_ed25519")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	pub, _ := os.ReadFile(hostKey + ".pub")
	f := strings.Fields(string(pub))
	d.hostLine = f[0] + " " + f[1]
	ak := filepath.Join(d.dir, "authorized_keys")
	if err := os.WriteFile(ak, []byte(strings.Join(authorizedKeys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress %s
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
AllowTcpForwarding yes
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel ERROR
MaxStartups 50
`, d.port, ip, hostKey, filepath.Join(d.dir, "sshd.pid"), ak)
	cfgFile := filepath.Join(d.dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d.argv = []string{"/usr/sbin/sshd", "-D", "-e", "-f", cfgFile}
	d.start()
	t.Cleanup(d.kill)
	return d
}

// startDropbear starts dropbear on ip in its own mount namespace, where
// sftp-server is hidden (as on an OpenWrt image without it) and /root is a
// temporary home holding authorizedKeys.
func startDropbear(t testing.TB, ip string, authorizedKeys ...string) *daemon {
	t.Helper()
	requireBinary(t, "/usr/sbin/dropbear")
	requireBinary(t, "/usr/bin/dropbearkey")
	d := &daemon{t: t, kind: "dropbear", ip: ip, port: freePort(t, ip), dir: t.TempDir()}
	hostKey := filepath.Join(d.dir, "dropbear_ed25519")
	out := run(t, "dropbearkey", "-t", "ed25519", "-f", hostKey)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "ssh-ed25519 ") {
			f := strings.Fields(line)
			d.hostLine = f[0] + " " + f[1]
		}
	}
	if d.hostLine == "" {
		t.Fatalf("dropbearkey printed no public key:\n%s", out)
	}
	home := filepath.Join(d.dir, "roothome")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "authorized_keys"), []byte(strings.Join(authorizedKeys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(d.dir, "no-sftp-server")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `mount --bind "$1" /usr/lib/openssh/sftp-server && mount --bind "$2" /root && exec /usr/sbin/dropbear -F -E -p "$3" -r "$4" -P "$5"`
	d.argv = []string{"unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", empty, home,
		net.JoinHostPort(ip, strconv.Itoa(d.port)), hostKey, filepath.Join(d.dir, "dropbear.pid")}
	d.start()
	t.Cleanup(d.kill)
	return d
}

// start runs the server and waits until it accepts connections.
func (d *daemon) start() {
	d.t.Helper()
	cmd := exec.Command(d.argv[0], d.argv[1:]...)
	// If the test binary dies (a timeout panic skips cleanups), so does the server.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logf, err := os.OpenFile(filepath.Join(d.dir, d.kind+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		d.t.Fatalf("start %s: %v (run scripts/deps.sh)", d.kind, err)
	}
	d.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(d.dir, d.kind+".log"))
			d.t.Fatalf("%s did not listen on %s: %v\n%s", d.kind, d.addr(), err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill kills the server and every process it started (sessions, commands),
// as a crash or reboot of the target would, and reaps it.
func (d *daemon) kill() {
	if d.cmd == nil {
		return
	}
	for _, pid := range remotetest.Descendants(d.cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = d.cmd.Process.Kill()
	_ = d.cmd.Wait()
	d.cmd = nil
}

func (d *daemon) addr() string { return net.JoinHostPort(d.ip, strconv.Itoa(d.port)) }

// knownHosts writes a known_hosts file trusting this server and returns it.
func (d *daemon) knownHosts(t testing.TB) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(f, []byte(d.knownHostsLine()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (d *daemon) knownHostsLine() string {
	return fmt.Sprintf("[%s]:%d %s", d.ip, d.port, d.hostLine)
}

// testUser is the dedicated account for password auth.
const testUser = "leakgate-test"

// ensureTestUser creates testUser if needed and sets a fresh random password.
func ensureTestUser(t testing.TB) string {
	t.Helper()
	if err := exec.Command("id", testUser).Run(); err != nil {
		run(t, "useradd", "-m", "-s", "/bin/sh", testUser)
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	pw := "Lg-" + hex.EncodeToString(b[:])
	cmd := exec.Command("chpasswd")
	cmd.Stdin = strings.NewReader(testUser + ":" + pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	return pw
}

// startAgent runs a real ssh-agent holding key and returns its socket.
func startAgent(t testing.TB, key string) string {
	t.Helper()
	requireBinary(t, "/usr/bin/ssh-agent")
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent did not create its socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
	add := exec.Command("ssh-add", "-q", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	return sock
}
