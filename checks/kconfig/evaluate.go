package kconfig

import (
	"fmt"
	"strings"

	"github.com/leakgate/leakgate/checks/verdict"
)

// Facts is what the harness learned about a target before a soak.
type Facts struct {
	// Config is the kernel config; nil when it could not be read, in which
	// case Evaluate says so and decides from the runtime probes.
	Config Config `json:"-"`
	// ConfigSource is where Config came from ("/proc/config.gz", "/boot/config-6.1.0").
	ConfigSource  string `json:"config_source,omitempty"`
	KernelRelease string `json:"kernel_release,omitempty"`
	// Cmdline is /proc/cmdline.
	Cmdline        string `json:"cmdline,omitempty"`
	DebugfsMounted bool   `json:"debugfs_mounted"`
	// KmemleakFileExists is true when /sys/kernel/debug/kmemleak exists.
	KmemleakFileExists bool `json:"kmemleak_file_exists"`
	// KmemleakWriteErr is "" when writing "scan=off" succeeded, else the
	// error text ("Operation not permitted", "Device or resource busy").
	KmemleakWriteErr string `json:"kmemleak_write_err,omitempty"`
	SlabinfoReadable bool   `json:"slabinfo_readable"`
	// StoreUserCaches counts caches with store_user=1 (allocation owners tracked).
	StoreUserCaches int `json:"store_user_caches"`
	SlabCaches      int `json:"slab_caches"`
	// MergedCaches counts symlinked names under /sys/kernel/slab: every
	// mergeable cache is one (mm/slub.c sysfs_slab_add), 0 with slab_nomerge.
	MergedCaches int `json:"merged_caches"`
	// AllocinfoReadable is true when /proc/allocinfo could be read;
	// MemProfiling is /proc/sys/vm/mem_profiling ("" when absent).
	AllocinfoReadable bool   `json:"allocinfo_readable"`
	MemProfiling      string `json:"mem_profiling,omitempty"`
	// PageOwnerStacks is true when page_owner_stacks/show_stacks exists.
	PageOwnerStacks bool `json:"page_owner_stacks"`
}

// Check is one preflight finding.
type Check struct {
	Name string `json:"name"`
	// Status: a fail makes the target not ready; a warn weakens the
	// diagnosis but the gate still works.
	Status verdict.Check `json:"status"`
	// Seen is what was observed, in the kernel's own words where possible.
	Seen string `json:"seen"`
	// Remediation is the exact config line, boot parameter or command; empty on pass.
	Remediation string `json:"remediation,omitempty"`
}

// Report is the preflight answer: Ready is false when any check failed.
type Report struct {
	Ready  bool    `json:"ready"`
	Checks []Check `json:"checks"`
}

// Text renders the report: a verdict line, then one line per check.
func (r Report) Text() string {
	var b strings.Builder
	if r.Ready {
		b.WriteString("ready: this kernel can show leaks\n")
	} else {
		b.WriteString("NOT READY: fix the failed checks below, then run preflight again\n")
	}
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-26s  %s", strings.ToUpper(string(c.Status)), c.Name, c.Seen)
		if c.Remediation != "" {
			fmt.Fprintf(&b, "  → %s", c.Remediation)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// Remediations are the fixes of the failed checks, one per line.
func (r Report) Remediations() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == verdict.CheckFail && c.Remediation != "" {
			out = append(out, c.Name+": "+c.Remediation)
		}
	}
	return out
}

// Check names, stable for callers and JSON.
const (
	CheckConfig         = "kernel config"
	CheckSlubDebug      = "CONFIG_SLUB_DEBUG"
	CheckSlabinfo       = "slabinfo readable"
	CheckKmemleak       = "CONFIG_DEBUG_KMEMLEAK"
	CheckDebugFS        = "CONFIG_DEBUG_FS"
	CheckKmemleakBoot   = "kmemleak boot parameter"
	CheckDebugfsMounted = "debugfs mounted"
	CheckKmemleakUsable = "kmemleak usable"
	CheckAllocSites     = "allocation sites"
	CheckNoMerge        = "slab merging"
	CheckIKConfigProc   = "CONFIG_IKCONFIG_PROC"
	CheckKallsyms       = "CONFIG_KALLSYMS"
)

// Remediation texts shared by several checks.
const (
	fixKmemleakConfig = "rebuild with CONFIG_DEBUG_KMEMLEAK=y and CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE=16000"
	fixKmemleakBoot   = "boot with kmemleak=on; if `dmesg | grep kmemleak` shows \"Memory pool empty\" (or \"Early log buffer exceeded\" before 5.4), raise CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE (CONFIG_DEBUG_KMEMLEAK_EARLY_LOG_SIZE before 5.4)"
	fixMountDebugfs   = "mount -t debugfs none /sys/kernel/debug (the harness may mount it itself at setup when it runs as root)"
)

