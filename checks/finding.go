// Package checks turns what a target's kernel says about memory into typed
// values, series and verdicts. It and its sub-packages are pure: no I/O, no
// sleeping, no Ginkgo.
package checks

import (
	"time"

	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/verdict"
)

// Kind names the family of signal a finding comes from.
type Kind string

// The kinds of finding.
const (
	KindSlab     Kind = "slab"
	KindKmemleak Kind = "kmemleak"
	KindProcess  Kind = "process"
	KindMeminfo  Kind = "meminfo"
	KindVmalloc  Kind = "vmalloc"
	// KindAllocinfo is an allocation call site of /proc/allocinfo; KindPageOwner
	// a page_owner allocation stack (show_stacks).
	KindAllocinfo Kind = "allocinfo"
	KindPageOwner Kind = "page_owner"
)

// Finding is one judged signal with its evidence, as the report shows it.
type Finding struct {
	Kind    Kind            `json:"kind"`
	Subject string          `json:"subject"`
	Verdict verdict.Finding `json:"verdict"`
	// Reason says in one line why the verdict was reached.
	Reason string `json:"reason,omitempty"`
	// Unit of the series values ("bytes", "objects", "kB").
	Unit             string  `json:"unit,omitempty"`
	SlopePerHour     float64 `json:"slope_per_hour"`
	SlopeLowPerHour  float64 `json:"slope_low_per_hour"`
	SlopeHighPerHour float64 `json:"slope_high_per_hour"`
	P                float64 `json:"p_value"`
	// Growth is last minus first of the judged window, in Unit.
	Growth float64 `json:"growth"`
	// GrowthBytes is the growth converted to bytes where that is known.
	GrowthBytes int64 `json:"growth_bytes"`
	// Samples is the number of points judged; Rising how many rose.
	Samples int `json:"samples"`
	Rising  int `json:"rising"`
	// TimeToExhaustion at the lower bound of the slope; 0 when not finite.
	TimeToExhaustion time.Duration `json:"time_to_exhaustion_ns,omitempty"`
	// Culprit is the frame blamed, with the whole backtrace in Frames.
	Culprit *kmemleak.Frame  `json:"culprit,omitempty"`
	Frames  []kmemleak.Frame `json:"frames,omitempty"`
	// Evidence holds corroborating findings folded into this one.
	Evidence []Finding `json:"evidence,omitempty"`
	// AllowReason is the allowlist's reason when Verdict is allowed.
	AllowReason string `json:"allow_reason,omitempty"`
	// PRaw is the series' own p before adjustment across the run.
	PRaw float64 `json:"p_raw,omitempty"`
	// Monotonic is Kendall's tau of the series: 1 for a steady rise.
	Monotonic float64 `json:"monotonic,omitempty"`
	// ObjectSizeBytes is a slab cache's object size; SizesBytes a kmemleak
	// signature's object sizes; AllocCallers a slab cache's allocation sites.
	ObjectSizeBytes int64    `json:"object_size_bytes,omitempty"`
	SizesBytes      []int64  `json:"sizes_bytes,omitempty"`
	AllocCallers    []string `json:"alloc_callers,omitempty"`
	// ExplainedBy are the causes behind an aggregate finding (meminfo), with
	// their share of its growth.
	ExplainedBy []Explanation `json:"explained_by,omitempty"`
	// MergedWith are the other slab caches merged into this one (sysfs
	// aliases): /proc/slabinfo counts them together under Subject.
	MergedWith []string `json:"merged_with,omitempty"`
}
