package remotetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leakgate/leakgate/remote"
)

func TestStartDaemon_ServesItsRootAndSurvivesDropsAndRestarts(t *testing.T) {
	for _, kind := range []string{OpenSSH, Dropbear} {
		t.Run(kind, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "proc", "1"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "proc", "1", "status"), []byte("Name:\tinit\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			d := StartDaemon(t, kind, root)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			tgt, err := remote.Dial(ctx, d.Spec(), d.ClientOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer tgt.Close()
			check := func(when string) {
				t.Helper()
				snap, err := tgt.ReadFiles(ctx, []string{"/proc/[0-9]*/status"}, remote.ReadOptions{})
				if err != nil || string(snap.Files["/proc/1/status"]) != "Name:\tinit\n" {
					t.Fatalf("%s: snapshot %v, %v; want the served /proc/1/status", when, snap, err)
				}
				res, err := tgt.Run(ctx, []string{"sh", "-c", `cat "$1"`, "sh", "/proc/1/status"}, remote.RunOptions{PathArgs: []int{4}})
				if err != nil || string(res.Stdout) != "Name:\tinit\n" {
					t.Fatalf("%s: a command given /proc/1/status as a path argument read %q (%v), want the served file", when, res.Stdout, err)
				}
			}

			// The first call after a fault may find the dead link (a
			// retryable error) or a fresh one; the next one must work.
			afterFault := func(what string) {
				t.Helper()
				if _, err := tgt.Run(ctx, []string{"true"}, remote.RunOptions{}); err != nil && !remote.IsRetryable(err) {
					t.Errorf("a command after %s returned %v, want success or a retryable link error", what, err)
				}
				check("after " + what)
			}

			check("first connection")
			if n := d.KillSessions(); n == 0 {
				t.Fatalf("KillSessions killed nothing: the connection had no per-connection %s process", kind)
			}
			afterFault("the sessions were killed")
			d.Restart()
			afterFault("a restart on the same port and host key")
		})
	}
}
