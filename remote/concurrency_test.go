package remote_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/remote/remotetest"
)

// concurrentCallers is more than OpenSSH's MaxSessions (10): the SSH
// transport must queue calls, not lose its link to a refused session.
const concurrentCallers = 12

// TestTarget_ConcurrentRunAndReadFilesEachGetTheirOwnAnswer runs Run and
// ReadFiles from many goroutines at once, as workloads and the sampler do,
// on every transport and server: each call must see exactly its own
// output. Run it with -race.
//
// dropbear 2022.83 (Debian's, and OpenWrt's) sometimes aborts the whole
// connection when channels open and close at once ("Failed assertion
// (common-channel.c:705): !channel->sent_close", mkj/dropbear#321). The
// transport cannot prevent that; what it owes is the contract the harness
// relies on: the failure is a retryable *LinkError and the retry, on a new
// link, gets the right answer. Only there is a retry allowed.
func TestTarget_ConcurrentRunAndReadFilesEachGetTheirOwnAnswer(t *testing.T) {
	targets := []struct {
		name string
		dial func(t *testing.T, root string) remote.Target
		// linkDropsAllowed is how many retryable link errors one call may see.
		linkDropsAllowed int
	}{
		{"in-process server", func(t *testing.T, root string) remote.Target {
			return mustDial(t, remotetest.New(t, remotetest.Options{Root: root}))
		}, 0},
		{"sshd", func(t *testing.T, root string) remote.Target {
			return dialDaemon(t, remotetest.StartDaemon(t, remotetest.OpenSSH, root))
		}, 0},
		{"dropbear", func(t *testing.T, root string) remote.Target {
			return dialDaemon(t, remotetest.StartDaemon(t, remotetest.Dropbear, root))
		}, 3},
		{"local", func(t *testing.T, root string) remote.Target { return remote.NewLocal(root) }, 0},
	}
	for _, tc := range targets {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			files := map[string]string{}
			for i := range concurrentCallers {
				files[fmt.Sprintf("/data/%d", i)] = fmt.Sprintf("contents of file %d\n", i)
			}
			writeTree(t, root, files)
			tgt := tc.dial(t, root)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()

			var drops atomic.Int64
			// call runs check, retrying a retryable link error as the harness does.
			call := func(check func() error) error {
				for try := 0; ; try++ {
					err := check()
					if err == nil || !remote.IsRetryable(err) || try >= tc.linkDropsAllowed {
						return err
					}
					drops.Add(1)
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, concurrentCallers*8)
			for i := range concurrentCallers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					path := fmt.Sprintf("/data/%d", i)
					for j := range 4 {
						tag := fmt.Sprintf("call %d.%d", i, j)
						if err := call(func() error { return checkRun(ctx, tgt, path, files[path], tag) }); err != nil {
							errs <- err
						}
						if err := call(func() error { return checkRead(ctx, tgt, path, files[path]) }); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if n := drops.Load(); n > 0 {
				t.Logf("%d calls met a dropped link and were retried", n)
			}
		})
	}
}

// checkRun cats path (a marked path argument) and echoes tag; the output
// must be exactly the file and the tag, with nothing on stderr.
func checkRun(ctx context.Context, tgt remote.Target, path, contents, tag string) error {
	res, err := tgt.Run(ctx, []string{"sh", "-c", `cat "$1"; echo "$2"`, "sh", path, tag}, remote.RunOptions{PathArgs: []int{4}})
	if remote.IsRetryable(err) {
		return err
	}
	want := contents + tag + "\n"
	if err != nil || res.ExitStatus != 0 || string(res.Stdout) != want || len(res.Stderr) != 0 {
		return fmt.Errorf("%s: stdout %q stderr %q exit %d, %v; want stdout %q and nothing else", tag, res.Stdout, res.Stderr, res.ExitStatus, err, want)
	}
	return nil
}

// checkRead reads path and a missing sibling in one round trip.
func checkRead(ctx context.Context, tgt remote.Target, path, contents string) error {
	missing := filepath.Join(path, "missing")
	snap, err := tgt.ReadFiles(ctx, []string{path, missing}, remote.ReadOptions{})
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if string(snap.Files[path]) != contents || len(snap.Files) != 1 || snap.Errors[missing] == "" || snap.ReaderPID <= 0 {
		return fmt.Errorf("read %s: files %q errors %v reader %d; want only %q, an error for %s and the reader's pid",
			path, snap.Files, snap.Errors, snap.ReaderPID, contents, missing)
	}
	return nil
}

// dialDaemon connects to a real daemon with its ClientOptions, closing the
// target when the test ends.
func dialDaemon(t *testing.T, d *remotetest.Daemon) remote.Target {
	t.Helper()
	tgt, err := dialReal(t, d.Spec(), d.ClientOptions())
	if err != nil {
		t.Fatalf("dial %s: %v", d.Kind(), err)
	}
	return tgt
}
