package kconfig

import (
	"strconv"
	"strings"

	"github.com/leakgate/leakgate/checks/verdict"
)

// Names of the page-level checks: the sources that name the allocation
// site of growth slab caches and kmemleak cannot see (pages, page
// fragments, page_pool, vmalloc).
const (
	CheckAllocinfo = "allocation profiling (/proc/allocinfo)"
	CheckPageOwner = "page_owner stacks"
)

// lostWithoutPageLevel is what a target without either page-level source
// cannot tell.
const lostWithoutPageLevel = "page-level leaks (pages, page fragments, page_pool) will show only as unaccounted growth or falling MemAvailable, with no call site"

// allocinfoCheck says whether /proc/allocinfo (Linux ≥ 6.10,
// CONFIG_MEM_ALLOC_PROFILING, lib/alloc_tag.c) can be sampled. Missing, it
// weakens the diagnosis but the gate still works: a warning.
func allocinfoCheck(f Facts) Check {
	c := Check{Name: CheckAllocinfo}
	switch {
	case f.AllocinfoReadable && strings.TrimSpace(f.MemProfiling) == "0":
		c.Status, c.Seen = verdict.CheckWarn, "/proc/allocinfo exists but /proc/sys/vm/mem_profiling is 0: nothing is counted; "+lostWithoutPageLevel
		c.Remediation = "echo 1 > /proc/sys/vm/mem_profiling before the soak, or boot with sysctl.vm.mem_profiling=1"
	case f.AllocinfoReadable:
		c.Status, c.Seen = verdict.CheckOK, "/proc/allocinfo readable (mem_profiling "+orUnknown(strings.TrimSpace(f.MemProfiling))+")"
	case !KernelAtLeast(f.KernelRelease, 6, 10):
		c.Status, c.Seen = verdict.CheckWarn, "kernel "+orUnknown(f.KernelRelease)+" predates /proc/allocinfo (6.10): "+lostWithoutPageLevel
		c.Remediation = "on a ≥ 6.10 kernel, CONFIG_MEM_ALLOC_PROFILING=y and boot with sysctl.vm.mem_profiling=1"
	case f.Config != nil && f.Config["CONFIG_MEM_ALLOC_PROFILING"] == "y":
		c.Status, c.Seen = verdict.CheckWarn, "CONFIG_MEM_ALLOC_PROFILING=y but /proc/allocinfo is not readable (profiling disabled at boot with sysctl.vm.mem_profiling=never?): "+lostWithoutPageLevel
		c.Remediation = "boot with sysctl.vm.mem_profiling=1 and run the harness as root (the file is 0400)"
	default:
		c.Status, c.Seen = verdict.CheckWarn, seenOr(f, "CONFIG_MEM_ALLOC_PROFILING", "no /proc/allocinfo")+": "+lostWithoutPageLevel
		c.Remediation = "rebuild with CONFIG_MEM_ALLOC_PROFILING=y (and CONFIG_MEM_ALLOC_PROFILING_ENABLED_BY_DEFAULT=y, or boot with sysctl.vm.mem_profiling=1)"
	}
	return c
}

// pageOwnerCheck says whether page_owner's per-stack summary
// (/sys/kernel/debug/page_owner_stacks/show_stacks, Linux ≥ 6.10,
// mm/page_owner.c) can be sampled: it names the driver behind page-level
// growth when allocinfo names only a generic helper.
func pageOwnerCheck(f Facts, params []string) Check {
	c := Check{Name: CheckPageOwner}
	v, _, set := param(params, "page_owner")
	on := set && (v == "on" || v == "1")
	switch {
	case f.PageOwnerStacks && on:
		c.Status, c.Seen = verdict.CheckOK, "page_owner=on, show_stacks readable"
	case !KernelAtLeast(f.KernelRelease, 6, 10):
		c.Status, c.Seen = verdict.CheckWarn, "kernel "+orUnknown(f.KernelRelease)+" predates page_owner_stacks (6.10): page stacks are not sampled"
		c.Remediation = "on a ≥ 6.10 kernel, CONFIG_PAGE_OWNER=y and boot with page_owner=on"
	case f.Config != nil && f.Config["CONFIG_PAGE_OWNER"] != "y":
		c.Status, c.Seen = verdict.CheckWarn, f.Config.Seen("CONFIG_PAGE_OWNER")+": page stacks are not sampled; "+lostWithoutPageLevel+" unless allocinfo names a driver site"
		c.Remediation = "rebuild with CONFIG_PAGE_OWNER=y and boot with page_owner=on"
	case !on:
		c.Status, c.Seen = verdict.CheckWarn, "page_owner is built but not enabled (no page_owner=on on the kernel command line): page stacks are not sampled"
		c.Remediation = "boot with page_owner=on"
	default:
		c.Status, c.Seen = verdict.CheckWarn, "page_owner=on but "+"/sys/kernel/debug/page_owner_stacks/show_stacks is not readable (debugfs not mounted?)"
		c.Remediation = fixMountDebugfs
	}
	return c
}

func seenOr(f Facts, option, otherwise string) string {
	if f.Config == nil {
		return otherwise
	}
	return f.Config.Seen(option)
}

// KernelAtLeast reports whether a release ("6.12.117-openwrt") is at least
// major.minor; an unreadable release is not.
func KernelAtLeast(release string, major, minor int) bool {
	parts := strings.SplitN(release, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(leadingDigits(parts[1]))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
