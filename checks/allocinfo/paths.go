package allocinfo

// Paths on the target.
const (
	// Path is the per-call-site file, mode 0400 (root only).
	Path = "/proc/allocinfo"
	// SysctlPath reads 1 when profiling counts now, 0 when it is off; on a
	// kernel booted with sysctl.vm.mem_profiling=never (or without
	// MEM_ALLOC_PROFILING support at boot) it is read-only.
	SysctlPath = "/proc/sys/vm/mem_profiling"
)
