package checks

import (
	"time"

	"github.com/leakgate/leakgate/checks/allocinfo"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/meminfo"
	"github.com/leakgate/leakgate/checks/pageowner"
	"github.com/leakgate/leakgate/checks/procmem"
	"github.com/leakgate/leakgate/checks/slab"
)

// Sample is everything parsed from one snapshot of the target.
type Sample struct {
	Index  int           `json:"index"`
	At     time.Time     `json:"at"`
	BootID string        `json:"boot_id"`
	Uptime time.Duration `json:"uptime_ns"`
	// Fast marks a sample of the cheap counters only (SampleOptions.Fast),
	// taken between the full samples.
	Fast  bool         `json:"fast,omitempty"`
	Slabs []slab.Cache `json:"slabs,omitempty"`
	Mem   meminfo.Info `json:"meminfo,omitempty"`
	// UnaccountedBytes is the meminfo residual no counter explains.
	UnaccountedBytes int64 `json:"unaccounted_bytes"`
	// Leaks are the kmemleak report's groups, cumulative since boot.
	Leaks []kmemleak.Group  `json:"kmemleak,omitempty"`
	Procs []procmem.Process `json:"procs,omitempty"`
	// Errors records per-file parse or read problems; the sample still counts.
	Errors map[string]string `json:"errors,omitempty"`
	// UnaccountedCaveats say what makes UnaccountedBytes imprecise on this kernel.
	UnaccountedCaveats []string `json:"unaccounted_caveats,omitempty"`
	// Vmalloc is /proc/vmallocinfo's vmalloc pages per caller, largest first.
	Vmalloc []meminfo.VmallocCaller `json:"vmalloc,omitempty"`
	// Allocinfo are /proc/allocinfo's call sites that hold at least
	// AllocinfoMinBytes (Linux ≥ 6.10 with CONFIG_MEM_ALLOC_PROFILING).
	Allocinfo []allocinfo.Site `json:"allocinfo,omitempty"`
	// PageStacks are page_owner's allocation stacks with their outstanding
	// pages (show_stacks, at least count_threshold pages each).
	PageStacks []pageowner.Stack `json:"page_stacks,omitempty"`
	// LeakObjects counts every kmemleak object in the report, grouped or not.
	LeakObjects int `json:"kmemleak_objects"`
	// AllocSites are the allocation sites per slab cache (slab_debug=U caches).
	AllocSites map[string][]slab.AllocSite `json:"alloc_sites,omitempty"`
	// Observer lists the processes left out of Procs because they are the
	// harness's own: the shell that read this sample and its SSH session.
	Observer []ObserverProcess `json:"observer,omitempty"`
}

// ObserverProcess is one of the harness's own processes on the target.
type ObserverProcess struct {
	PID  int    `json:"pid"`
	Name string `json:"name"`
}
