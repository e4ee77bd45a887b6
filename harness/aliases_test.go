package harness

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/remote"
)

func TestSlabLinksScript_ListsThisMachinesSysfsExactly(t *testing.T) {
	res, err := remote.NewLocal("").Run(context.Background(), []string{"sh", "-c", slabLinksScript, "sh", slabFolder}, remoteRunSmall)
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("script: %v, exit %d: %s", err, res.ExitStatus, res.Stderr)
	}

	entries, err := checks.ParseSlabLinks(res.Stdout)

	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.ReadDir("/sys/kernel/slab")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(dir) {
		t.Fatalf("%d entries listed, /sys/kernel/slab has %d", len(entries), len(dir))
	}
	for _, e := range entries {
		want, _ := os.Readlink(filepath.Join("/sys/kernel/slab", e.Name))
		if e.Target != want {
			t.Errorf("%s -> %q, want %q", e.Name, e.Target, want)
		}
		if want != "" {
			continue
		}
		account, err := os.ReadFile(filepath.Join("/sys/kernel/slab", e.Name, "reclaim_account"))
		if err != nil {
			t.Fatal(err)
		}
		if got := e.ReclaimAccount; got != (strings.TrimSpace(string(account)) == "1") {
			t.Errorf("%s reclaim_account %v, sysfs says %q", e.Name, got, account)
		}
	}
	if accounted := checks.ReclaimAccounted(entries); !slices.Contains(accounted, "dentry") {
		t.Errorf("reclaim-accounted caches %v lack dentry (SLAB_RECLAIM_ACCOUNT in fs/dcache.c)", accounted)
	}
}

func TestSoak_ALeakingMergedCacheNamesTheCachesMergedWithIt(t *testing.T) {
	t.Parallel()
	sc := scenario{slabExtra: func(n int) map[string]int64 { return map[string]int64{"kmalloc-512": int64(64 * n)} }}
	clock := newFakeClock()
	sc.interval = 10 * time.Minute
	tgt := newScriptedTarget(t, clock, sc)
	// kmalloc-512 shares its directory with a driver's cache, as SLUB merges them.
	slabDir := filepath.Join(tgt.root, "sys", "kernel", "slab")
	if err := os.MkdirAll(filepath.Join(slabDir, ":0000512"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kmalloc-512", "wlansim_desc", "sgpool-16"} {
		if err := os.Symlink(":0000512", filepath.Join(slabDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Target: tgt, Duration: 12 * time.Hour, Interval: sc.interval, OutDir: t.TempDir(), Clock: clock}

	run, err := Soak(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}

	if run.Meta.Status != verdict.Fail {
		t.Fatalf("status %q (%s), want fail", run.Meta.Status, run.Meta.Error)
	}
	var f *checks.Finding
	for i, g := range run.Judgement.Findings {
		if g.Subject == "kmalloc-512" && g.Verdict == verdict.Leak {
			f = &run.Judgement.Findings[i]
		}
	}
	if f == nil {
		t.Fatalf("no leak in kmalloc-512; findings %+v", run.Judgement.Findings)
	}
	if want := []string{"sgpool-16", "wlansim_desc"}; !reflect.DeepEqual(f.MergedWith, want) {
		t.Errorf("merged with %q, want %q", f.MergedWith, want)
	}
	if msg := run.Message(); !strings.Contains(msg, "slab cache kmalloc-512 (merged with sgpool-16, wlansim_desc)") {
		t.Errorf("the message does not name the merged caches:\n%s", msg)
	}
	loaded, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded.Meta.SlabAliases, run.Meta.SlabAliases) || len(loaded.Meta.SlabAliases) == 0 {
		t.Errorf("run.json keeps aliases %v, the run had %v", loaded.Meta.SlabAliases, run.Meta.SlabAliases)
	}
}
