package kmemleak

import (
	"regexp"
	"strings"
)

// Culprit returns the frame to blame for an allocation: the first frame in
// own (module names or symbol prefixes, see OwnMatcher) when there is one,
// else the first frame that is neither allocator machinery nor a context
// boundary (see MachineryReason). It returns nil when every frame is
// machinery or unsymbolised. The result points into frames.
func Culprit(frames []Frame, own []string) *Frame {
	return culprit(frames, NewOwnMatcher(own), classifyUncached)
}

// MachineryReason says why a function is never blamed: the reason of the
// skip table row it matches (allocator machinery or a context boundary). It
// returns "" for a function that can be blamed.
func MachineryReason(function string) string {
	c := classifyUncached(function)
	return c.reason
}

// NormaliseFunction strips what differs between builds of the same code: the
// compiler's clone suffixes (.constprop.0, .isra.0, .part.0, .cold, .llvm.N)
// and the per-architecture syscall wrapper prefixes (__x64_sys_, __arm64_sys_,
// __ia32_sys_, __se_sys_, __do_sys_, ksys_).
func NormaliseFunction(function string) string {
	return stripSyscallPrefix(stripCloneSuffix(function))
}

// culprit is Culprit with a matcher and a (possibly memoised) classifier.
func culprit(frames []Frame, own OwnMatcher, classify func(string) frameClass) *Frame {
	if !own.Empty() {
		first := -1
		for i := range frames {
			if !own.Match(frames[i]) {
				continue
			}
			if first < 0 {
				first = i
			}
			if frames[i].Raw || classify(frames[i].Function).reason == "" {
				return &frames[i]
			}
		}
		if first >= 0 {
			// Every own frame is itself an allocator wrapper: blame the first anyway.
			return &frames[first]
		}
	}
	if i := firstBlamable(frames, classify); i >= 0 {
		return &frames[i]
	}
	return nil
}

// firstBlamable returns the index of the first frame past the allocator
// machinery that is not a context boundary, or -1. An inlined frame is never
// blamed: the frame it was inlined into is the one the target's own report
// names, so a symbolized report and the raw one blame the same function
// (syzbot's titles do the same: "memory leak in tcp_get_metrics", not in
// the tcpm_new inlined into it). A bare address is blamed
// only after a symbolised frame: with no symbols at all (no KALLSYMS) the
// first bare address is the allocator itself, but after kmalloc a bare address
// is code the kernel could not name — most often an unloaded or stripped
// module.
func firstBlamable(frames []Frame, classify func(string) frameClass) int {
	sawSymbol := false
	for i := range frames {
		f := &frames[i]
		if f.Raw {
			if sawSymbol {
				return i
			}
			continue
		}
		sawSymbol = true
		if !f.Inline && classify(f.Function).reason == "" {
			return i
		}
	}
	return -1
}

// OwnMatcher matches frames against the user's own modules and symbol
// prefixes. An entry matches a frame whose module is exactly the entry, or a
// function named the entry or starting with entry+"_"; an entry ending in "_"
// or "*" is a bare symbol prefix ("hostadpt_", "wl*").
type OwnMatcher struct {
	modules  []string
	prefixes []string
}

// NewOwnMatcher compiles a list of own modules and prefixes; blank entries are ignored.
func NewOwnMatcher(own []string) OwnMatcher {
	var m OwnMatcher
	for _, e := range own {
		e = strings.TrimSpace(e)
		switch {
		case e == "" || e == "*":
		case strings.HasSuffix(e, "*"):
			m.prefixes = append(m.prefixes, strings.TrimSuffix(e, "*"))
		case strings.HasSuffix(e, "_"):
			m.prefixes = append(m.prefixes, e)
		default:
			m.modules = append(m.modules, e)
		}
	}
	return m
}

// Empty reports whether no entry was given.
func (m OwnMatcher) Empty() bool { return len(m.modules) == 0 && len(m.prefixes) == 0 }

// Match reports whether f belongs to the user's own code.
func (m OwnMatcher) Match(f Frame) bool {
	if f.Raw {
		return false
	}
	for _, e := range m.modules {
		if f.Module == e || f.Function == e ||
			(len(f.Function) > len(e) && f.Function[len(e)] == '_' && strings.HasPrefix(f.Function, e)) {
			return true
		}
	}
	for _, p := range m.prefixes {
		if strings.HasPrefix(f.Function, p) {
			return true
		}
	}
	return false
}

