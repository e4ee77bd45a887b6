// Package meminfo reads /proc/meminfo and /proc/vmallocinfo and derives the
// memory no other counter accounts for (page-allocator leaks).
package meminfo

// Info is /proc/meminfo in bytes, keyed by the kernel's field name
// ("MemAvailable", "SUnreclaim", ...). Absent fields are absent keys.
type Info map[string]uint64