// Evaluate decides whether the target is ready for a leak soak. Required:
// SLUB_DEBUG (slabinfo), DEBUG_KMEMLEAK, DEBUG_FS, kmemleak enabled at boot,
// debugfs mounted and kmemleak accepting writes. Advisory (warn): allocation
// owner tracking, unmerged caches, the page-level sources (allocinfo,
// page_owner stacks), a readable config, symbol names.
func Evaluate(f Facts) Report {
	params := cmdlineParams(f.Cmdline)
	checks := []Check{
		configCheck(f),
		slubDebugCheck(f),
		slabinfoCheck(f),
		kmemleakConfigCheck(f),
		debugFSCheck(f),
		kmemleakBootCheck(f, params),
		debugfsMountedCheck(f),
		kmemleakUsableCheck(f),
		allocSitesCheck(f, params),
		noMergeCheck(f, params),
		allocinfoCheck(f),
		pageOwnerCheck(f, params),
		ikconfigProcCheck(f),
		kallsymsCheck(f),
	}
	r := Report{Ready: true, Checks: checks}
	for _, c := range checks {
		if c.Status == verdict.CheckFail {
			r.Ready = false
		}
	}
	return r
}

func configCheck(f Facts) Check {
	c := Check{Name: CheckConfig}
	if f.Config == nil {
		c.Status = verdict.CheckWarn
		c.Seen = "could not be read (no /proc/config.gz, no /boot/config-" + orUnknown(f.KernelRelease) + "); deciding from runtime probes"
		c.Remediation = "rebuild with CONFIG_IKCONFIG=y and CONFIG_IKCONFIG_PROC=y, or install the config as /boot/config-$(uname -r)"
		return c
	}
	c.Status = verdict.CheckOK
	c.Seen = fmt.Sprintf("read %d options from %s", len(f.Config), orUnknown(f.ConfigSource))
	return c
}

func slubDebugCheck(f Facts) Check {
	c := Check{Name: CheckSlubDebug}
	switch {
	case f.Config != nil && f.Config["CONFIG_SLUB_DEBUG"] == "y":
		c.Status, c.Seen = verdict.CheckOK, f.Config.Seen("CONFIG_SLUB_DEBUG")
	case f.Config != nil:
		c.Status, c.Seen = verdict.CheckFail, f.Config.Seen("CONFIG_SLUB_DEBUG")
		c.Remediation = "rebuild with CONFIG_SLUB_DEBUG=y"
	case f.SlabinfoReadable:
		c.Status, c.Seen = verdict.CheckOK, "config unknown; /proc/slabinfo is readable, so SLUB_DEBUG (or SLAB) is built in"
	default:
		c.Status, c.Seen = verdict.CheckFail, "config unknown and /proc/slabinfo is not readable"
		c.Remediation = "rebuild with CONFIG_SLUB_DEBUG=y (and run the harness as root: slabinfo is mode 0400)"
	}
	return c
}

func slabinfoCheck(f Facts) Check {
	c := Check{Name: CheckSlabinfo}
	if f.SlabinfoReadable {
		c.Status, c.Seen = verdict.CheckOK, fmt.Sprintf("/proc/slabinfo readable, %d caches in /sys/kernel/slab", f.SlabCaches)
		return c
	}
	c.Status, c.Seen = verdict.CheckFail, "/proc/slabinfo could not be read"
	c.Remediation = "run the harness as root (slabinfo is mode 0400) on a kernel with CONFIG_SLUB_DEBUG=y"
	return c
}

func kmemleakConfigCheck(f Facts) Check {
	c := Check{Name: CheckKmemleak}
	switch {
	case f.Config != nil && f.Config["CONFIG_DEBUG_KMEMLEAK"] == "y":
		c.Status, c.Seen = verdict.CheckOK, f.Config.Seen("CONFIG_DEBUG_KMEMLEAK")
		if pool, ok := f.Config["CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE"]; ok {
			c.Seen += ", CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE=" + pool
		}
	case f.Config != nil:
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, f.Config.Seen("CONFIG_DEBUG_KMEMLEAK"), fixKmemleakConfig
	case f.KmemleakFileExists:
		c.Status, c.Seen = verdict.CheckOK, "config unknown; /sys/kernel/debug/kmemleak exists"
	case f.DebugfsMounted:
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, "config unknown; debugfs is mounted but has no kmemleak file", fixKmemleakConfig+" (if it is built in, "+fixKmemleakBoot+")"
	default:
		c.Status, c.Seen, c.Remediation = verdict.CheckWarn, "config unknown and debugfs not mounted: cannot tell", fixMountDebugfs
	}
	return c
}

