package harness

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestLoadRun_TornOrMissingRawFallsBackToItsSamplesLine(t *testing.T) {
	t.Parallel()
	run, _ := soakFor(t, leakScenario, func(c *Config) { c.Duration = 2 * time.Hour })
	if len(run.Samples) != 13 {
		t.Fatalf("%d samples, want 13 (status %s: %s)", len(run.Samples), run.Meta.Status, run.Meta.Error)
	}
	raw := func(i int) string { return filepath.Join(run.Dir, RawDir, fmt.Sprintf("%04d.tar.gz", i)) }
	data, err := os.ReadFile(raw(3))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(raw(3), data[:len(data)/2], 0o600); err != nil { // torn by a crash
		t.Fatal(err)
	}
	if err := os.Remove(raw(7)); err != nil {
		t.Fatal(err)
	}

	loaded, err := LoadRun(run.Dir)
	if err != nil {
		t.Fatal(err)
	}

	if !reflect.DeepEqual(loaded.Samples, run.Samples) {
		t.Errorf("loaded samples %+v\nwant the soak's %+v", loaded.Samples, run.Samples)
	}
	got, want := loaded.seriesBuilder().Series(), run.seriesBuilder().Series()
	if len(got) != len(want) {
		t.Fatalf("%d series after LoadRun, want %d", len(got), len(want))
	}
	for k := range want {
		if got[k].Subject != want[k].Subject || !reflect.DeepEqual(got[k].Values, want[k].Values) {
			t.Errorf("series %s: values %v, want %v", want[k].Subject, got[k].Values, want[k].Values)
		}
	}
	loaded.Rejudge(nil)
	if status, _ := loaded.Outcome(); status != run.Meta.Status || loaded.Judgement.Summary() != run.Judgement.Summary() {
		t.Errorf("re-judged %s %q, the soak said %s %q", status, loaded.Judgement.Summary(), run.Meta.Status, run.Judgement.Summary())
	}
}
