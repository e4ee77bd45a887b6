package harness

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFlags_ProfileFillsWhatTheFlagsLeaveUnset(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(prof, []byte("name: p\ninterval: 20s\nduration: 6m\nwarmup: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var f Flags
	fs := newFlagSet()
	f.Register(fs)
	if err := fs.Parse([]string{"--target", "local", "--profile", prof, "--interval", "30s", "--workload", "cat /dev/zero > /dev/null"}); err != nil {
		t.Fatal(err)
	}

	if err := f.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}

	if f.Duration.String() != "6m0s" || f.Interval.String() != "30s" || f.Warmup.String() != "1m0s" {
		t.Errorf("duration %s interval %s: want the profile's 6m and the flag's 30s", f.Duration, f.Interval)
	}
	cfg := f.Config(nil)
	if len(cfg.ExtraWorkloads) != 1 || cfg.ExtraWorkloads[0].Side != SideTarget {
		t.Errorf("--workload became %+v, want one target-side workload", cfg.ExtraWorkloads)
	}
	if f.SpecTimeout() <= f.Duration {
		t.Errorf("spec timeout %s must exceed the duration %s", f.SpecTimeout(), f.Duration)
	}
}

func TestFlags_ValidateReportsEveryProblemOnce(t *testing.T) {
	var f Flags
	fs := newFlagSet()
	f.Register(fs)
	if err := fs.Parse([]string{"--interval", "2h", "--duration", "1h", "--profile", "/nonexistent.yaml"}); err != nil {
		t.Fatal(err)
	}
	err := f.Validate()
	if err == nil {
		t.Fatal("Validate passed bad flags")
	}
	for _, want := range []string{"--target is required", "--profile", "--interval"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if f.Validate() != err {
		t.Errorf("a second Validate must return the first answer")
	}
}

func TestTargetHost_ExtractsTheHostFromEverySpelling(t *testing.T) {
	for spec, want := range map[string]string{
		"ssh://root@10.0.0.7:2222": "10.0.0.7",
		"root@ap-rig-07":           "ap-rig-07",
		"ap-rig-07:22":             "ap-rig-07",
		"ap-rig-07":                "ap-rig-07",
		"[fe80::1]:22":             "fe80::1",
		"ssh://[fe80::1]:22":       "fe80::1",
	} {
		if got := TargetHost(spec); got != want {
			t.Errorf("TargetHost(%q) = %q, want %q", spec, got, want)
		}
	}
}

func newFlagSet() *flag.FlagSet { return flag.NewFlagSet("test", flag.ContinueOnError) }
