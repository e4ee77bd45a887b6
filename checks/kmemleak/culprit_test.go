package kmemleak

import (
	"regexp"
	"strings"
	"testing"
)

func TestCulprit_FieldReportDefaultsToTheRxHandler(t *testing.T) {
	rep := parseFixture(t, "arm64-5.4-wifi.txt", Options{})
	if got := culpritName(rep.Objects[0]); got != "hostadpt_rx_handler" {
		t.Errorf("culprit %q, want hostadpt_rx_handler", got)
	}
	if rep.Groups[0].Culprit == nil || rep.Groups[0].Culprit.Module != "hostadpt" {
		t.Errorf("group culprit %+v, want hostadpt_rx_handler [hostadpt]", rep.Groups[0].Culprit)
	}
}

func TestCulprit_OwnModulesWin(t *testing.T) {
	tests := []struct {
		name string
		own  []string
		want string
	}{
		{"a module name blames that module's first frame", []string{"mt7916_ap"}, "pci_rx_dma_done_handle"},
		{"the first own frame wins whatever the list order", []string{"mt7916_ap", "hostadpt"}, "hostadpt_rx_handler"},
		{"a symbol prefix ending in _ matches function names", []string{"pci_rx_data_"}, "pci_rx_data_done_func"},
		{"a symbol prefix ending in * matches function names", []string{"pci_rx_data*"}, "pci_rx_data_done_func"},
		{"an own allocator wrapper is blamed when nothing else of ours is there", []string{"skbmgr_"}, "skbmgr_alloc_skb4k"},
		{"own modules absent from the stack fall back to the default", []string{"nosuchmod"}, "hostadpt_rx_handler"},
		{"blank entries are ignored", []string{" ", ""}, "hostadpt_rx_handler"},
		{"a module name is not a substring match", []string{"mt7916"}, "hostadpt_rx_handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := parseFixture(t, "arm64-5.4-wifi.txt", Options{OwnModules: tt.own})
			if got := culpritName(rep.Objects[0]); got != tt.want {
				t.Errorf("culprit %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCulprit_OwnModulesDoNotChangeTheSignature(t *testing.T) {
	a := parseFixture(t, "arm64-5.4-wifi.txt", Options{})
	b := parseFixture(t, "arm64-5.4-wifi.txt", Options{OwnModules: []string{"mt7916_ap"}})
	if a.Groups[0].Signature != b.Groups[0].Signature {
		t.Errorf("signature moved with own modules:\n%s\n%s", a.Groups[0].Signature, b.Groups[0].Signature)
	}
}

// TestMachineryReason_AnchoredTable checks each function named in the brief
// and KERNEL-FACTS §1.7, both the ones skipped and the substring traps kept.
func TestMachineryReason_AnchoredTable(t *testing.T) {
	skipped := []string{
		"kmalloc", "__kmalloc", "kmalloc_noprof", "__kmalloc_noprof", "__kmalloc_cache_noprof", "kzalloc_noprof",
		"__kmalloc_track_caller", "__kmalloc_node_track_caller_noprof", "kmalloc_trace", "__kmalloc_node",
		"kmalloc_large_node_noprof", "kcalloc", "kvmalloc_node_noprof", "krealloc_noprof", "kmalloc_reserve",
		"__kmalloc_reserve.isra.40", "kmem_cache_alloc", "kmem_cache_alloc_trace", "kmem_cache_alloc_lru_noprof",
		"kmem_cache_alloc_node", "__kmem_cache_alloc_node", "kmem_cache_alloc_notrace", "slab_post_alloc_hook",
		"slab_alloc_node", "___slab_alloc", "kmemleak_alloc", "kmemleak_alloc_recursive", "kmemleak_alloc_percpu",
		"kmemleak_alloc_phys", "create_object", "__create_object", "__alloc_skb", "alloc_skb", "alloc_skb_with_frags",
		"__netdev_alloc_skb", "__napi_alloc_skb", "skbmgr_alloc_skb4k", "build_skb", "skb_clone", "kstrdup",
		"kstrdup_const", "kmemdup", "kmemdup_nul", "kasprintf", "kvasprintf", "alloc_pages", "alloc_pages_vma",
		"__alloc_pages_nodemask", "__alloc_pages_noprof", "alloc_pages_mpol_noprof", "__alloc_frozen_pages_noprof",
		"__get_free_pages", "get_zeroed_page", "vmalloc", "__vmalloc_node_range", "vzalloc", "vmalloc_user",
		"pcpu_alloc", "pcpu_alloc_noprof", "pcpu_create_chunk", "__alloc_percpu", "__alloc_percpu_gfp",
		"idr_get_free", "idr_alloc", "idr_alloc_u32", "bpf_map_area_alloc", "__bpf_map_area_alloc",
		"memblock_alloc_range_nid", "memblock_alloc_internal", "mempool_alloc", "devm_kmalloc", "kobject_set_name_vargs",
		"page_frag_alloc", "__netdev_alloc_frag", "list_lru_init_memcg",
	}
	kept := []string{
		"sget_userns", "htab_map_alloc", "debug_objects_mem_init", "hostadpt_rx_handler", "pci_rx_dma_done_handle",
		"alloc_super", "alloc_netdev_mqs", "wl_add_sta", "map_create", "tasklet_action_common.constprop.0",
		"my_kmalloc_wrapper", "skb_put", "get_user_pages", "__do_sys_bpf", "ksys_mount", "kmemcheck_thing_user",
		"sget", "do_mmap", "slab_reclaim_user", "mount_bdev", "trace_kmalloc", "mempool_create",
	}
	for _, f := range skipped {
		if MachineryReason(f) == "" {
			t.Errorf("%s should be skipped as allocator machinery", f)
		}
	}
	for _, f := range kept {
		if r := MachineryReason(f); r != "" {
			t.Errorf("%s must be blamable, but is skipped as %q", f, r)
		}
	}
}

func TestMachineryReason_ContextBoundariesAreNeverBlamed(t *testing.T) {
	for _, f := range []string{"__do_softirq", "handle_softirqs", "irq_exit", "__handle_domain_irq", "gic_handle_irq",
		"el1_irq", "el1h_64_irq_handler", "cpu_startup_entry", "do_idle", "arch_cpu_idle", "rest_init",
		"do_syscall_64", "entry_SYSCALL_64_after_hwframe", "__x64_sys_bpf", "__arm64_sys_sendto", "kthread",
		"ret_from_fork", "worker_thread", "el0_svc_common.constprop.0", "invoke_syscall"} {
		if MachineryReason(f) == "" {
			t.Errorf("%s should be a context boundary", f)
		}
	}
}

// TestMachineryRules_AreAnchoredAndCompile guards the table itself: every
// pattern compiles, and none matches a name merely containing it.
func TestMachineryRules_AreAnchoredAndCompile(t *testing.T) {
	for _, rules := range [][]skipRule{skipTable} {
		for _, r := range rules {
			re, err := regexp.Compile(`^(?:` + r.pattern + `)$`)
			if err != nil {
				t.Fatalf("%s: %v", r.pattern, err)
			}
			if r.why == "" {
				t.Errorf("%s has no reason", r.pattern)
			}
			if re.MatchString("zz_unrelated_prefix_sget_userns") {
				t.Errorf("%s matches an unrelated name", r.pattern)
			}
		}
	}
	if strings.Contains(MachineryReason("wl_kmalloc_buf"), "kmalloc") {
		t.Errorf("a driver function containing kmalloc must not match the kmalloc row")
	}
}

func TestNormaliseFunction_StripsCloneSuffixesAndSyscallPrefixes(t *testing.T) {
	tests := map[string]string{
		"tasklet_action_common.constprop.0": "tasklet_action_common",
		"wl_rx_refill.part.3":               "wl_rx_refill",
		"__kmalloc_reserve.isra.40":         "__kmalloc_reserve",
		"foo.cold":                          "foo",
		"bar.llvm.1234567":                  "bar",
		"__x64_sys_bpf":                     "bpf",
		"__arm64_sys_sendto":                "sendto",
		"__se_sys_bpf":                      "bpf",
		"__do_sys_bpf":                      "bpf",
		"ksys_mount":                        "mount",
		"sget_userns":                       "sget_userns",
	}
	for in, want := range tests {
		if got := NormaliseFunction(in); got != want {
			t.Errorf("NormaliseFunction(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCulprit_SyscallBodyIsBlamedUnderItsWrapperName(t *testing.T) {
	frames := []Frame{{Function: "__kmalloc"}, {Function: "__do_sys_bpf"}, {Function: "__x64_sys_bpf"}, {Function: "do_syscall_64"}}
	c := Culprit(frames, nil)
	if c == nil || c.Function != "__do_sys_bpf" {
		t.Errorf("culprit %+v, want __do_sys_bpf", c)
	}
}

func TestCulprit_NoneWhenEveryFrameIsMachinery(t *testing.T) {
	frames := []Frame{{Function: "kmalloc"}, {Function: "kstrdup"}, {Function: "do_syscall_64"}}
	if c := Culprit(frames, nil); c != nil {
		t.Errorf("culprit %+v, want none", c)
	}
	if c := Culprit(nil, []string{"x"}); c != nil {
		t.Errorf("culprit of no frames %+v, want none", c)
	}
}

func TestCulprit_NamesTheCallerOfGenericInodeAndListLRUHelpers(t *testing.T) {
	tests := []struct {
		name   string
		frames []string
		want   string
	}{
		{"an inode allocated through a file system's alloc_inode blames new_inode",
			[]string{"kmem_cache_alloc_lru_noprof", "shmem_alloc_inode", "alloc_inode", "new_inode", "wlansim_debugfs_create"}, "new_inode"},
		{"the LSM blob of an inode is the inode's allocation",
			[]string{"__kmalloc_noprof", "security_inode_alloc", "inode_init_always", "alloc_inode", "iget_locked", "kernfs_get_inode"}, "inode_init_always"},
		{"list_lru set-up under its 6.x names blames the code that set the list up",
			[]string{"__kmalloc_node_noprof", "memcg_list_lru_alloc", "__list_lru_init", "wlansim_fill_super"}, "wlansim_fill_super"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := make([]Frame, len(tt.frames))
			for i, f := range tt.frames {
				frames[i] = Frame{Function: f}
			}
			if got := Culprit(frames, nil); got == nil || got.Function != tt.want {
				t.Errorf("culprit %+v, want %s", got, tt.want)
			}
		})
	}
}
