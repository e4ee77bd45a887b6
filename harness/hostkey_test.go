package harness

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/remote/remotetest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// wrongKnownHosts writes a known_hosts that pins another key for srv's
// address: the target's host key changed (or a machine in the middle).
func wrongKnownHosts(t *testing.T, srv *remotetest.Server) string {
	return knownHostsWithOtherKey(t, knownhosts.Normalize(srv.Addr()))
}

// emptyKnownHosts writes a known_hosts that lists another host only: srv
// is unknown.
func emptyKnownHosts(t *testing.T, _ *remotetest.Server) string {
	return knownHostsWithOtherKey(t, "[192.0.2.1]:22")
}

// knownHostsWithOtherKey writes a known_hosts pinning a fresh key for host.
func knownHostsWithOtherKey(t *testing.T, host string) string {
	t.Helper()
	other, _, err := remotetest.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(kh, []byte(knownhosts.Line([]string{host}, other.PublicKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return kh
}

// TestEveryEntryPointRefusesAnUntrustedHostKey runs the leakgate CLI's
// subcommands that dial (run, read, preflight, sample) and the wifi_soak
// suite against a server whose host key differs from known_hosts, and
// against one known_hosts does not list: each must refuse, say why (the
// host key; for an unknown host, the ssh-keyscan line that trusts it), and
// run nothing on the server.
func TestEveryEntryPointRefusesAnUntrustedHostKey(t *testing.T) {
	t.Parallel()
	cli := filepath.Join(t.TempDir(), "leakgate")
	build := exec.Command("go", "build", "-o", cli, "./cmd/leakgate")
	build.Dir = moduleRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the CLI: %v\n%s", err, out)
	}
	suite := buildSuite(t)

	for _, c := range []struct {
		name       string
		knownHosts func(t *testing.T, srv *remotetest.Server) string
		says       string
	}{
		{"changed host key", wrongKnownHosts, "host key"},
		{"unknown host", emptyKnownHosts, "ssh-keyscan"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := remotetest.New(t, remotetest.Options{})
			kh := c.knownHosts(t, srv)
			target := []string{"--target", srv.Spec(), "--identity", srv.ClientKeyFile(), "--known-hosts", kh, "--ssh-config", "none", "--connect-timeout", "5s"}
			sampleOut := filepath.Join(t.TempDir(), "snap")
			entries := map[string][]string{
				"leakgate run":       append(append([]string{"run"}, target...), "--", "true"),
				"leakgate read":      append(append([]string{"read"}, target...), "/proc/meminfo"),
				"leakgate preflight": append([]string{"preflight"}, target...),
				"leakgate sample":    append(append([]string{"sample"}, target...), "--out", sampleOut),
				"wifi_soak suite":    nil,
			}
			for name, args := range entries {
				bin := cli
				if args == nil {
					bin, args = suite, append(target, "--duration", "20m", "--interval", "10m", "--out", t.TempDir())
				}
				var out bytes.Buffer
				cmd := exec.Command(bin, args...)
				cmd.Stdout, cmd.Stderr = &out, &out
				err := cmd.Run()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() == 0 {
					t.Errorf("%s exited %v with a %s; it must refuse:\n%s", name, err, c.name, out.String())
					continue
				}
				if !strings.Contains(strings.ToLower(out.String()), c.says) {
					t.Errorf("%s does not say %q:\n%s", name, c.says, out.String())
				}
			}
			if _, err := os.Stat(filepath.Join(sampleOut, "raw.tar.gz")); err == nil {
				t.Errorf("leakgate sample wrote a snapshot from a server it should not trust")
			}
			if cmds := srv.Commands(); len(cmds) != 0 {
				t.Errorf("the untrusted server ran %d commands: %q", len(cmds), cmds)
			}
		})
	}
}

// TestSoak_PassphraseNeverReachesTheRunFolder soaks through an encrypted
// identity whose passphrase is in the environment, then greps every file of
// the run folder for it and checks the folder's modes.
func TestSoak_PassphraseNeverReachesTheRunFolder(t *testing.T) {
	t.Parallel()
	const passphrase = "pp-Xw93-never-in-artifacts"
	const env = "LEAKGATE_TEST_SOAK_PASSPHRASE"
	setSecretEnv(t, env, passphrase)
	srv := remotetest.New(t, remotetest.Options{})
	plain, err := os.ReadFile(srv.ClientKeyFile())
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.ParseRawPrivateKey(plain)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(key, "leakgate test", []byte(passphrase))
	if err != nil {
		t.Fatal(err)
	}
	encrypted := filepath.Join(t.TempDir(), "id_encrypted")
	if err := os.WriteFile(encrypted, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	sc := scenario{interval: 10 * time.Minute, leakObjects: leakScenario.leakObjects, slabExtra: leakScenario.slabExtra}
	tgt := &scriptedTarget{t: t, srv: srv, root: srv.Root(), clock: clock, start: clock.Now(), sc: sc}
	tgt.writeTree(0)
	opts := srv.ClientOptions()
	opts.IdentityFiles = []string{encrypted}
	opts.PassphraseEnv = env
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := remote.Dial(ctx, srv.Spec(), opts)
	if err != nil {
		t.Fatalf("dial with the encrypted identity: %v", err)
	}
	defer conn.Close()
	tgt.Target = conn
	out := t.TempDir()

	run, err := Soak(context.Background(), Config{Target: tgt, Duration: 4 * time.Hour, Interval: sc.interval, OutDir: out, Clock: clock,
		SecretEnv: []string{env}})
	if err != nil {
		t.Fatal(err)
	}

	if run.Meta.Status != verdict.Fail {
		t.Fatalf("status %q (%s); want the scripted leak's fail, so the run wrote its whole diagnosis", run.Meta.Status, run.Meta.Error)
	}
	files := 0
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != out && info.Mode().Perm()&0o077 != 0 {
				t.Errorf("folder %s has mode %v; run folders must be 0700", p, info.Mode().Perm())
			}
			return nil
		}
		files++
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; artifacts must be 0600", p, info.Mode().Perm())
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(passphrase)) {
			t.Errorf("%s contains the passphrase", p)
		}
		return nil
	})
	if err != nil || files < 5 {
		t.Fatalf("walked %d files: %v", files, err)
	}
}