func debugFSCheck(f Facts) Check {
	c := Check{Name: CheckDebugFS}
	switch {
	case f.Config != nil && f.Config["CONFIG_DEBUG_FS"] == "y":
		c.Status, c.Seen = verdict.CheckOK, f.Config.Seen("CONFIG_DEBUG_FS")
		if f.Config["CONFIG_DEBUG_FS_ALLOW_NONE"] == "y" {
			c.Status, c.Seen = verdict.CheckFail, c.Seen+", CONFIG_DEBUG_FS_ALLOW_NONE=y"
			c.Remediation = "rebuild with CONFIG_DEBUG_FS_ALLOW_ALL=y, or boot with debugfs=on"
		}
	case f.Config != nil:
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, f.Config.Seen("CONFIG_DEBUG_FS"), "rebuild with CONFIG_DEBUG_FS=y"
	case f.DebugfsMounted:
		c.Status, c.Seen = verdict.CheckOK, "config unknown; debugfs is mounted"
	default:
		c.Status, c.Seen, c.Remediation = verdict.CheckWarn, "config unknown and debugfs not mounted: cannot tell", fixMountDebugfs
	}
	return c
}

func kmemleakBootCheck(f Facts, params []string) Check {
	c := Check{Name: CheckKmemleakBoot}
	v, seen, set := param(params, "kmemleak")
	defaultOff := f.Config != nil && f.Config["CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF"] == "y"
	switch {
	case set && v == "off":
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, seen+" on the kernel command line", "remove kmemleak=off from the kernel command line"
	case set && v == "on":
		c.Status, c.Seen = verdict.CheckOK, seen+" on the kernel command line"
	case defaultOff:
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, "CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF=y and no kmemleak=on on the kernel command line", "add kmemleak=on to the kernel command line"
	case f.Config == nil:
		c.Status, c.Seen = verdict.CheckOK, "no kmemleak= parameter; config unknown, so whether kmemleak is on by default is judged by the kmemleak probe"
	default:
		c.Status, c.Seen = verdict.CheckOK, "no kmemleak= parameter needed (CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF is not set)"
	}
	return c
}

func debugfsMountedCheck(f Facts) Check {
	c := Check{Name: CheckDebugfsMounted}
	if f.DebugfsMounted {
		c.Status, c.Seen = verdict.CheckOK, "debugfs mounted at /sys/kernel/debug"
		return c
	}
	c.Status, c.Seen, c.Remediation = verdict.CheckFail, "debugfs not mounted at /sys/kernel/debug", fixMountDebugfs
	return c
}

func kmemleakUsableCheck(f Facts) Check {
	c := Check{Name: CheckKmemleakUsable}
	built := f.Config == nil || f.Config["CONFIG_DEBUG_KMEMLEAK"] == "y"
	errText := strings.ToLower(f.KmemleakWriteErr)
	switch {
	case !f.KmemleakFileExists && !built:
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, "kernel built without kmemleak", fixKmemleakConfig
	case !f.DebugfsMounted && !f.KmemleakFileExists:
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, "cannot probe: debugfs not mounted", fixMountDebugfs
	case !f.KmemleakFileExists:
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, "no /sys/kernel/debug/kmemleak: kmemleak disabled (kernels before ≈4.19 remove the file)", fixKmemleakBoot
	case f.KmemleakWriteErr == "":
		c.Status, c.Seen = verdict.CheckOK, "writing scan=off to /sys/kernel/debug/kmemleak succeeded"
	case strings.Contains(errText, "busy") || strings.Contains(errText, "ebusy"):
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, "write to /sys/kernel/debug/kmemleak: "+f.KmemleakWriteErr+" (kmemleak disabled; EBUSY on kernels ≈4.19–5.2)", fixKmemleakBoot
	case strings.Contains(errText, "not permitted") || strings.Contains(errText, "eperm"):
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, "write to /sys/kernel/debug/kmemleak: "+f.KmemleakWriteErr+" (kmemleak disabled; EPERM on kernels ≈5.3+)", fixKmemleakBoot+"; also make sure the harness runs as root"
	default:
		c.Status, c.Seen, c.Remediation = verdict.CheckFail, "write to /sys/kernel/debug/kmemleak: "+f.KmemleakWriteErr, "run the harness as root and check `dmesg | grep kmemleak`"
	}
	return c
}

