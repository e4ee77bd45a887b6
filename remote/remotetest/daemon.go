package remotetest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/leakgate/leakgate/remote"
	"golang.org/x/crypto/ssh"
)

// Daemon kinds StartDaemon runs.
const (
	OpenSSH  = "sshd"
	Dropbear = "dropbear"
)

// DaemonUser is the account a Daemon's sessions log in as; StartDaemon
// creates it (shell /bin/sh, password "*": no password login, yet not
// locked, which OpenSSH would refuse even for a key) when it is missing. It
// is not the remote package's password-test account, whose password those
// tests reset.
const DaemonUser = "leakgate-daemon"

// Daemon is a real SSH server (OpenSSH sshd or dropbear) on a loopback port,
// run by a test as root, whose sessions see Root as the target's filesystem
// the same way a Server's do: ClientOptions maps the target paths of reads
// and of RunOptions.PathArgs under Root. The login is DaemonUser, with a key the daemon
// trusts: a dedicated account whose shell is /bin/sh, so sessions do not
// depend on the machine's root dotfiles (a bash login sources ~/.bashrc
// for every SSH command, a tenth of a second or more on a dev machine).
type Daemon struct {
	t          testing.TB
	kind       string
	root       string
	dir        string
	port       int
	argv       []string
	cmd        *exec.Cmd
	hostKey    ssh.PublicKey
	clientFile string
	knownHosts string
}

