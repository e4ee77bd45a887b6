package meminfo

import "fmt"

// Unaccounted is the memory no /proc/meminfo counter explains: direct page
// allocations, page_frag/skb pages, driver DMA and CMA buffers. Page-allocator
// leaks are invisible to slab and kmemleak and show up only here.
//
//	U = MemTotal − MemFree − (Buffers + Cached + SwapCached) − AnonPages
//	    − KReclaimable − SUnreclaim − KernelStack − PageTables − SecPageTables
//	    − Percpu − VmallocUsed − Zswap − Hugetlb
//
// Absent fields count as 0; subsets (Mapped, Shmem, AnonHugePages) are not
// subtracted. Caveats name what this kernel's meminfo makes imprecise. The
// figure is noisy (network buffers): judge its trend, not one value. It may
// be negative when counters race.
func Unaccounted(info Info) (bytes int64, caveats []string) {
	get := func(k string) int64 { return int64(info[k]) }
	if _, ok := info["MemTotal"]; !ok {
		return 0, []string{"no MemTotal: not a /proc/meminfo; the residual cannot be computed"}
	}
	u := get("MemTotal") - get("MemFree") - get("Buffers") - get("Cached") - get("SwapCached") - get("AnonPages") - get("SUnreclaim") -
		get("KernelStack") - get("PageTables") - get("SecPageTables") - get("Percpu") - get("Zswap")

	// KReclaimable (≈4.20+) = SReclaimable + other shrinkable kernel memory.
	if _, ok := info["KReclaimable"]; ok {
		u -= get("KReclaimable")
	} else {
		u -= get("SReclaimable")
		caveats = append(caveats, "no KReclaimable (kernel before ≈4.20): used SReclaimable; other reclaimable kernel memory (e.g. ION/GPU pools) stays in the residual")
	}

	// VmallocUsed changed meaning twice: address space incl. ioremap before
	// ≈4.3, 0 from a5ad88ce8c7f, vmalloc pages again from ≈5.3.
	vmalloc, hasVmalloc := info["VmallocUsed"]
	_, hasKRecl := info["KReclaimable"]
	switch {
	case !hasVmalloc:
	case vmalloc == 0:
		caveats = append(caveats, "VmallocUsed is 0 (kernels ≈4.3–5.2 do not count vmalloc pages): vmalloc memory stays in the residual; see /proc/vmallocinfo")
	case !hasKRecl:
		// Non-zero without KReclaimable can only be the pre-4.3 meaning.
		caveats = append(caveats, "VmallocUsed on this kernel (before ≈4.3) is address space including ioremap, not RAM: not subtracted; vmalloc memory stays in the residual")
	default:
		u -= int64(vmalloc)
	}

	// Hugetlb (≈5.16+) counts every huge page size; older kernels only give the default size.
	if _, ok := info["Hugetlb"]; ok {
		u -= get("Hugetlb")
	} else if n := get("HugePages_Total"); n > 0 {
		u -= n * get("Hugepagesize")
		caveats = append(caveats, "no Hugetlb line: used HugePages_Total × Hugepagesize (default huge page size only)")
	}
	if u < 0 {
		caveats = append(caveats, fmt.Sprintf("residual is negative (%d bytes): counters were read at different moments or overlap on this kernel", u))
	}
	return u, caveats
}
