package remote_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/remote/remotetest"
	"golang.org/x/crypto/ssh"
)

// realServer is one kind of real SSH server the acceptance tests start.
type realServer struct {
	name      string
	start     func(t testing.TB, ip string, authorizedKeys ...string) *daemon
	transport string // how files move: sshd has SFTP, our dropbear has none
}

var realServers = []realServer{
	{"sshd", startSSHD, "sftp"},
	{"dropbear", startDropbear, "exec"},
}

// realOptions reach a daemon as root with key and known_hosts, nothing else.
func realOptions(key, knownHosts string) remote.Options {
	return remote.Options{
		IdentityFiles:    []string{key},
		KnownHostsFiles:  []string{knownHosts},
		NoAgent:          true,
		SSHConfigFile:    "none",
		ConnectTimeout:   5 * time.Second,
		ReconnectBackoff: 100 * time.Millisecond,
	}
}

func dialReal(t *testing.T, spec string, opts remote.Options) (remote.Target, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tgt, err := remote.Dial(ctx, spec, opts)
	if err == nil {
		t.Cleanup(func() { tgt.Close() })
	}
	return tgt, err
}

// echo runs echo on tgt and checks the output.
func echo(t *testing.T, tgt remote.Target, word string) {
	t.Helper()
	res, err := tgt.Run(context.Background(), []string{"echo", word}, remote.RunOptions{})
	if err != nil || res.ExitStatus != 0 || string(res.Stdout) != word+"\n" {
		t.Fatalf("echo %s: %q exit %d: %v", word, res.Stdout, res.ExitStatus, err)
	}
}