// frameClass is what the tables say about one function name.
type frameClass struct {
	norm     string // NormaliseFunction's result
	reason   string // why it is never blamed; "" when it can be
	boundary bool   // it starts the interrupted or idle context that ends a signature
}

// skipRule is one row of the table: an anchored pattern on a function name,
// why matching frames are not blamed, and whether the frame is a context
// boundary (see below) rather than allocator machinery.
type skipRule struct {
	pattern  string
	why      string
	boundary bool
}

// skipTable is the one table of frames never blamed. Every pattern is
// anchored (^…$) and matched against the whole name, so a real function that
// merely contains an allocator's name (sget_userns contains get_user,
// htab_map_alloc contains alloc, debug_objects_mem_init contains mem_init) is
// still blamed: syzkaller's unanchored list moves those leaks to their
// callers (KERNEL-FACTS §1.7).
//
// Context boundaries come first and match the name with only its clone
// suffix stripped (the __x64_sys_ wrapper is entry code, the __do_sys_ body
// is not): interrupt and softirq entry, idle loops, syscall entry, thread
// start. What lies below them is whatever the CPU was interrupted in, which
// varies from object to object, so a signature stops at the first of them.
//
// Allocator machinery follows and matches the normalised name
// (NormaliseFunction). The principle: skip code that hands out anonymous
// memory — heap, slab, pages, vmalloc, per-CPU areas, socket buffers, copies
// of strings — and kmemleak's own hooks; keep constructors of named kernel
// objects (htab_map_alloc, sget_userns, alloc_netdev_mqs), which say what
// leaked. A socket buffer is anonymous memory whoever wraps its allocation,
// so any function whose name has alloc_skb / skb_alloc as a whole word part
// (__netdev_alloc_skb, a vendor's skbmgr_alloc_skb4k pool) is skipped and the
// code that asked for the buffer (hostadpt_rx_handler) is blamed.
var skipTable = []skipRule{
	// Context boundaries.
	{`_*do_softirq(_own_stack)?|handle_softirqs|run_ksoftirqd|_*irq_exit(_rcu)?|irq_exit_rcu`, "softirq entry", true},
	{`_*handle_domain_irq|generic_handle_(domain_)?irq\w*|handle_irq_desc|handle_(fasteoi|level|edge|percpu_devid)_irq|_*handle_irq_event\w*|handle_irq|gic_handle_irq|_*gic_handle_irq\w*|do_IRQ|handle_arch_irq`, "interrupt entry", true},
	{`el[01]_(irq|interrupt|svc|sync|da|ia)\w*|el[01][ht]_64_(irq|sync|error)\w*|call_on_irq_stack|do_interrupt_handler|__irq_svc|__irq_usr|common_interrupt|asm_common_interrupt|(asm_)?sysvec_\w+|ret_from_intr`, "interrupt entry", true},
	{`do_idle|cpu_startup_entry|arch_cpu_idle\w*|default_idle\w*|cpuidle_enter\w*|call_cpuidle|secondary_start_kernel|rest_init|start_kernel|x86_64_start_\w+|start_secondary|cpu_bringup_and_idle`, "idle or boot", true},
	{`do_syscall_64|do_syscall_x64|x64_sys_call|entry_SYSCALL_64\w*|do_fast_syscall_32|entry_INT80\w*|invoke_syscall|el0_svc_common\w*|do_el0_svc\w*|ret_fast_syscall|__sys_trace_return|_*(x64|arm64|ia32|riscv)_sys_\w+`, "syscall entry", true},
	{`kthread|ret_from_fork\w*|worker_thread|smpboot_thread_fn`, "thread start", true},
	// Allocator machinery.
	// kmalloc family, with the 6.10+ *_noprof names and track_caller/node variants.
	{`_*k(v?[mzc]alloc|v?realloc|v?realloc_array|malloc_array|calloc_node)(_\w*)?`, "kmalloc family", false},
	{`_*kmalloc_reserve`, "skb head kmalloc", false},
	{`_*kmem_cache_z?alloc(_\w*)?`, "slab cache allocation", false},
	{`_*(memcg_)?slab_(alloc|post_alloc_hook|pre_alloc_hook)(_\w*)?`, "slab internals", false},
	{`(new_slab|allocate_slab|alloc_slab_page|kmalloc_slab|_*cache_alloc(_refill|_node)?|fallback_alloc|alloc_slab_obj_exts)`, "slab internals", false},
	{`_*kmemleak_\w+|_*create_object(_\w*)?`, "kmemleak's own hooks", false},
	{`_*(kasan|kfence|kmsan)_\w+|should_failslab|_*alloc_tag_\w+|obj_cgroup_charge\w*`, "allocation hooks", false},
	// pages and page fragments.
	{`_*alloc_(frozen_)?pages?(_\w*)?|_*get_(free|zeroed)_pages?(_\w*)?`, "page allocator", false},
	{`_*(folio_alloc|filemap_alloc_folio|vma_alloc_folio)(_\w*)?|_*alloc_folio(_\w*)?`, "page allocator", false},
	{`_*page_frag_(alloc|cache_refill)(_\w*)?|_*(netdev|napi)_alloc_frag(_\w*)?`, "page fragment allocator", false},
	{`_*dma_alloc(_\w*)?|_*dma_direct_alloc(_\w*)?`, "DMA buffer allocator", false},
	// page_owner stacks (show_stacks) start inside the buddy allocator and pass
	// through the page-frag, page_pool and skb page helpers drivers fill RX
	// rings with (mm/page_alloc.c, net/core/page_pool.c, include/linux/skbuff.h of 6.12).
	{`post_alloc_hook|prep_new_page|prep_compound_page|get_page_from_freelist|_*rmqueue(_\w*)?|_*set_page_owner|save_stack|split_page|vm_area_alloc_pages`, "page allocator internals", false},
	{`_*page_pool_(\w+_)?alloc\w*|page_pool_refill_alloc_cache`, "page_pool allocator", false},
	{`_*dev_alloc_pages?(_\w*)?|sk(b)?_page_frag_refill`, "socket buffer page helper", false},
	// kmemleak's metadata allocator (mm/kmemleak.c), under every slab page a
	// kmemleak_object cache grows by in a page_owner stack.
	{`__alloc_object`, "kmemleak's own hooks", false},
	// vmalloc and per-CPU memory.
	{`_*vmalloc(_\w*)?|_*vzalloc(_\w*)?|_*vcalloc(_\w*)?|_*get_vm_area(_\w*)?|alloc_vmap_area|_*vmap(_\w*)?`, "vmalloc", false},
	{`_*pcpu_\w+|_*alloc_percpu(_\w*)?`, "per-CPU allocator", false},
	// socket buffers, including vendor wrappers (see above).
	{`(\w*_)?alloc_skb(_?\w*)?|(\w*_)?skb_alloc(_\w*)?|_*(napi_)?build_skb(_around)?`, "socket buffer allocator", false},
	{`(skb_clone|skb_copy|pskb_copy|__pskb_copy_fclone|skb_copy_expand|pskb_expand_head|skb_realloc_headroom|skb_unshare|skb_share_check)`, "socket buffer copy", false},
	{`sock_(kmalloc|kzalloc|wmalloc|rmalloc)|sock_alloc_send_p?skb`, "socket buffer allocator", false},
	// copies of strings and memory.
	{`_*(kstrdup|kstrndup|kstrdup_const|kstrdup_quotable\w*|kmemdup|kmemdup_nul|kvmemdup|kmemdup_array|memdup_user|memdup_user_nul|vmemdup_user|strndup_user|kasprintf|kvasprintf|kvasprintf_const|kasprintf_strarray)(_noprof)?`, "string or memory copy", false},
	{`devm_k(m|z|c|re)alloc\w*|devm_k(strdup|asprintf|vasprintf|memdup)\w*|_*devres_alloc(_\w*)?`, "managed allocation", false},
	{`kobject_\w+|dev_set_name`, "kobject infrastructure", false},
	// id and tree node allocators.
	{`_*idr_get\w*|_*idr_alloc(_\w*)?|_*ida_alloc(_\w*)?|_*ida_get\w*|_*radix_tree_node_alloc|_*radix_tree_(preload|maybe_preload)\w*`, "id allocator", false},
	{`_*xas_(alloc|nomem|create|expand)(_\w*)?|_*xa_(alloc|store|insert)(_\w*)?`, "xarray node allocator", false},
	{`_*memblock_(alloc|phys_alloc|virt_alloc)\w*`, "boot memory allocator", false},
	{`mempool_(alloc|alloc_slab|kmalloc|alloc_pages)(_\w*)?`, "mempool", false},
	{`list_lru_init\w*|_*list_lru_memcg_alloc\w*`, "list_lru allocator", false},
	{`bpf_map_(kmalloc|kzalloc|kvcalloc|area_alloc|alloc_percpu)\w*|_*bpf_map_area_alloc|bpf_mem_alloc\w*`, "bpf map memory", false},
	// Generic helpers syzkaller's leak titles look past (its skip list has
	// "alloc" and "list_lru_init" as substrings): the list_lru set-up under
	// its 6.x names, and the inode allocation every file system's inode
	// goes through (alloc_inode, a file system's ->alloc_inode such as
	// ext4_alloc_inode, the LSM blob). The caller (new_inode, a fill_super)
	// is blamed.
	{`_*list_lru_init\w*|_*memcg_list_lru_alloc\w*|_*list_lru_memcg_alloc\w*`, "list_lru allocator", false},
	{`(\w+_)?alloc_inode(_\w*)?|_*inode_alloc_security|security_inode_alloc`, "inode allocator", false},
	// Checked against syzbot's titles (testdata/kmemleak/syzbot): helpers
	// every caller of a kind goes through, so the caller says who leaked.
	// sk_alloc and its clone path serve every protocol; the protocol's
	// create or clone (inet_create, mptcp_sk_clone_init) is blamed.
	{`sk_prot_alloc|sk_alloc|sk_clone(_lock)?`, "socket allocator", false},
	// bpf_prog_alloc serves every program-creating path (bpf_prog_load,
	// a socket filter's __get_filter, seccomp); unlike a map type's
	// constructor (htab_map_alloc) it does not say which program.
	{`bpf_prog_alloc(_no_stats)?`, "bpf program allocator", false},
	// An skb extension is cache memory handed to skb_ext_add's caller.
	{`_*skb_ext_alloc`, "socket buffer allocator", false},
}

