package kconfig

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks/verdict"
)

// readyFacts is a 5.4 access point set up as the README asks.
func readyFacts(t *testing.T) Facts {
	t.Helper()
	c, err := Parse(readFixture(t, "config-5.4-arm64-kmemleak.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return Facts{Config: c, ConfigSource: "/proc/config.gz", KernelRelease: "5.4.194",
		Cmdline:        "console=ttyS0 kmemleak=on slab_debug=U,kmalloc-* slab_nomerge",
		DebugfsMounted: true, KmemleakFileExists: true, SlabinfoReadable: true,
		StoreUserCaches: 12, SlabCaches: 180}
}

func without(c Config, keys ...string) Config {
	out := Config{}
	for k, v := range c {
		out[k] = v
	}
	for _, k := range keys {
		out[k] = "n"
	}
	return out
}

func checkNamed(t *testing.T, r Report, name string) Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, r.Checks)
	return Check{}
}

func TestEvaluate_AFullySetUpTargetIsReadyWithEveryCheckPassing(t *testing.T) {
	r := Evaluate(readyFacts(t))
	if !r.Ready {
		t.Fatalf("not ready:\n%s", r.Text())
	}
	for _, c := range r.Checks {
		if c.Name == CheckAllocinfo || c.Name == CheckPageOwner {
			// 5.4 has neither page-level source: a warning saying so.
			if c.Status != verdict.CheckWarn || !strings.Contains(c.Seen, "kernel 5.4.194 predates") {
				t.Errorf("%s on 5.4 = %s (%s), want a warning that the kernel predates it", c.Name, c.Status, c.Seen)
			}
			continue
		}
		if c.Status != verdict.CheckOK || c.Remediation != "" {
			t.Errorf("%s = %s (%s)", c.Name, c.Status, c.Remediation)
		}
	}
	if len(r.Checks) != 14 {
		t.Errorf("%d checks, want 14", len(r.Checks))
	}
}

