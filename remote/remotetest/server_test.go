package remotetest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/remote"
	"golang.org/x/crypto/ssh"
)

func TestNew_ServesItsRootToTheReadScriptAndToMarkedPathArguments(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "proc", "1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "proc", "1", "status"), []byte("Name:\tinit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := New(t, Options{Root: dir})
	tgt, err := srv.Dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()

	snap, err := tgt.ReadFiles(context.Background(), []string{"/proc/[0-9]*/status"}, remote.ReadOptions{})

	if err != nil || string(snap.Files["/proc/1/status"]) != "Name:\tinit\n" {
		t.Fatalf("snapshot %v, %v", snap, err)
	}
	res, err := tgt.Run(context.Background(), []string{"sh", "-c", `cat "$1"; echo "$2"`, "sh", "/proc/1/status", "/proc/1/status"},
		remote.RunOptions{PathArgs: []int{4}})
	if want := "Name:\tinit\n/proc/1/status\n"; err != nil || string(res.Stdout) != want {
		t.Errorf("a command given the marked path $1 and the unmarked $2 printed %q (%v), want %q", res.Stdout, err, want)
	}
}

func TestKnownHostsFile_HoldsTheParsablePinnedKey(t *testing.T) {
	srv := New(t, Options{})
	b, err := os.ReadFile(srv.KnownHostsFile())
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(b))
	if len(fields) != 3 || fields[0] != "[127.0.0.1]:"+strconv.Itoa(srv.Port()) {
		t.Fatalf("known_hosts = %q", b)
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(fields[1] + " " + fields[2]))
	if err != nil || string(key.Marshal()) != string(srv.HostKey().Marshal()) {
		t.Errorf("known_hosts key does not match the host key: %v", err)
	}
}

func TestHostKey_PinnedAcrossServers(t *testing.T) {
	signer, _, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	a := New(t, Options{HostKey: signer})
	b := New(t, Options{HostKey: signer})
	if string(a.HostKey().Marshal()) != string(b.HostKey().Marshal()) {
		t.Error("two servers with the same pinned key present different keys")
	}
}

func TestSetFault_RefusesTheNextConnectionsOnly(t *testing.T) {
	srv := New(t, Options{})
	srv.SetFault(Fault{RefuseConnections: 1})
	opts := srv.ClientOptions()
	opts.ReconnectAttempts = 1

	_, err := remote.Dial(context.Background(), srv.Spec(), opts)
	if err == nil {
		t.Fatal("the refused connection succeeded")
	}
	tgt, err := remote.Dial(context.Background(), srv.Spec(), opts)
	if err != nil {
		t.Fatalf("the next connection: %v", err)
	}
	tgt.Close()
	if srv.Accepted() != 2 {
		t.Errorf("accepted %d, want 2", srv.Accepted())
	}
}
