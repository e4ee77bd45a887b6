package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/remote/remotetest"
)

// targetFlags are the flags that reach srv.
func targetFlags(srv *remotetest.Server) []string {
	return []string{"--target", srv.Spec(), "--identity", srv.ClientKeyFile(), "--known-hosts", srv.KnownHostsFile(),
		"--ssh-config", "none", "--connect-timeout", "5s"}
}

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRun_PassesTheExitStatusAndOutputsThrough(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	args := append([]string{"run"}, targetFlags(srv)...)
	args = append(args, "--", "sh", "-c", `echo "out $1"; echo err >&2; exit 7`, "sh", "a'b $(x)")

	code, out, errOut := runCLI(args...)

	if code != 7 || out != "out a'b $(x)\n" || errOut != "err\n" {
		t.Errorf("code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestRun_LocalTargetRunsHere(t *testing.T) {
	code, out, _ := runCLI("run", "--target", "local", "--", "sh", "-c", "echo here; exit 3")
	if code != 3 || out != "here\n" {
		t.Errorf("code %d, stdout %q", code, out)
	}
}

func TestRun_UnknownHostExits255WithTheKeyscanCommand(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	kh := filepath.Join(t.TempDir(), "known_hosts")
	args := append([]string{"run"}, targetFlags(srv)...)
	args = append(args, "--known-hosts", kh, "--", "true")

	code, _, errOut := runCLI(args...)

	if code != exitRemote || !strings.Contains(errOut, "host key check failed") || !strings.Contains(errOut, "ssh-keyscan -p") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
}

func TestRun_RejectedKeyExits255AsAnAuthFailure(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	srv.SetFault(remotetest.Fault{RefuseAuth: true})
	args := append([]string{"run"}, targetFlags(srv)...)

	code, _, errOut := runCLI(append(args, "--", "true")...)

	if code != exitRemote || !strings.Contains(errOut, "authentication failed") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
}

func TestRun_UnreachableTargetExits255AsAConnectionFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	code, _, errOut := runCLI("run", "--target", "ssh://root@"+addr, "--ssh-config", "none", "--known-hosts", filepath.Join(t.TempDir(), "kh"), "--", "true")

	if code != exitRemote || !strings.Contains(errOut, "connection failed") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
}

func TestRun_PasswordComesFromTheNamedEnvironmentVariable(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{Password: "hunter2-secret"})
	t.Setenv("LEAKGATE_CLI_TEST_PW", "hunter2-secret")

	code, out, errOut := runCLI("run", "--target", srv.Spec(), "--known-hosts", srv.KnownHostsFile(), "--ssh-config", "none",
		"--password-env", "LEAKGATE_CLI_TEST_PW", "--", "echo", "in")

	if code != 0 || out != "in\n" {
		t.Errorf("code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestRun_UsageErrorsExit2(t *testing.T) {
	cases := map[string][]string{
		"no command":                  {"run", "--target", "local"},
		"no target":                   {"run", "--", "true"},
		"a bad host key policy":       {"run", "--target", "local", "--host-key-policy", "sometimes", "--", "true"},
		"a secret in place of a name": {"run", "--target", "local", "--password-env", "p@ss word", "--", "true"},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, errOut := runCLI(args...)
			if code != exitUsage {
				t.Errorf("code %d, stderr %q", code, errOut)
			}
			if strings.Contains(errOut, "p@ss word") {
				t.Error("the secret was echoed")
			}
		})
	}
}

func TestRead_PrintsEveryFileWithAHeaderAndErrorsToStderr(t *testing.T) {
	srv := remotetest.New(t, remotetest.Options{})
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b'$(x)")
	if err := os.WriteFile(a, []byte("alpha\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("beta"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"read"}, targetFlags(srv)...)
	args = append(args, filepath.Join(dir, "*"), filepath.Join(dir, "missing"))

	code, out, errOut := runCLI(args...)

	want := "==> " + a + " <==\nalpha\n==> " + b + " <==\nbeta\n"
	if out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if code != exitFindings || !strings.Contains(errOut, filepath.Join(dir, "missing")+": ") {
		t.Errorf("code %d, stderr %q", code, errOut)
	}
	if n := len(srv.Commands()); n != 1 {
		t.Errorf("read ran %d remote commands, want 1", n)
	}
}