func TestEvaluate_EachPath(t *testing.T) {
	tests := []struct {
		name      string
		mutate    func(f *Facts)
		check     string
		want      verdict.Check
		wantFix   string
		wantReady bool
	}{
		{"missing SLUB_DEBUG fails with its config line", func(f *Facts) { f.Config = without(f.Config, "CONFIG_SLUB_DEBUG") }, CheckSlubDebug, verdict.CheckFail, "CONFIG_SLUB_DEBUG=y", false},
		{"without config a readable slabinfo proves SLUB_DEBUG", func(f *Facts) { f.Config = nil }, CheckSlubDebug, verdict.CheckOK, "", true},
		{"without config and slabinfo SLUB_DEBUG fails", func(f *Facts) { f.Config, f.SlabinfoReadable = nil, false }, CheckSlubDebug, verdict.CheckFail, "CONFIG_SLUB_DEBUG=y", false},
		{"unreadable slabinfo fails and asks for root", func(f *Facts) { f.SlabinfoReadable = false }, CheckSlabinfo, verdict.CheckFail, "root", false},
		{"missing DEBUG_KMEMLEAK fails with its config line", func(f *Facts) { f.Config = without(f.Config, "CONFIG_DEBUG_KMEMLEAK") }, CheckKmemleak, verdict.CheckFail, "CONFIG_DEBUG_KMEMLEAK=y", false},
		{"without config an existing kmemleak file proves DEBUG_KMEMLEAK", func(f *Facts) { f.Config = nil }, CheckKmemleak, verdict.CheckOK, "", true},
		{"without config a mounted debugfs lacking kmemleak fails", func(f *Facts) { f.Config, f.KmemleakFileExists = nil, false }, CheckKmemleak, verdict.CheckFail, "CONFIG_DEBUG_KMEMLEAK=y", false},
		{"without config and debugfs kmemleak cannot be told", func(f *Facts) { f.Config, f.KmemleakFileExists, f.DebugfsMounted = nil, false, false }, CheckKmemleak, verdict.CheckWarn, "mount -t debugfs", false},
		{"missing DEBUG_FS fails with its config line", func(f *Facts) { f.Config = without(f.Config, "CONFIG_DEBUG_FS") }, CheckDebugFS, verdict.CheckFail, "CONFIG_DEBUG_FS=y", false},
		{"DEBUG_FS_ALLOW_NONE fails", func(f *Facts) { f.Config = Config{"CONFIG_DEBUG_FS": "y", "CONFIG_DEBUG_FS_ALLOW_NONE": "y"} }, CheckDebugFS, verdict.CheckFail, "debugfs=on", false},
		{"without config a mounted debugfs proves DEBUG_FS", func(f *Facts) { f.Config = nil }, CheckDebugFS, verdict.CheckOK, "", true},
		{"DEFAULT_OFF without kmemleak=on fails", func(f *Facts) { f.Cmdline = "console=ttyS0 slab_nomerge" }, CheckKmemleakBoot, verdict.CheckFail, "kmemleak=on", false},
		{"kmemleak=off fails", func(f *Facts) { f.Cmdline = "kmemleak=on kmemleak=off" }, CheckKmemleakBoot, verdict.CheckFail, "remove kmemleak=off", false},
		{"no DEFAULT_OFF needs no parameter", func(f *Facts) { f.Config = without(f.Config, "CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF"); f.Cmdline = "" }, CheckKmemleakBoot, verdict.CheckOK, "", true},
		{"parameters after -- go to init, not the kernel", func(f *Facts) { f.Cmdline = "console=ttyS0 -- kmemleak=on" }, CheckKmemleakBoot, verdict.CheckFail, "kmemleak=on", false},
		{"unmounted debugfs fails and says the harness may mount it", func(f *Facts) { f.DebugfsMounted = false }, CheckDebugfsMounted, verdict.CheckFail, "the harness may mount it", false},
		{"unmounted debugfs leaves kmemleak unprobed", func(f *Facts) { f.DebugfsMounted, f.KmemleakFileExists = false, false }, CheckKmemleakUsable, verdict.CheckFail, "mount -t debugfs none /sys/kernel/debug", false},
		{"a kmemleak file missing on an old kernel means disabled at boot", func(f *Facts) { f.KmemleakFileExists = false }, CheckKmemleakUsable, verdict.CheckFail, "kmemleak=on", false},
		{"a kmemleak file missing on a kernel without kmemleak asks for the config", func(f *Facts) { f.KmemleakFileExists = false; f.Config = without(f.Config, "CONFIG_DEBUG_KMEMLEAK") }, CheckKmemleakUsable, verdict.CheckFail, "CONFIG_DEBUG_KMEMLEAK=y", false},
		{"EBUSY means disabled on 4.19 to 5.2", func(f *Facts) { f.KmemleakWriteErr = "Device or resource busy" }, CheckKmemleakUsable, verdict.CheckFail, "CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE", false},
		{"EPERM means disabled from 5.3", func(f *Facts) { f.KmemleakWriteErr = "Operation not permitted" }, CheckKmemleakUsable, verdict.CheckFail, "kmemleak=on", false},
		{"another write error points to dmesg", func(f *Facts) { f.KmemleakWriteErr = "Input/output error" }, CheckKmemleakUsable, verdict.CheckFail, "dmesg", false},
		{"no owner tracking warns with slab_debug=U", func(f *Facts) { f.Cmdline = "kmemleak=on slab_nomerge"; f.StoreUserCaches = 0 }, CheckAllocSites, verdict.CheckWarn, "slab_debug=U", true},
		{"slub_debug=FZ without U warns", func(f *Facts) { f.Cmdline = "kmemleak=on slub_debug=FZ"; f.StoreUserCaches = 0 }, CheckAllocSites, verdict.CheckWarn, "slub_debug=U", true},
		{"a bare slub_debug enables every option", func(f *Facts) { f.Cmdline = "kmemleak=on slub_debug"; f.StoreUserCaches = 0 }, CheckAllocSites, verdict.CheckOK, "", true},
		{"slub_debug=-  turns tracking off", func(f *Facts) { f.Cmdline = "kmemleak=on slub_debug=-"; f.StoreUserCaches = 0 }, CheckAllocSites, verdict.CheckWarn, "slab_debug=U", true},
		{"CONFIG_SLUB_DEBUG_ON tracks owners", func(f *Facts) {
			f.Cmdline = "kmemleak=on"
			f.StoreUserCaches = 0
			f.Config["CONFIG_SLUB_DEBUG_ON"] = "y"
		}, CheckAllocSites, verdict.CheckOK, "", true},
		{"store_user caches prove tracking", func(f *Facts) { f.Cmdline = "kmemleak=on" }, CheckAllocSites, verdict.CheckOK, "", true},
		{"merged caches warn with slab_nomerge", func(f *Facts) { f.Cmdline = "kmemleak=on slab_debug=U"; f.MergedCaches = 120 }, CheckNoMerge, verdict.CheckWarn, "slab_nomerge", true},
		{"old slub_nomerge counts", func(f *Facts) { f.Cmdline = "kmemleak=on slub_nomerge"; f.MergedCaches = 120 }, CheckNoMerge, verdict.CheckOK, "", true},
		{"no merged caches pass", func(f *Facts) { f.Cmdline = "kmemleak=on"; f.MergedCaches = 0 }, CheckNoMerge, verdict.CheckOK, "", true},
		{"a config from /boot without IKCONFIG_PROC warns", func(f *Facts) {
			f.Config = without(f.Config, "CONFIG_IKCONFIG_PROC")
			f.ConfigSource = "/boot/config-5.4.194"
		}, CheckIKConfigProc, verdict.CheckWarn, "CONFIG_IKCONFIG_PROC=y", true},
		{"no config warns and says runtime probes decide", func(f *Facts) { f.Config = nil }, CheckConfig, verdict.CheckWarn, "CONFIG_IKCONFIG_PROC=y", true},
		{"no KALLSYMS warns", func(f *Facts) { f.Config = without(f.Config, "CONFIG_KALLSYMS") }, CheckKallsyms, verdict.CheckWarn, "CONFIG_KALLSYMS=y", true},
		{"without config and debugfs DEBUG_FS cannot be told", func(f *Facts) { f.Config, f.DebugfsMounted = nil, false }, CheckDebugFS, verdict.CheckWarn, "mount -t debugfs", false},
		{"without config no kmemleak parameter leaves it to the probe", func(f *Facts) { f.Config, f.Cmdline = nil, "" }, CheckKmemleakBoot, verdict.CheckOK, "", true},
		{"CONFIG_SLAB_MERGE_DEFAULT off needs no slab_nomerge", func(f *Facts) {
			f.Cmdline = "kmemleak=on"
			f.MergedCaches = 0
			f.SlabCaches = 0
			f.Config["CONFIG_SLAB_MERGE_DEFAULT"] = "n"
		}, CheckNoMerge, verdict.CheckOK, "", true},
		{"without config IKCONFIG_PROC warns", func(f *Facts) { f.Config = nil }, CheckIKConfigProc, verdict.CheckWarn, "CONFIG_IKCONFIG_PROC=y", true},
		{"without config KALLSYMS cannot be told", func(f *Facts) { f.Config = nil }, CheckKallsyms, verdict.CheckWarn, "CONFIG_KALLSYMS=y", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := readyFacts(t)
			tt.mutate(&f)
			r := Evaluate(f)
			c := checkNamed(t, r, tt.check)
			if c.Status != tt.want || !strings.Contains(c.Remediation, tt.wantFix) || (tt.wantFix == "") != (c.Remediation == "") {
				t.Errorf("%s = %s %q → %q, want %s with %q", c.Name, c.Status, c.Seen, c.Remediation, tt.want, tt.wantFix)
			}
			if r.Ready != tt.wantReady {
				t.Errorf("Ready = %v, want %v:\n%s", r.Ready, tt.wantReady, r.Text())
			}
		})
	}
}

