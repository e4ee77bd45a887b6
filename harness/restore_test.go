package harness

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/remote"
)

func TestSoak_TurnsKmemleaksAutoScanBackOnAtTheEnd(t *testing.T) {
	t.Parallel()
	run, tgt := soakFor(t, scenario{}, func(c *Config) { c.Duration = time.Hour })

	writes := tgt.kmemleakWrites()
	if len(writes) < 3 || writes[0] != "scan=off" || writes[len(writes)-1] != "scan=on" {
		t.Errorf("kmemleak writes %v, want scan=off first and scan=on last", writes)
	}
	b, err := os.ReadFile(filepath.Join(tgt.root, "sys", "kernel", "debug", "kmemleak"))
	if err != nil || string(b) != "scan=on\n" {
		t.Errorf("the target's kmemleak file holds %q (%v), want the scan=on write", b, err)
	}
	if !slices.ContainsFunc(run.Meta.PreflightNotes, func(n string) bool {
		return strings.HasPrefix(n, "after the soak: turned kmemleak's automatic scan back on")
	}) {
		t.Errorf("run.json preflight notes %q do not say the scan was turned back on", run.Meta.PreflightNotes)
	}
}

func TestSoak_AfterARebootRestoresNothing(t *testing.T) {
	t.Parallel()
	_, tgt := soakFor(t, scenario{rebootAt: 3}, func(c *Config) { c.Duration = time.Hour })

	if writes := tgt.kmemleakWrites(); slices.Contains(writes, "scan=on") {
		t.Errorf("kmemleak writes %v: a rebooted target got scan=on, but a new boot has its own defaults", writes)
	}
}

func TestRestoreTarget_UndoesTheDebugfsMountThePreflightMade(t *testing.T) {
	root := t.TempDir()
	mnt := filepath.Join(root, "sys", "kernel", "debug")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	// A Linux target whose mount table lists no debugfs.
	for name, data := range map[string]string{
		"proc/mounts":                    "proc /proc proc rw 0 0\n",
		"proc/sys/kernel/osrelease":      "6.12.117\n",
		"proc/sys/kernel/random/boot_id": "6f1c2e5a-0b7d-4c1e-9d1a-3b2f5c7e8a90\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	tgt := remote.NewLocal(root)

	pf, err := Preflight(context.Background(), tgt)
	if err != nil {
		t.Fatal(err)
	}
	if !pf.MountedDebugfs || !mounted(t, mnt) {
		t.Fatalf("the preflight did not mount debugfs on %s (MountedDebugfs %v, notes %q)", mnt, pf.MountedDebugfs, pf.Notes)
	}

	notes := RestoreTarget(context.Background(), tgt, pf)

	if mounted(t, mnt) {
		t.Errorf("debugfs is still mounted on %s after RestoreTarget (notes %q)", mnt, notes)
	}
	if !slices.ContainsFunc(notes, func(n string) bool { return strings.HasPrefix(n, "unmounted debugfs") }) {
		t.Errorf("notes %q do not say debugfs was unmounted", notes)
	}
}

func TestRestoreTarget_LeavesAloneWhatThePreflightDidNotChange(t *testing.T) {
	srv := newScriptedTarget(t, newFakeClock(), scenario{interval: time.Minute})
	if notes := RestoreTarget(context.Background(), srv, PreflightResult{}); len(notes) != 0 {
		t.Errorf("notes %q, want none", notes)
	}
	if cmds := srv.srv.Commands(); len(cmds) != 0 {
		t.Errorf("ran %q on the target, want nothing", cmds)
	}
}

// mounted reports whether dir is a mount point in this mount namespace.
func mounted(t *testing.T, dir string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}
