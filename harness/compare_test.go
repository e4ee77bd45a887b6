package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/compare"
	"github.com/leakgate/leakgate/checks/verdict"
	"github.com/leakgate/leakgate/results"
)

// TestSoak_ASmallLeakBelowTheFloorFailsAgainstTheLastRelease soaks a clean
// build (release r41), then a build whose wlansim_rxbuf grows 12 objects of
// 576 B every 10 min (40.5 KiB/h, 445 KiB over the judged 11 h: below the
// single-run floors of 1 MiB and, at its lower bound, 16 KiB/h), into one
// store: alone it passes, against r41 it regressed.
func TestSoak_ASmallLeakBelowTheFloorFailsAgainstTheLastRelease(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "out")
	dsn := filepath.Join(t.TempDir(), "results.db")
	store := func(release string) func(*Config) {
		return func(c *Config) {
			c.OutDir = out
			c.TargetName = "ap-rig-7" // one rig: the in-process servers' ports differ
			pol := compare.DefaultPolicy()
			c.Store = results.SoakOptions{DSN: dsn, Release: release, Baseline: "auto", Policy: pol}
		}
	}
	a, _ := soakFor(t, scenario{}, store("r41"))
	if a.Meta.Status != verdict.Pass || a.Meta.Comparison == nil || !strings.Contains(a.Meta.Comparison.Message, "no baseline yet") {
		t.Fatalf("release r41: %s (%s), comparison %+v; want a pass with no baseline yet", a.Meta.Status, a.Meta.Error, a.Meta.Comparison)
	}

	leak := scenario{startAfter: 24 * time.Hour, slabExtra: func(n int) map[string]int64 { return map[string]int64{"wlansim_rxbuf": int64(12 * n)} }}
	alone, _ := soakFor(t, leak, func(c *Config) {})
	if alone.Meta.Status != verdict.Pass {
		t.Fatalf("the small leak alone: %s (%s), want a pass (below the floors)", alone.Meta.Status, alone.Meta.Error)
	}
	b, _ := soakFor(t, leak, store("r42"))

	if b.Meta.Status != verdict.Fail || b.Meta.Comparison == nil || !b.Meta.Comparison.Regressed {
		t.Fatalf("release r42: %s (%s), comparison %+v; want a fail: regressed against r41", b.Meta.Status, b.Meta.Error, b.Meta.Comparison)
	}
	msg := b.Message()
	if !strings.Contains(msg, "wlansim_rxbuf") || !strings.Contains(msg, "release r41") {
		t.Errorf("the message does not name the regressed cache against release r41:\n%s", msg)
	}
	if _, err := os.Stat(filepath.Join(b.Dir, ComparisonFile)); err != nil {
		t.Errorf("no %s: %v", ComparisonFile, err)
	}
	st, err := results.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(t.Context(), results.Filter{})
	if err != nil || len(runs) != 2 {
		t.Fatalf("store runs %d (%v), want both releases", len(runs), err)
	}
	for _, r := range runs {
		if r.Release == "r42" && r.Verdict != string(verdict.Fail) {
			t.Errorf("store row of r42 says %q, want fail (re-recorded after the comparison)", r.Verdict)
		}
	}
}

func TestSoak_AStoreThatCannotBeOpenedLeavesTheVerdictAlone(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "not-a-db")
	if err := os.WriteFile(bad, []byte("this is not a SQLite file, it is a text file of some length"), 0o600); err != nil {
		t.Fatal(err)
	}
	run, _ := soakFor(t, scenario{}, func(c *Config) {
		c.Store = results.SoakOptions{DSN: bad, Baseline: "auto", Policy: compare.DefaultPolicy()}
	})
	if run.Meta.Status != verdict.Pass {
		t.Fatalf("status %s (%s): a broken store must not change the verdict", run.Meta.Status, run.Meta.Error)
	}
	if run.Meta.Comparison == nil || !strings.Contains(run.Meta.Comparison.Message, "not-a-db") {
		t.Errorf("comparison note %+v, want the store's error naming the file", run.Meta.Comparison)
	}
	if b, _ := os.ReadFile(bad); !strings.HasPrefix(string(b), "this is not a SQLite file") {
		t.Errorf("the broken store file was touched")
	}
}