func TestRealServers(t *testing.T) {
	for _, kind := range realServers {
		t.Run(kind.name, func(t *testing.T) {
			key, pub := newClientKey(t)
			agentKey, agentPub := newClientKey(t)
			d := kind.start(t, "127.0.0.1", pub, agentPub)
			kh := d.knownHosts(t)
			spec := "ssh://root@" + d.addr()

			t.Run("key auth runs a command", func(t *testing.T) {
				tgt, err := dialReal(t, spec, realOptions(key, kh))
				if err != nil {
					t.Fatal(err)
				}
				echo(t, tgt, "key")
			})

			t.Run("agent auth uses a real ssh-agent", func(t *testing.T) {
				opts := realOptions("", kh)
				opts.IdentityFiles = nil
				opts.NoAgent = false
				opts.AgentSocket = startAgent(t, agentKey)
				tgt, err := dialReal(t, spec, opts)
				if err != nil {
					t.Fatal(err)
				}
				echo(t, tgt, "agent")
			})

			t.Run("password auth reads the password from the environment", func(t *testing.T) {
				pw := ensureTestUser(t)
				opts := realOptions("", kh)
				opts.IdentityFiles = nil
				opts.PasswordEnv = "LEAKGATE_TEST_PASSWORD"
				opts.Getenv = func(k string) string {
					if k == "LEAKGATE_TEST_PASSWORD" {
						return pw
					}
					return ""
				}
				tgt, err := dialReal(t, "ssh://"+testUser+"@"+d.addr(), opts)
				if err != nil {
					t.Fatal(err)
				}
				res, err := tgt.Run(context.Background(), []string{"id", "-un"}, remote.RunOptions{})
				if err != nil || strings.TrimSpace(string(res.Stdout)) != testUser {
					t.Fatalf("id -un = %q, %v", res.Stdout, err)
				}
			})

			t.Run("a wrong key is an auth error", func(t *testing.T) {
				other, _ := newClientKey(t)
				_, err := dialReal(t, spec, realOptions(other, kh))
				var ae *remote.AuthError
				if !errors.As(err, &ae) || remote.IsRetryable(err) {
					t.Fatalf("got %v, want a non-retryable AuthError", err)
				}
			})

			t.Run("an unknown host is refused with a keyscan command that works", func(t *testing.T) {
				empty := filepath.Join(t.TempDir(), "known_hosts")
				_, err := dialReal(t, spec, realOptions(key, empty))
				var hk *remote.HostKeyError
				if !errors.As(err, &hk) || hk.Changed {
					t.Fatalf("got %v, want an unknown-host HostKeyError", err)
				}
				keyscan := fmt.Sprintf("ssh-keyscan -p %d %s >> %s", d.port, d.ip, empty)
				for _, want := range []string{keyscan, d.knownHostsLine()} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("message lacks %q:\n%v", want, err)
					}
				}
				// Follow the advice literally, then connect.
				if out, err := exec.Command("sh", "-c", keyscan+" 2>/dev/null").CombinedOutput(); err != nil {
					t.Fatalf("%s: %v %s", keyscan, err, out)
				}
				tgt, err := dialReal(t, spec, realOptions(key, empty))
				if err != nil {
					t.Fatalf("after running the suggested ssh-keyscan: %v", err)
				}
				echo(t, tgt, "scanned")
			})

			t.Run("a changed host key is refused naming the presented fingerprint", func(t *testing.T) {
				_, otherPub := newClientKey(t)
				f := strings.Fields(otherPub)
				wrong := filepath.Join(t.TempDir(), "known_hosts")
				line := fmt.Sprintf("[%s]:%d %s %s\n", d.ip, d.port, f[0], f[1])
				if err := os.WriteFile(wrong, []byte(line), 0o600); err != nil {
					t.Fatal(err)
				}
				opts := realOptions(key, wrong)
				opts.HostKeyPolicy = remote.HostKeyTOFU
				_, err := dialReal(t, spec, opts)
				var hk *remote.HostKeyError
				if !errors.As(err, &hk) || !hk.Changed || remote.IsRetryable(err) {
					t.Fatalf("got %v, want a non-retryable changed-key HostKeyError", err)
				}
				hostPub, _, _, _, perr := ssh.ParseAuthorizedKey([]byte(d.hostLine))
				if perr != nil {
					t.Fatal(perr)
				}
				if fp := ssh.FingerprintSHA256(hostPub); !strings.Contains(err.Error(), fp) {
					t.Errorf("message does not name %s:\n%v", fp, err)
				}
				if b, _ := os.ReadFile(wrong); string(b) != line {
					t.Error("known_hosts was rewritten after a changed key")
				}
			})

			t.Run("TOFU writes known_hosts on first use", func(t *testing.T) {
				fresh := filepath.Join(t.TempDir(), "known_hosts")
				opts := realOptions(key, fresh)
				opts.HostKeyPolicy = remote.HostKeyTOFU
				tgt, err := dialReal(t, spec, opts)
				if err != nil {
					t.Fatal(err)
				}
				tgt.Close()
				b, _ := os.ReadFile(fresh)
				if strings.TrimSpace(string(b)) != d.knownHostsLine() {
					t.Fatalf("known_hosts = %q, want %q", b, d.knownHostsLine())
				}
				if _, err := dialReal(t, spec, realOptions(key, fresh)); err != nil {
					t.Errorf("verify against the TOFU file: %v", err)
				}
			})

			t.Run("a ProxyJump chain from ssh_config reaches the target only through the jumps", func(t *testing.T) {
				jump1 := startSSHD(t, "127.0.0.1", pub)
				jump2 := startSSHD(t, "127.0.0.1", pub)
				all := filepath.Join(t.TempDir(), "known_hosts")
				lines := d.knownHostsLine() + "\n" + jump1.knownHostsLine() + "\n" + jump2.knownHostsLine() + "\n"
				if err := os.WriteFile(all, []byte(lines), 0o600); err != nil {
					t.Fatal(err)
				}
				cfg := filepath.Join(t.TempDir(), "config")
				body := fmt.Sprintf(`Host bastion1
  HostName 127.0.0.1
  Port %d
Host bastion2
  HostName 127.0.0.1
  Port %d
Host dut
  HostName %s
  Port %d
  ProxyJump bastion1,bastion2
Host *
  User root
  IdentityFile %s
  UserKnownHostsFile %s
  ConnectTimeout 5
  ServerAliveInterval 5
`, jump1.port, jump2.port, d.ip, d.port, key, all)
				if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				var dialed []string
				opts := remote.Options{SSHConfigFile: cfg, NoAgent: true,
					DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
						dialed = append(dialed, addr)
						if addr == d.addr() || addr == jump2.addr() {
							return nil, errors.New("direct route forbidden by the test")
						}
						var nd net.Dialer
						return nd.DialContext(ctx, network, addr)
					}}
				tgt, err := dialReal(t, "dut", opts)
				if err != nil {
					t.Fatal(err)
				}
				echo(t, tgt, "jumped")
				if strings.Join(dialed, ",") != jump1.addr() {
					t.Errorf("dialed directly %v, want only the first jump %s", dialed, jump1.addr())
				}
			})

			t.Run("files move over the expected transport", func(t *testing.T) {
				tgt, err := dialReal(t, spec, realOptions(key, kh))
				if err != nil {
					t.Fatal(err)
				}
				dir := t.TempDir()
				src := filepath.Join(dir, "payload")
				payload := bytes.Repeat([]byte("leak\x00gate\n"), 50000)
				if err := os.WriteFile(src, payload, 0o600); err != nil {
					t.Fatal(err)
				}
				remotePath := filepath.Join(t.TempDir(), "up a'b")
				if err := files(t, tgt).Upload(context.Background(), src, remotePath, 0o751); err != nil {
					t.Fatal(err)
				}
				if fi, err := os.Stat(remotePath); err != nil || fi.Mode().Perm() != 0o751 {
					t.Fatalf("uploaded file: %v %v", fi, err)
				}
				got, err := files(t, tgt).Download(context.Background(), remotePath, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := os.ReadFile(got); !bytes.Equal(b, payload) {
					t.Errorf("downloaded %d bytes, want %d", len(b), len(payload))
				}
				if tr := fileTransport(tgt); tr != kind.transport {
					t.Errorf("transport = %q, want %q", tr, kind.transport)
				}
			})

			t.Run("hostile names are read exactly and run nothing", func(t *testing.T) {
				tgt, err := dialReal(t, spec, realOptions(key, kh))
				if err != nil {
					t.Fatal(err)
				}
				checkHostileNames(t, tgt)
			})

			t.Run("one round trip reads meminfo, slabinfo and every process status", func(t *testing.T) {
				tgt, err := dialReal(t, spec, realOptions(key, kh))
				if err != nil {
					t.Fatal(err)
				}
				checkProcRead(t, tgt)
			})

			t.Run("the read names its shell; that shell and its session are the observer", func(t *testing.T) {
				tgt, err := dialReal(t, spec, realOptions(key, kh))
				if err != nil {
					t.Fatal(err)
				}
				checkObserver(t, tgt, d.cmd.Process.Pid)
			})

			t.Run("a cancelled command returns the context error and stops on the target", func(t *testing.T) {
				tgt, err := dialReal(t, spec, realOptions(key, kh))
				if err != nil {
					t.Fatal(err)
				}
				mark := filepath.Join(t.TempDir(), "started")
				unique := fmt.Sprintf("%d.%03d", 600+time.Now().Nanosecond()%1000, time.Now().Nanosecond()%997)
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				go func() {
					_, err := tgt.Run(ctx, []string{"sh", "-c", `touch "$1"; exec sleep "$2"`, "sh", mark, unique}, remote.RunOptions{})
					errc <- err
				}()
				waitFor(t, mark)
				cancel()
				if err := <-errc; !errors.Is(err, context.Canceled) {
					t.Fatalf("got %v, want context.Canceled", err)
				}
				deadline := time.Now().Add(10 * time.Second)
				for sleepRunning(unique) {
					if time.Now().After(deadline) {
						t.Fatalf("sleep %s still runs on the target after cancel", unique)
					}
					time.Sleep(20 * time.Millisecond)
				}
				echo(t, tgt, "after-cancel")
			})

			t.Run("a server killed mid-command is a link error and the next call reconnects", func(t *testing.T) {
				tgt, err := dialReal(t, spec, realOptions(key, kh))
				if err != nil {
					t.Fatal(err)
				}
				mark := filepath.Join(t.TempDir(), "started")
				errc := make(chan error, 1)
				go func() {
					res, err := tgt.Run(context.Background(), []string{"sh", "-c", `touch "$1"; exec sleep 60`, "sh", mark}, remote.RunOptions{})
					if err == nil {
						err = fmt.Errorf("run returned exit status %d without error", res.ExitStatus)
					}
					errc <- err
				}()
				waitFor(t, mark)
				d.kill()
				err = <-errc
				var le *remote.LinkError
				if !errors.As(err, &le) || !remote.IsRetryable(err) {
					t.Fatalf("got %v, want a retryable LinkError", err)
				}
				d.start()
				echo(t, tgt, "reconnected")
			})
		})
	}
}

