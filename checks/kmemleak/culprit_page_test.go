package kmemleak

import "testing"

// TestMachineryReason_PagePathRows checks the page-allocator, page-frag,
// page_pool and skb page rows page_owner stacks need, and the driver
// functions with allocator-like names they must not swallow.
func TestMachineryReason_PagePathRows(t *testing.T) {
	skipped := []string{
		"post_alloc_hook", "prep_new_page", "get_page_from_freelist", "rmqueue", "__rmqueue_pcplist", "rmqueue_bulk",
		"__set_page_owner", "save_stack", "split_page", "vm_area_alloc_pages.constprop.0",
		"alloc_pages_noprof", "__alloc_pages_noprof", "alloc_pages_mpol_noprof", "alloc_pages_node_noprof",
		"__alloc_pages_slowpath.constprop.0", "alloc_pages_bulk_noprof", "__get_free_pages", "get_free_pages_noprof",
		"__page_frag_cache_refill", "page_frag_alloc_align", "__page_frag_alloc_align", "__netdev_alloc_frag_align",
		"napi_alloc_frag_align", "netdev_alloc_frag",
		"page_pool_alloc_pages", "__page_pool_alloc_pages_slow", "__page_pool_alloc_page_order", "page_pool_alloc_frag",
		"page_pool_alloc_netmem", "__page_pool_alloc_netmems_slow", "page_pool_refill_alloc_cache", "page_pool_dev_alloc_pages",
		"__dev_alloc_pages_noprof", "dev_alloc_page", "skb_page_frag_refill", "sk_page_frag_refill",
		"__netdev_alloc_skb", "__napi_alloc_skb", "__alloc_skb", "napi_alloc_skb", "alloc_skb_with_frags",
		"__alloc_object",
	}
	for _, f := range skipped {
		if MachineryReason(f) == "" {
			t.Errorf("%s: blamed, want skipped as page machinery", f)
		}
	}
	kept := []string{
		"wlansim_rx_fill", "wlansim_alloc_rx_page", "mt76_dma_rx_fill", "ath11k_dp_rxbufs_replenish",
		"page_pool_create", "page_pool_destroy", "save_stack_trace_user", "post_alloc_hook_test",
		"do_anonymous_page", "__pte_alloc", "alloc_object", "__alloc_object_node",
	}
	for _, f := range kept {
		if why := MachineryReason(f); why != "" {
			t.Errorf("%s: skipped as %q, want blamed", f, why)
		}
	}
}

// TestCulprit_PageOwnerStackBlamesTheDriver walks a 6.12 page_owner stack of
// a page-frag RX buffer: the driver frame past the frag and buddy allocator
// is blamed, by default and with own modules.
func TestCulprit_PageOwnerStackBlamesTheDriver(t *testing.T) {
	p := NewFrameParser()
	var frames []Frame
	for _, l := range []string{
		" post_alloc_hook+0x1b0/0x1c0", " get_page_from_freelist+0x58e/0x1090", " __alloc_pages_noprof+0x14e/0x2f0",
		" alloc_pages_mpol_noprof+0x76/0x1d0", " __page_frag_cache_refill+0x4c/0xd0", " __page_frag_alloc_align+0x3b/0x150",
		" __netdev_alloc_frag_align+0x25/0x30", " wlansim_rx_frag+0x21/0x80 [wlansim]", " wlansim_rx_handler+0x95/0x1c0 [wlansim]",
		" wlansim_rx_dma_done+0x21/0x46 [wlansim]", " vfs_write+0xd2/0x3f0", " ksys_write+0x5f/0xe0", " do_syscall_64+0x4b/0x110",
	} {
		f, ok := p.Parse([]byte(l))
		if !ok {
			t.Fatalf("frame %q did not parse", l)
		}
		frames = append(frames, f)
	}
	for _, own := range [][]string{nil, {"wlansim"}} {
		c := Culprit(frames, own)
		if c == nil || c.Function != "wlansim_rx_frag" || c.Module != "wlansim" {
			t.Errorf("own %v: culprit %+v, want wlansim_rx_frag [wlansim]", own, c)
		}
	}
	if got, want := SignatureOf(frames)[17:], "wlansim_rx_frag [wlansim] < wlansim_rx_handler [wlansim] < wlansim_rx_dma_done [wlansim] < vfs_write"; got != want {
		t.Errorf("signature %q, want %q", got, want)
	}
}
