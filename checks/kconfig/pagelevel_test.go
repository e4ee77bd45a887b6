package kconfig

import (
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks/verdict"
)

// rig612 is the reference target's 6.12 kernel with both page-level sources.
func rig612() Facts {
	return Facts{
		Config:        Config{"CONFIG_MEM_ALLOC_PROFILING": "y", "CONFIG_PAGE_OWNER": "y"},
		KernelRelease: "6.12.117", Cmdline: "console=ttyS0 page_owner=on kmemleak=on",
		AllocinfoReadable: true, MemProfiling: "1\n", PageOwnerStacks: true,
	}
}

func TestPageLevelChecks_SayWhatEachKernelCanNameAndHowToFixTheGap(t *testing.T) {
	cases := []struct {
		name      string
		edit      func(*Facts)
		check     string
		want      verdict.Check
		seen, fix string
	}{
		{"6.12 with allocinfo counting", nil, CheckAllocinfo, verdict.CheckOK, "/proc/allocinfo readable (mem_profiling 1)", ""},
		{"6.12 with page_owner on", nil, CheckPageOwner, verdict.CheckOK, "page_owner=on, show_stacks readable", ""},
		{"profiling switched off at run time", func(f *Facts) { f.MemProfiling = "0" }, CheckAllocinfo, verdict.CheckWarn, "mem_profiling is 0: nothing is counted", "echo 1 > /proc/sys/vm/mem_profiling"},
		{"profiling not built", func(f *Facts) { f.AllocinfoReadable = false; f.Config["CONFIG_MEM_ALLOC_PROFILING"] = "n" }, CheckAllocinfo, verdict.CheckWarn, "CONFIG_MEM_ALLOC_PROFILING is not set: page-level leaks", "CONFIG_MEM_ALLOC_PROFILING=y"},
		{"built, disabled at boot", func(f *Facts) { f.AllocinfoReadable = false }, CheckAllocinfo, verdict.CheckWarn, "sysctl.vm.mem_profiling=never", "sysctl.vm.mem_profiling=1"},
		{"page_owner built but off", func(f *Facts) { f.Cmdline = "console=ttyS0"; f.PageOwnerStacks = false }, CheckPageOwner, verdict.CheckWarn, "not enabled", "boot with page_owner=on"},
		{"page_owner not built", func(f *Facts) { f.Config["CONFIG_PAGE_OWNER"] = "n"; f.PageOwnerStacks = false }, CheckPageOwner, verdict.CheckWarn, "CONFIG_PAGE_OWNER is not set", "CONFIG_PAGE_OWNER=y"},
		{"5.15 kernel", func(f *Facts) { f.KernelRelease = "5.15.167"; f.AllocinfoReadable = false; f.PageOwnerStacks = false }, CheckPageOwner, verdict.CheckWarn, "kernel 5.15.167 predates page_owner_stacks (6.10)", "≥ 6.10"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := rig612()
			if tc.edit != nil {
				tc.edit(&f)
			}
			r := Evaluate(f)
			c := checkNamed(t, r, tc.check)
			if c.Status != tc.want || !strings.Contains(c.Seen, tc.seen) || !strings.Contains(c.Remediation, tc.fix) {
				t.Errorf("%s: %s, seen %q, fix %q; want %s, seen with %q, fix with %q", tc.check, c.Status, c.Seen, c.Remediation, tc.want, tc.seen, tc.fix)
			}
			if c.Status == verdict.CheckFail {
				t.Errorf("a missing page-level source must warn, never fail the gate")
			}
		})
	}
}

func TestKernelAtLeast_ReadsVendorReleaseStrings(t *testing.T) {
	for rel, want := range map[string]bool{"6.10.0": true, "6.12.117-openwrt": true, "6.9.12": false, "5.15.0": false, "7.0": true, "6.10-rc1": true, "": false, "abc": false} {
		if got := KernelAtLeast(rel, 6, 10); got != want {
			t.Errorf("KernelAtLeast(%q, 6, 10) = %v, want %v", rel, got, want)
		}
	}
}
