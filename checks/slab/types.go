// Package slab reads SLUB's view of kernel memory: /proc/slabinfo, the
// per-cache sysfs figures, and allocation sites (alloc_calls, alloc_traces).
package slab

import "math"

// Cache is one slab cache as seen in one sample.
type Cache struct {
	Name          string `json:"name"`
	ActiveObjects int64  `json:"active_objs"`
	NumObjects    int64  `json:"num_objs"`
	// ObjectSizeBytes is the size slabinfo prints (object incl. metadata).
	ObjectSizeBytes int64 `json:"objsize"`
	ObjectsPerSlab  int64 `json:"objperslab"`
	PagesPerSlab    int64 `json:"pagesperslab"`
	ActiveSlabs     int64 `json:"active_slabs"`
	NumSlabs        int64 `json:"num_slabs"`
	// Aliases are the caches merged into this one (from sysfs), if known.
	Aliases []string `json:"aliases,omitempty"`
	// Reclaimable is true for SLAB_RECLAIM_ACCOUNT caches (sysfs reclaim_account).
	Reclaimable bool `json:"reclaimable,omitempty"`
	// PayloadSizeBytes is sysfs object_size (without metadata), if known.
	PayloadSizeBytes int64 `json:"object_size,omitempty"`
}

// ActiveBytes is the memory held by active objects.
//
// A product beyond int64 (a corrupt row: no kernel holds 8 EiB of slab)
// saturates at math.MaxInt64 rather than wrapping to a negative size.
func (c Cache) ActiveBytes() int64 { return mulSaturating(c.ActiveObjects, c.ObjectSizeBytes) }

// mulSaturating multiplies two non-negative counts, saturating at
// math.MaxInt64; a negative operand gives 0.
func mulSaturating(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}
