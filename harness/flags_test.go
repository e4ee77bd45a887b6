package harness

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
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

func TestFlags_EveryTimingAndValueProblemIsOneLineOfOneConfigError(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "fast.yaml")
	if err := os.WriteFile(prof, []byte("name: fast\ninterval: 2s\nduration: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string // every line of the error, in order
	}{
		{"an interval of 1ns is refused with the scan protocol's reason",
			[]string{"--interval", "1ns"},
			[]string{"--interval 1ns: want at least 10s, because each full sample runs two kmemleak scans 6s apart (kmemleak reports an object only once it is 5s old at the start of a scan) and then reads the snapshot"}},
		{"an interval just below the minimum is refused",
			[]string{"--interval", "9.999s", "--duration", "1m"},
			[]string{"--interval 9.999s: want at least 10s, because each full sample runs two kmemleak scans 6s apart (kmemleak reports an object only once it is 5s old at the start of a scan) and then reads the snapshot"}},
		{"a profile's interval below the minimum is named as the profile's",
			[]string{"--profile", prof},
			[]string{"--interval (the profile's interval:) 2s: want at least 10s, because each full sample runs two kmemleak scans 6s apart (kmemleak reports an object only once it is 5s old at the start of a scan) and then reads the snapshot"}},
		{"every timing problem is reported at once",
			[]string{"--duration", "0s", "--interval", "0s", "--fast-interval", "10ms", "--warmup", "-1s", "--read-timeout", "0s"},
			[]string{
				"--duration 0s: want a positive duration of at least --interval (e.g. 12h)",
				"--interval 0s: want at least 10s, because each full sample runs two kmemleak scans 6s apart (kmemleak reports an object only once it is 5s old at the start of a scan) and then reads the snapshot",
				"--fast-interval 10ms: want 0 (off) or at least 1s",
				"--warmup -1s: want at least 0 and shorter than --duration 0s",
				"--read-timeout 0s: want at least 1s",
			}},
		{"an interval longer than the duration and a warm-up as long as it",
			[]string{"--duration", "1h", "--interval", "2h", "--warmup", "1h"},
			[]string{
				"--interval 2h0m0s: want at most --duration 1h0m0s; shorten it",
				"--warmup 1h0m0s: want at least 0 and shorter than --duration 1h0m0s",
			}},
		{"a results store of another kind, an empty release baseline and no out folder",
			[]string{"--db", "mysql://db/x", "--baseline", "release:", "--out", ""},
			[]string{
				"--out must name a folder",
				`--db: scheme "mysql" is not a results store; want a SQLite file, postgres://USER@HOST:PORT/DB or off`,
				`--baseline "release:": want auto, none, a run id or release:LABEL`,
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f Flags
			fs := newFlagSet()
			f.Register(fs)
			if err := fs.Parse(append([]string{"--target", "local"}, tc.args...)); err != nil {
				t.Fatal(err)
			}

			err := f.Validate()

			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("Validate = %v (%T), want a *ConfigError", err, err)
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestFlags_TheTimeCompressedRigTimingsAreValid(t *testing.T) {
	// The reference rig's profile (10 s interval), the e2e soaks' --fast-interval 2s
	// and the suite tests' --duration 40s --interval 10s must stay valid.
	for _, args := range [][]string{
		{"--profile", "../testdata/profiles/qemu-rig.yaml"},
		{"--profile", "../testdata/profiles/qemu-rig.yaml", "--fast-interval", "2s"},
		{"--profile", "../testdata/profiles/openwrt-ap.yaml"},
		{"--duration", "40s", "--interval", "10s"},
		{"--duration", "3m", "--interval", "20s"},
		{"--db", "postgres://leakgate@db:5432/runs"},
		{"--db", "off", "--baseline", "none"},
	} {
		var f Flags
		fs := newFlagSet()
		f.Register(fs)
		if err := fs.Parse(append([]string{"--target", "local"}, args...)); err != nil {
			t.Fatal(err)
		}
		if err := f.Validate(); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}

func TestFlags_TargetAndTargetsTogetherIsOneMoreProblemOfTheConfigError(t *testing.T) {
	var f Flags
	fs := newFlagSet()
	f.Register(fs)
	if err := fs.Parse([]string{"--target", "a", "--targets", "b,c", "--interval", "1s"}); err != nil {
		t.Fatal(err)
	}

	err := f.ForTarget("b").Validate()

	var ce *ConfigError
	want := "--target and --targets: give one of them, not both\n" +
		"--interval 1s: want at least 10s, because each full sample runs two kmemleak scans 6s apart (kmemleak reports an object only once it is 5s old at the start of a scan) and then reads the snapshot"
	if !errors.As(err, &ce) || err.Error() != want {
		t.Errorf("Validate = %v, want a ConfigError:\n%s", err, want)
	}
}

func TestLoadProfile_RefusesAnEndlessOrOversizedFileWithoutReadingItAll(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("name: p\n"+strings.Repeat("#", 2<<20)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{big, "read profile " + big + ": larger than the 1 MiB (1048576 bytes) a profile file may hold; check the path, real ones are a few KiB"},
		{fifo, "read profile " + fifo + ": " + fifo + " is a p---------, not a regular file"},
		{"/dev/zero", "read profile /dev/zero: /dev/zero is a Dc---------, not a regular file"},
	} {
		_, err := LoadProfile(tc.path)
		if err == nil || err.Error() != tc.want {
			t.Errorf("LoadProfile(%s) = %v, want %s", tc.path, err, tc.want)
		}
	}
}

func TestLoadPolicyFile_RefusesAFileOverTheCapNamingItAndTheCap(t *testing.T) {
	dir := t.TempDir()
	// Valid YAML one byte over the 1 MiB cap: a comment pads it.
	big := filepath.Join(dir, "big.yaml")
	head := "early_false_alarm: 0.01\n#"
	if err := os.WriteFile(big, []byte(head+strings.Repeat("x", 1<<20-len(head))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A mistaken 8 GiB file (sparse: it costs no disk) must not be slurped.
	huge := filepath.Join(dir, "disk.img")
	if f, err := os.Create(huge); err != nil {
		t.Fatal(err)
	} else if err := f.Truncate(8 << 30); err != nil {
		t.Fatal(err)
	} else if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	atCap := filepath.Join(dir, "at-cap.yaml")
	if err := os.WriteFile(atCap, []byte(head+strings.Repeat("x", 1<<20-len(head)-1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const over = ": larger than the 1 MiB (1048576 bytes) a policy file may hold; check the path, real ones are a few KiB"
	for _, tc := range []struct{ path, want string }{
		{big, "read policy " + big + over},
		{huge, "read policy " + huge + over},
		{fifo, "read policy " + fifo + ": " + fifo + " is a p---------, not a regular file"},
		{"/dev/zero", "read policy /dev/zero: /dev/zero is a Dc---------, not a regular file"},
	} {
		_, err := LoadPolicyFile(tc.path, DefaultPolicy())
		if err == nil || err.Error() != tc.want {
			t.Errorf("LoadPolicyFile(%s) = %v, want\n%s", tc.path, err, tc.want)
		}
	}
	// A file of exactly the cap is read.
	pol, err := LoadPolicyFile(atCap, DefaultPolicy())
	if err != nil || pol.EarlyFalseAlarm != 0.01 {
		t.Errorf("LoadPolicyFile(a file of exactly 1 MiB) = early_false_alarm %v, %v; want 0.01 and no error", pol.EarlyFalseAlarm, err)
	}
}
