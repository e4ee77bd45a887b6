package harness

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/remote"
	"github.com/leakgate/leakgate/remote/remotetest"
)

func TestSoak_PasswordNeverReachesTheRunFolderOrWorkloads(t *testing.T) {
	t.Parallel()
	const secret = "pw-Zq81-never-in-artifacts"
	srv := remotetest.New(t, remotetest.Options{Password: secret})
	clock := newFakeClock()
	sc := scenario{interval: 10 * time.Minute}
	tgt := &scriptedTarget{t: t, srv: srv, root: srv.Root(), clock: clock, start: clock.Now(), sc: sc}
	tgt.writeTree(0)
	opts := srv.ClientOptions()
	opts.IdentityFiles = nil
	opts.PasswordEnv = "LEAKGATE_TEST_SOAK_PASSWORD"
	os.Setenv(opts.PasswordEnv, secret) // read by Dial and by host workloads' env; unset below
	t.Cleanup(func() { os.Unsetenv(opts.PasswordEnv) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := remote.Dial(ctx, srv.Spec(), opts)
	if err != nil {
		t.Fatalf("dial with a password: %v", err)
	}
	defer conn.Close()
	tgt.Target = conn
	out := t.TempDir()
	profile := &Profile{Name: "p", Workloads: []Workload{{Name: "envdump", Side: SideHost, OnExit: OnExitIgnore, Command: []string{"env"}}}}

	run, err := Soak(context.Background(), Config{Target: tgt, Duration: 2 * time.Hour, Interval: sc.interval, OutDir: out, Clock: clock,
		Profile: profile, SecretEnv: []string{opts.PasswordEnv}, Policy: shortRunPolicy(12)})
	if err != nil {
		t.Fatal(err)
	}

	if run.Meta.Status == verdict.Error {
		t.Fatalf("the soak did not run: %s", run.Meta.Error)
	}
	files := 0
	err = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s contains the password", p)
		}
		if info, _ := d.Info(); info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; artifacts must be private", p, info.Mode().Perm())
		}
		return nil
	})
	if err != nil || files < 5 {
		t.Fatalf("walked %d files: %v", files, err)
	}
	envLog, _ := os.ReadFile(filepath.Join(run.Dir, WorkloadsDir, "envdump.log"))
	if !bytes.Contains(envLog, []byte("LEAKGATE_TARGET=")) {
		t.Errorf("the host workload's env lacks LEAKGATE_TARGET; the check above proved nothing:\n%s", envLog)
	}
}