func TestRealSSHD_KnownHostsAlgorithmsPreventFalseMismatch(t *testing.T) {
	key, pub := newClientKey(t)
	d := startSSHD(t, "127.0.0.1", pub)
	// Give sshd a second host key (RSA) and trust only that one: the client
	// must ask for RSA rather than negotiate ed25519 and cry "changed".
	rsaKey := filepath.Join(d.dir, "host_rsa")
	run(t, "ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsaKey)
	cfg := d.argv[len(d.argv)-1]
	b, _ := os.ReadFile(cfg)
	if err := os.WriteFile(cfg, append(b, []byte("HostKey "+rsaKey+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	d.kill()
	d.start()
	pubRSA, _ := os.ReadFile(rsaKey + ".pub")
	f := strings.Fields(string(pubRSA))
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(fmt.Sprintf("[%s]:%d %s %s\n", d.ip, d.port, f[0], f[1])), 0o600); err != nil {
		t.Fatal(err)
	}

	tgt, err := dialReal(t, "ssh://root@"+d.addr(), realOptions(key, kh))

	if err != nil {
		t.Fatalf("an RSA-only known_hosts entry was not accepted: %v", err)
	}
	echo(t, tgt, "rsa")
}

// waitFor waits until path exists.
func waitFor(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkHostileNames reads files whose names are shell syntax and runs argv
// holding the same text, checking nothing is executed.
func checkHostileNames(t *testing.T, tgt remote.Target) {
	t.Helper()
	pwned := "/tmp/pwned"
	os.Remove(pwned)
	dir := t.TempDir()
	files := map[string]string{
		filepath.Join(dir, "$(touch /tmp/pwned)"):  "dollar paren\n", // nested folders: "$(touch ", "tmp", "pwned)"
		filepath.Join(dir, "`touch pwned`"):        "backticks\n",
		filepath.Join(dir, `a'b"c;d`):              "quotes\n",
		filepath.Join(dir, "x\nline; touch pwned"): "newline\n",
	}
	var paths []string
	for p, c := range files {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	snap, err := tgt.ReadFiles(context.Background(), paths, remote.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range files {
		if string(snap.Files[p]) != want {
			t.Errorf("%q = %q, want %q (errors %v)", p, snap.Files[p], want, snap.Errors)
		}
	}
	for _, arg := range []string{"$(touch /tmp/pwned)", `a'b"c;d`, "`touch /tmp/pwned`", "; touch /tmp/pwned"} {
		res, err := tgt.Run(context.Background(), []string{"printf", "%s", arg}, remote.RunOptions{})
		if err != nil || string(res.Stdout) != arg {
			t.Errorf("printf %q printed %q (%v)", arg, res.Stdout, err)
		}
	}
	for _, p := range []string{pwned, filepath.Join(dir, "pwned")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("a hostile name ran a command: %s exists", p)
		}
	}
}

// checkProcRead compares one ReadFiles round trip of /proc with the files
// read here. /proc changes between reads, so it compares what is stable:
// field names, MemTotal, slab cache names and the identity lines of
// processes that lived through both local reads.
func checkProcRead(t *testing.T, tgt remote.Target) {
	t.Helper()
	before := localStatuses(t)
	snap, err := tgt.ReadFiles(context.Background(), []string{"/proc/meminfo", "/proc/slabinfo", "/proc/[0-9]*/status"}, remote.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := localStatuses(t)

	localMem, _ := os.ReadFile("/proc/meminfo")
	if got, want := fieldNames(snap.Files["/proc/meminfo"]), fieldNames(localMem); got != want || got == "" {
		t.Errorf("meminfo fields differ:\n got %s\nwant %s", got, want)
	}
	if got, want := firstLine(snap.Files["/proc/meminfo"]), firstLine(localMem); got != want {
		t.Errorf("MemTotal: got %q, want %q", got, want)
	}
	localSlab, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fieldNames(snap.Files["/proc/slabinfo"]), fieldNames(localSlab); got != want || len(got) < 100 {
		t.Errorf("slab caches differ:\n got %.300s\nwant %.300s", got, want)
	}
	stable := 0
	for path, b := range before {
		a, ok := after[path]
		if !ok || identity(a) != identity(b) {
			continue
		}
		stable++
		if got := identity(snap.Files[path]); got != identity(b) {
			t.Errorf("%s: got %q, want %q (error %q)", path, got, identity(b), snap.Errors[path])
		}
	}
	if stable < 2 {
		t.Errorf("only %d stable processes to compare", stable)
	}
}

// checkObserver reads a whole sample's process files twice over one
// connection and checks that the snapshot names the read script's shell,
// that the shell's parent is a per-connection process of the server under
// test, and that both are the sample's observer, the same session both
// times, and absent from the judged processes.
func checkObserver(t *testing.T, tgt remote.Target, serverPID int) {
	t.Helper()
	paths := append(checks.SnapshotPaths(checks.SampleOptions{}), "/proc/self/stat")
	var sessions []checks.ObserverProcess
	for i := range 2 {
		snap, err := tgt.ReadFiles(context.Background(), paths, remote.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// head read /proc/self/stat: its parent is the read script's shell.
		self := strings.Fields(string(snap.Files["/proc/self/stat"][bytes.LastIndexByte(snap.Files["/proc/self/stat"], ')')+1:]))
		if len(self) < 2 || self[1] != fmt.Sprint(snap.ReaderPID) || snap.ReaderPID <= 0 {
			t.Fatalf("read %d: ReaderPID %d, but head's parent is %v", i, snap.ReaderPID, self)
		}
		smp := checks.ParseSnapshot(i, time.Now(), snap.Files, snap.Errors, checks.SampleOptions{ReaderPID: snap.ReaderPID})
		if len(smp.Observer) < 2 || smp.Observer[0].PID != snap.ReaderPID {
			t.Fatalf("read %d: observer %+v, want the reader %d and its session", i, smp.Observer, snap.ReaderPID)
		}
		t.Logf("read %d: observer %+v", i, smp.Observer)
		session := smp.Observer[1]
		if !slices.Contains(remotetest.Descendants(serverPID), session.PID) {
			t.Errorf("read %d: session %+v is not a process of the server (pid %d)", i, session, serverPID)
		}
		if !strings.HasPrefix(session.Name, "sshd") && session.Name != "dropbear" {
			t.Errorf("read %d: session %+v, want an sshd or dropbear process", i, session)
		}
		for _, p := range smp.Procs {
			for _, o := range smp.Observer {
				if p.PID == o.PID {
					t.Errorf("read %d: observer %+v is judged", i, o)
				}
			}
		}
		if len(smp.Procs) < 2 {
			t.Errorf("read %d: only %d judged processes", i, len(smp.Procs))
		}
		sessions = append(sessions, session)
	}
	if sessions[0] != sessions[1] {
		t.Errorf("the session changed between two reads over one connection: %+v then %+v", sessions[0], sessions[1])
	}
}

// localStatuses reads every /proc/PID/status here.
func localStatuses(t *testing.T) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob("/proc/[0-9]*/status")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			out[p] = b
		}
	}
	return out
}

// identity keeps the lines of a status file that do not change while a process lives.
func identity(status []byte) string {
	var keep []string
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		// kworker names carry the workqueue they serve at the moment.
		if strings.HasPrefix(sc.Text(), "Name:\tkworker/") {
			continue
		}
		for _, k := range []string{"Name:", "Tgid:", "Pid:", "PPid:", "Uid:"} {
			if strings.HasPrefix(sc.Text(), k) {
				keep = append(keep, sc.Text())
			}
		}
	}
	return strings.Join(keep, "|")
}

// fieldNames is the sorted first word of every line.
func fieldNames(b []byte) string {
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}

// sleepRunning reports whether a process "sleep ARG" exists here.
func sleepRunning(arg string) bool {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && string(b) == "sleep\x00"+arg+"\x00" {
			return true
		}
	}
	return false
}