func TestEvaluate_NoConfigSaysSoInSeen(t *testing.T) {
	f := readyFacts(t)
	f.Config = nil
	c := checkNamed(t, Evaluate(f), CheckConfig)
	if !strings.Contains(c.Seen, "could not be read") || !strings.Contains(c.Seen, "runtime probes") {
		t.Errorf("seen = %q", c.Seen)
	}
}

func TestReport_TextHasOneLinePerCheckAndJSONNames(t *testing.T) {
	f := readyFacts(t)
	f.DebugfsMounted = false
	r := Evaluate(f)
	lines := strings.Split(strings.TrimSuffix(r.Text(), "\n"), "\n")
	if len(lines) != len(r.Checks)+1 || !strings.HasPrefix(lines[0], "NOT READY") {
		t.Fatalf("text:\n%s", r.Text())
	}
	if !strings.Contains(r.Text(), "FAIL  debugfs mounted") || !strings.Contains(r.Text(), "→ mount -t debugfs none /sys/kernel/debug") {
		t.Errorf("text lacks the debugfs line:\n%s", r.Text())
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"ready":false`, `"checks":`, `"name":"debugfs mounted"`, `"status":"fail"`, `"remediation":"mount -t debugfs`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
	if len(r.Remediations()) == 0 {
		t.Error("no remediations for a failed report")
	}
}

// liveFacts probes this machine the way the harness probes a target.
func liveFacts(t *testing.T) Facts {
	t.Helper()
	release, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		t.Fatal(err)
	}
	f := Facts{KernelRelease: strings.TrimSpace(string(release))}
	for _, src := range []string{"/proc/config.gz", "/boot/config-" + f.KernelRelease} {
		b, err := os.ReadFile(src)
		if err != nil {
			continue
		}
		if f.Config, err = Parse(b); err != nil {
			t.Fatalf("parse %s: %v", src, err)
		}
		f.ConfigSource = src
		break
	}
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	f.Cmdline = string(cmdline)
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if fl := strings.Fields(line); len(fl) > 2 && fl[1] == "/sys/kernel/debug" && fl[2] == "debugfs" {
			f.DebugfsMounted = true
		}
	}
	if _, err := os.Stat("/sys/kernel/debug/kmemleak"); err == nil {
		f.KmemleakFileExists = true
		if err := os.WriteFile("/sys/kernel/debug/kmemleak", []byte("scan=off"), 0); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			f.KmemleakWriteErr = err.Error()
		}
	}
	_, err = os.ReadFile("/proc/slabinfo")
	f.SlabinfoReadable = err == nil
	entries, err := os.ReadDir("/sys/kernel/slab")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type()&os.ModeSymlink != 0 {
			f.MergedCaches++
			continue
		}
		f.SlabCaches++
		if b, err := os.ReadFile(filepath.Join("/sys/kernel/slab", e.Name(), "store_user")); err == nil && strings.TrimSpace(string(b)) == "1" {
			f.StoreUserCaches++
		}
	}
	return f
}

