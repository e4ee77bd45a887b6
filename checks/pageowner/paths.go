package pageowner

// Paths on the target (debugfs, root only).
const (
	// ShowStacksPath is the per-stack summary Parse reads; sample it.
	ShowStacksPath = "/sys/kernel/debug/page_owner_stacks/show_stacks"
	// CountThresholdPath holds the minimum pages a stack needs to be printed
	// (see the package doc); write it once before a soak.
	CountThresholdPath = "/sys/kernel/debug/page_owner_stacks/count_threshold"
	// DumpPath is the per-page dump: tens of MB, evidence after a failed run,
	// never a sample.
	DumpPath = "/sys/kernel/debug/page_owner"
)

// DefaultCountThreshold is the count_threshold leakgate suggests for a soak:
// 64 base pages (256 KiB with 4 KiB pages) cuts the rig's show_stacks from
// ≈ 620 stacks (290 KB) to 12 (5 KB), while a leak of 16 KiB/s crosses it
// within 16 s — far inside any warm-up.
const DefaultCountThreshold = 64