// compiledRule is a skipRule with its pattern compiled.
type compiledRule struct {
	re *regexp.Regexp
	skipRule
}

// compiledTable is built once at package init and never changed.
var compiledTable = compileTable(skipTable)

func compileTable(rules []skipRule) []compiledRule {
	out := make([]compiledRule, len(rules))
	for i, r := range rules {
		out[i] = compiledRule{regexp.MustCompile(`^(?:` + r.pattern + `)$`), r}
	}
	return out
}

// classifyUncached classifies one function name against the table.
func classifyUncached(function string) frameClass {
	base := stripCloneSuffix(function)
	norm := stripSyscallPrefix(base)
	c := frameClass{norm: norm}
	for _, r := range compiledTable {
		name := norm
		if r.boundary {
			name = base
		}
		if r.re.MatchString(name) {
			c.reason, c.boundary = r.why, r.boundary
			return c
		}
	}
	return c
}

// memoClassifier remembers classifications for one parse; bounded.
type memoClassifier struct {
	seen map[string]frameClass
}

func newMemoClassifier() *memoClassifier {
	return &memoClassifier{seen: make(map[string]frameClass, 256)}
}

func (m *memoClassifier) classify(function string) frameClass {
	if c, ok := m.seen[function]; ok {
		return c
	}
	c := classifyUncached(function)
	if len(m.seen) < maxInterned {
		m.seen[function] = c
	}
	return c
}

// stripCloneSuffix drops everything from the first '.', as GCC and Clang add
// .constprop.N, .isra.N, .part.N, .cold and .llvm.<hash> to clones.
func stripCloneSuffix(f string) string {
	if i := strings.IndexByte(f, '.'); i > 0 {
		return f[:i]
	}
	return f
}

// syscallPrefixes are stripped longest first.
var syscallPrefixes = []string{"__arm64_sys_", "__riscv_sys_", "__ia32_sys_", "__x64_sys_", "__se_sys_", "__do_sys_", "ksys_"}

func stripSyscallPrefix(f string) string {
	for _, p := range syscallPrefixes {
		if len(f) > len(p) && strings.HasPrefix(f, p) {
			return f[len(p):]
		}
	}
	return f
}