func allocSitesCheck(f Facts, params []string) Check {
	c := Check{Name: CheckAllocSites}
	v, seen, set := param(params, "slab_debug", "slub_debug")
	switch {
	case set && debugHasUser(v):
		c.Status, c.Seen = verdict.CheckOK, seen+" on the kernel command line"
	case f.Config != nil && f.Config["CONFIG_SLUB_DEBUG_ON"] == "y" && !set:
		c.Status, c.Seen = verdict.CheckOK, "CONFIG_SLUB_DEBUG_ON=y"
	case f.StoreUserCaches > 0:
		c.Status, c.Seen = verdict.CheckOK, fmt.Sprintf("%d caches with store_user=1", f.StoreUserCaches)
	default:
		c.Status = verdict.CheckWarn
		c.Seen = "no slab_debug=U / slub_debug=U and no cache tracks owners: slab findings will name a cache but no allocation site"
		c.Remediation = "boot with slab_debug=U (slub_debug=U before 6.8), or limit it: slab_debug=U,kmalloc-*"
	}
	return c
}

// debugHasUser reports whether a slab_debug= value enables owner tracking
// (U) for at least one cache: "" and ",cache" mean every option
// (mm/slub.c parse_slub_debug_flags); "-" turns everything off.
func debugHasUser(v string) bool {
	for _, block := range strings.Split(v, ";") {
		flags, _, _ := strings.Cut(block, ",")
		if flags == "" || strings.ContainsAny(flags, "Uu") {
			return true
		}
	}
	return false
}

func noMergeCheck(f Facts, params []string) Check {
	c := Check{Name: CheckNoMerge}
	_, seen, set := param(params, "slab_nomerge", "slub_nomerge")
	switch {
	case set:
		c.Status, c.Seen = verdict.CheckOK, seen+" on the kernel command line"
	case f.Config != nil && f.Config["CONFIG_SLAB_MERGE_DEFAULT"] == "n":
		c.Status, c.Seen = verdict.CheckOK, f.Config.Seen("CONFIG_SLAB_MERGE_DEFAULT")
	case f.SlabCaches > 0 && f.MergedCaches == 0:
		c.Status, c.Seen = verdict.CheckOK, "no merged caches in /sys/kernel/slab"
	default:
		c.Status = verdict.CheckWarn
		c.Seen = fmt.Sprintf("slab merging is on (%d cache names are symlinks to shared directories): a driver's leak may be counted under another cache's name, e.g. kmalloc-256", f.MergedCaches)
		c.Remediation = "boot with slab_nomerge"
	}
	return c
}

func ikconfigProcCheck(f Facts) Check {
	c := Check{Name: CheckIKConfigProc}
	switch {
	case f.Config != nil && f.Config["CONFIG_IKCONFIG_PROC"] == "y":
		c.Status, c.Seen = verdict.CheckOK, f.Config.Seen("CONFIG_IKCONFIG_PROC")
	case f.Config != nil:
		c.Status, c.Seen = verdict.CheckWarn, f.Config.Seen("CONFIG_IKCONFIG_PROC")+" (config read from "+orUnknown(f.ConfigSource)+")"
		c.Remediation = "rebuild with CONFIG_IKCONFIG=y and CONFIG_IKCONFIG_PROC=y so every build carries its config"
	default:
		c.Status, c.Seen = verdict.CheckWarn, "no /proc/config.gz"
		c.Remediation = "rebuild with CONFIG_IKCONFIG=y and CONFIG_IKCONFIG_PROC=y"
	}
	return c
}

func kallsymsCheck(f Facts) Check {
	c := Check{Name: CheckKallsyms}
	switch {
	case f.Config != nil && f.Config["CONFIG_KALLSYMS"] == "y":
		c.Status, c.Seen = verdict.CheckOK, f.Config.Seen("CONFIG_KALLSYMS")
	case f.Config != nil:
		c.Status, c.Seen = verdict.CheckWarn, f.Config.Seen("CONFIG_KALLSYMS")+": backtraces will be bare addresses"
		c.Remediation = "rebuild with CONFIG_KALLSYMS=y"
	default:
		c.Status, c.Seen = verdict.CheckWarn, "config unknown: cannot tell whether backtraces carry names"
		c.Remediation = "rebuild with CONFIG_KALLSYMS=y (and CONFIG_IKCONFIG_PROC=y to let preflight check)"
	}
	return c
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
