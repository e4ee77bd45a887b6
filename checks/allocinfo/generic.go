package allocinfo

import "regexp"

// GenericReason says why a site is generic — a shared helper charged for
// memory its callers hold (see the package doc) — or "" for a site that names
// its holder. A judge prefers a driver's own site and names a generic one only
// with a page_owner stack or an own-module site beside it.
func GenericReason(s Site) string {
	for _, r := range compiledGeneric {
		if r.file.MatchString(s.File) && r.fn.MatchString(s.Func) {
			return r.why
		}
	}
	return ""
}

// IsGeneric reports whether GenericReason has a reason for s.
func IsGeneric(s Site) bool { return GenericReason(s) != "" }

// genericRule is one row: anchored patterns on the file and on the function
// (both must match), and why such a site is not a culprit.
type genericRule struct {
	file, fn string
	why      string
}

// genericTable is the one table of generic sites. Patterns are anchored
// (^…$), syzkaller style but without its substring pitfalls: a driver's
// wlansim_alloc_page in drivers/ is never caught by the page-allocator row,
// whose file pattern is mm/. Rows follow 6.12's sources: helpers whose
// allocation is not wrapped in alloc_hooks() by their callers.
var genericTable = []genericRule{
	// Page fragments: netdev_alloc_frag, napi_alloc_frag, page_frag_alloc all
	// refill through __page_frag_cache_refill (mm/page_alloc.c in 6.12,
	// mm/page_frag_cache.c from 6.13).
	{`mm/(page_alloc|page_frag_cache)\.c`, `_*page_frag_(cache_refill|alloc\w*|cache_drain)`, "page fragment cache refill: charged for every netdev_alloc_frag/napi_alloc_frag/page_frag_alloc user"},
	// Socket buffers: heads and fragments allocated inside net/core.
	{`net/core/skbuff\.c`, `\w*`, "socket buffer helper (net/core/skbuff.c): charged for every driver's skbs"},
	{`include/linux/skbuff\.h`, `_*(dev|netdev|napi)_alloc_\w*`, "socket buffer page helper: charged for every driver's RX pages"},
	{`net/core/page_pool\.c`, `\w*`, "page_pool: charged for every pool user's pages"},
	{`net/core/(sock|dev|gro|netpoll|datagram|stream)\.c`, `_*(sock_(k|w|r)malloc|sock_alloc_send\w*|alloc_skb\w*|\w*_alloc_frag\w*|netdev_alloc\w*|sk(b)?_page_frag_refill)`, "socket memory helper"},
	// Managed and pooled allocations charged to the wrapper.
	{`drivers/base/devres\.c`, `\w*`, "devres (devm_*) helper: charged for every driver's managed allocations"},
	{`mm/mempool\.c`, `\w*`, "mempool helper: charged for every pool user"},
	{`mm/dmapool\.c`, `\w*`, "dma_pool helper: charged for every pool user"},
	{`kernel/dma/\w+\.c`, `\w*`, "DMA allocator: charged for every DMA buffer"},
	// Allocator internals that hold memory on behalf of many callers.
	{`mm/(slub|slab_common|percpu|percpu-vm|vmalloc|page_alloc|memblock|sparse|page_ext|hugetlb|compaction)\.c`, `\w*`, "allocator internals"},
	{`lib/(scatterlist|idr|radix-tree|xarray|maple_tree|genalloc|rhashtable|bucket_locks|kobject|kasprintf|string_helpers|stackdepot)\.c`, `\w*`, "library helper: charged for every caller"},
	{`mm/util\.c`, `\w*`, "memory helper (mm/util.c): charged for every caller"},
	// Process and page-cache memory: anonymous faults, tmpfs and file pages
	// belong to the processes (judged per process) and to meminfo.
	{`mm/(memory|shmem|filemap|readahead|swap_state|huge_memory|khugepaged|migrate)\.c`, `\w*`, "process and page-cache memory (faults, tmpfs, file pages): judged per process and in meminfo"},
	// The detector's own memory: kmemleak's object metadata grows with the
	// objects it tracks, whatever the product does.
	{`mm/kmemleak\.c`, `\w*`, "kmemleak's own metadata (the detector, not the product)"},
}

type compiledGenericRule struct {
	file, fn *regexp.Regexp
	why      string
}

// compiledGeneric is built once at package init and never changed.
var compiledGeneric = func() []compiledGenericRule {
	out := make([]compiledGenericRule, len(genericTable))
	for i, r := range genericTable {
		out[i] = compiledGenericRule{
			file: regexp.MustCompile(`^(?:` + r.file + `)$`),
			fn:   regexp.MustCompile(`^(?:` + r.fn + `)$`),
			why:  r.why,
		}
	}
	return out
}()