// StartDaemon starts a real SSH server of kind (OpenSSH or Dropbear) on
// 127.0.0.1 serving root, and stops it when the test ends. Everything under
// root is handed to DaemonUser (the harness writes the kmemleak file there);
// files created there later keep their owner. A missing binary fails the
// test, saying to run scripts/deps.sh.
func StartDaemon(t testing.TB, kind, root string) *Daemon {
	t.Helper()
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	uid, gid, home := ensureDaemonUser(t)
	err = filepath.WalkDir(abs, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
	if err != nil {
		t.Fatalf("hand %s to %s: %v", abs, DaemonUser, err)
	}
	letThrough(t, abs)
	d := &Daemon{t: t, kind: kind, root: abs, dir: t.TempDir()}
	_, clientPEM, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	d.clientFile = filepath.Join(d.dir, "client_ed25519")
	if err := os.WriteFile(d.clientFile, clientPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(clientPEM)
	if err != nil {
		t.Fatal(err)
	}
	authorized := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	d.port = freePort(t)
	switch kind {
	case OpenSSH:
		d.configureSSHD(authorized)
	case Dropbear:
		d.configureDropbear(authorized, home)
	default:
		t.Fatalf("remotetest: unknown daemon kind %q (want %q or %q)", kind, OpenSSH, Dropbear)
	}
	d.knownHosts = filepath.Join(d.dir, "known_hosts")
	if err := os.WriteFile(d.knownHosts, []byte(d.KnownHostsLine(d.Addr())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.start()
	t.Cleanup(d.Stop)
	return d
}

// Kind is OpenSSH or Dropbear.
func (d *Daemon) Kind() string { return d.kind }

// Addr is the host:port the daemon listens on.
func (d *Daemon) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

// Root is the folder the daemon's sessions see as the target's filesystem.
func (d *Daemon) Root() string { return d.root }

// HostKey is the daemon's public host key; it survives Restart.
func (d *Daemon) HostKey() ssh.PublicKey { return d.hostKey }

// KnownHostsLine is the known_hosts line trusting the daemon's host key at
// addr (the daemon itself, or a proxy in front of it).
func (d *Daemon) KnownHostsLine(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return remote.KnownHostsLine(host, p, d.hostKey)
}

// Spec is the target spec naming the daemon: ssh://leakgate-daemon@127.0.0.1:port.
func (d *Daemon) Spec() string { return "ssh://" + DaemonUser + "@" + d.Addr() }

// ClientOptions are remote.Options that reach the daemon: its client key,
// its known_hosts, the root mapping, no agent, no ssh_config.
func (d *Daemon) ClientOptions() remote.Options {
	return remote.Options{
		IdentityFiles:    []string{d.clientFile},
		KnownHostsFiles:  []string{d.knownHosts},
		NoAgent:          true,
		SSHConfigFile:    "none",
		Root:             d.root,
		ConnectTimeout:   10 * time.Second,
		ReconnectBackoff: 50 * time.Millisecond,
	}
}

// KillSessions SIGKILLs every per-connection server process (the daemon's
// children named like it), leaving the listener up: every open connection
// drops at once, as when the link is cut, and reconnects are accepted. It
// returns how many processes it killed.
func (d *Daemon) KillSessions() int {
	if d.cmd == nil {
		return 0
	}
	n := 0
	for _, pid := range Descendants(d.cmd.Process.Pid) {
		if comm(pid) == d.kind && syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

// Restart kills the daemon and every process it started, then starts it
// again on the same port with the same host key and configuration, as a
// restart of the target's SSH service (or of the target's network) does.
func (d *Daemon) Restart() {
	d.t.Helper()
	d.Stop()
	d.start()
}

// Stop kills the daemon and every process it started, and reaps it.
func (d *Daemon) Stop() {
	if d.cmd == nil {
		return
	}
	for _, pid := range Descendants(d.cmd.Process.Pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	_ = d.cmd.Process.Kill()
	_ = d.cmd.Wait()
	d.cmd = nil
}

func (d *Daemon) configureSSHD(authorized string) {
	t := d.t
	requireBinary(t, "/usr/sbin/sshd")
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	hostKey := filepath.Join(d.dir, "host_ed25519")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	pub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	d.hostKey = parsePublic(t, string(pub))
	// sshd reads the keys as the user.
	ak := filepath.Join(d.dir, "authorized_keys")
	if err := os.WriteFile(ak, []byte(authorized+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	uid, gid, _ := ensureDaemonUser(t)
	if err := os.Chown(ak, uid, gid); err != nil {
		t.Fatal(err)
	}
	letThrough(t, ak)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp /usr/lib/openssh/sftp-server
LogLevel ERROR
MaxStartups 50
`, d.port, hostKey, filepath.Join(d.dir, "sshd.pid"), ak)
	cfgFile := filepath.Join(d.dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d.argv = []string{"/usr/sbin/sshd", "-D", "-e", "-f", cfgFile}
}

func (d *Daemon) configureDropbear(authorized, userHome string) {
	t := d.t
	requireBinary(t, "/usr/sbin/dropbear")
	requireBinary(t, "/usr/bin/dropbearkey")
	hostKey := filepath.Join(d.dir, "dropbear_ed25519")
	out := run(t, "dropbearkey", "-t", "ed25519", "-f", hostKey)
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "ssh-ed25519 ") {
			d.hostKey = parsePublic(t, line)
		}
	}
	if d.hostKey == nil {
		t.Fatalf("dropbearkey printed no public key:\n%s", out)
	}
	// dropbear reads the user's keys from ~/.ssh: a private mount namespace
	// puts a temporary home there, so the machine's is untouched.
	home := filepath.Join(d.dir, "home")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "authorized_keys"), []byte(authorized+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// dropbear insists the user owns ~/.ssh and authorized_keys.
	uid, gid, _ := ensureDaemonUser(t)
	for _, p := range []string{home, filepath.Join(home, ".ssh"), filepath.Join(home, ".ssh", "authorized_keys")} {
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	script := `mount --bind "$1" "$2" && exec /usr/sbin/dropbear -F -E -s -p "$3" -r "$4" -P "$5"`
	d.argv = []string{"unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", home, userHome,
		d.Addr(), hostKey, filepath.Join(d.dir, "dropbear.pid")}
}

// start runs the daemon and waits until it accepts connections.
func (d *Daemon) start() {
	t := d.t
	t.Helper()
	cmd := exec.Command(d.argv[0], d.argv[1:]...)
	// If the test binary dies (a timeout panic skips cleanups), so does the daemon.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	logPath := filepath.Join(d.dir, d.kind+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v (run scripts/deps.sh)", d.kind, err)
	}
	d.cmd = cmd
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", d.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("%s did not listen on %s: %v\n%s", d.kind, d.Addr(), err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// letThrough lets DaemonUser pass through the folders above path (a test's
// temporary folders are 0700).
func letThrough(t testing.TB, path string) {
	t.Helper()
	for dir := filepath.Dir(path); dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, fi.Mode().Perm()|0o001); err != nil {
				t.Fatalf("let %s through %s: %v", DaemonUser, dir, err)
			}
		}
	}
}

// ensureDaemonUser creates DaemonUser if it is missing and
// returns its uid, gid and home.
func ensureDaemonUser(t testing.TB) (int, int, string) {
	t.Helper()
	u, err := user.Lookup(DaemonUser)
	if err != nil {
		// Another test process may create it at the same time: look again.
		out, uerr := exec.Command("useradd", "-m", "-s", "/bin/sh", "-p", "*", DaemonUser).CombinedOutput()
		if u, err = user.Lookup(DaemonUser); err != nil {
			t.Fatalf("create the %s account: %v %s (the tests run as root)", DaemonUser, uerr, out)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, u.HomeDir
}

func requireBinary(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: run scripts/deps.sh (%v)", path, err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
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

func parsePublic(t testing.TB, line string) ssh.PublicKey {
	t.Helper()
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatalf("parse host key %q: %v", line, err)
	}
	return k
}

// comm is the process name of pid ("" when it is gone).
func comm(pid int) string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Descendants lists every process below pid on this machine, read from
// /proc (tests kill a server's sessions with it, or check who served them).
func Descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "PPid:"); ok {
				pp, _ := strconv.Atoi(strings.TrimSpace(v))
				children[pp] = append(children[pp], p)
				break
			}
		}
		f.Close()
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}