// TestEvaluate_ThisMachinesKernel runs preflight on the kernel running the
// tests: its config (CONFIG_SLUB_DEBUG=y, no CONFIG_DEBUG_KMEMLEAK on the
// 6.18 build this was written on) must give "not ready" with the kmemleak
// remediation, and every verdict must follow from what was probed.
func TestEvaluate_ThisMachinesKernel(t *testing.T) {
	f := liveFacts(t)
	if f.Config == nil {
		t.Fatalf("no kernel config on this machine (/proc/config.gz or /boot/config-%s)", f.KernelRelease)
	}
	r := Evaluate(f)
	t.Logf("preflight of %s:\n%s", f.KernelRelease, r.Text())

	slub := checkNamed(t, r, CheckSlubDebug)
	if (f.Config["CONFIG_SLUB_DEBUG"] == "y") != (slub.Status == verdict.CheckOK) {
		t.Errorf("SLUB_DEBUG check %s for %s", slub.Status, f.Config.Seen("CONFIG_SLUB_DEBUG"))
	}
	if f.Config["CONFIG_DEBUG_KMEMLEAK"] != "y" {
		km := checkNamed(t, r, CheckKmemleak)
		if r.Ready || km.Status != verdict.CheckFail || km.Remediation != fixKmemleakConfig {
			t.Errorf("a kernel without kmemleak: ready=%v, %s → %q", r.Ready, km.Status, km.Remediation)
		}
		found := false
		for _, line := range r.Remediations() {
			found = found || strings.Contains(line, "CONFIG_DEBUG_KMEMLEAK=y")
		}
		if !found {
			t.Errorf("remediations %q lack CONFIG_DEBUG_KMEMLEAK=y", r.Remediations())
		}
	}
	mounted := checkNamed(t, r, CheckDebugfsMounted)
	if f.DebugfsMounted != (mounted.Status == verdict.CheckOK) {
		t.Errorf("debugfs mounted=%v but check %s", f.DebugfsMounted, mounted.Status)
	}
	if r.Ready && f.KmemleakWriteErr != "" {
		t.Errorf("ready although kmemleak refused writes: %s", f.KmemleakWriteErr)
	}
}

func TestParse_ThisMachinesConfigHasEveryOption(t *testing.T) {
	f := liveFacts(t)
	if f.Config == nil {
		t.Fatalf("no kernel config on this machine (/proc/config.gz or /boot/config-%s)", f.KernelRelease)
	}
	text, err := os.ReadFile(f.ConfigSource)
	if err != nil {
		t.Fatal(err)
	}
	if zr, err := gzip.NewReader(bytes.NewReader(text)); err == nil {
		if text, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	want := bytes.Count(text, []byte("\nCONFIG_")) + bytes.Count(text, []byte(" is not set\n"))
	if len(f.Config) != want {
		t.Errorf("%d options parsed, %d in %s", len(f.Config), want, f.ConfigSource)
	}
}
