// SPDX-License-Identifier: GPL-2.0
/*
 * wlansim — a simulated wifi driver RX path for the leakgate reference target.
 *
 * Each write() to /dev/wlansim is one received frame. It walks the chain a
 * real driver walks on an RX interrupt:
 *
 *   wlansim_dev_write -> wlansim_rx_dma_done -> wlansim_rx_handler
 *                                             -> wlansim_alloc_rx_buf
 *
 * wlansim_alloc_rx_buf takes a descriptor from the module's own slab cache
 * (wlansim_rxbuf) and the payload from kmalloc; the handler delivers the frame
 * and parks the buffer in a 32-slot completion ring, freeing the buffer the
 * slot held before (so wlansim_rxbuf holds ~32 live objects under traffic and
 * stays flat). With leak=1, one frame in leak_every takes a buggy error
 * path that forgets both buffers: nothing references them any more, so
 * /proc/slabinfo shows wlansim_rxbuf growing and kmemleak reports them with a
 * backtrace through the chain above. The functions are noinline and do work
 * after their calls, so the frames are stable across builds.
 *
 * A benign pool (cache wlansim_pool) grows by one entry every pool_grow_every
 * frames until pool_cap, then stays flat; writing 1 to reset_pool frees it so
 * it grows again (an interface down/up). The pool is referenced from a global
 * list, so kmemleak never reports it.
 *
 * Page-level RX buffers (rx_pages=1, rx_frags=1) add what slab and kmemleak
 * cannot see, on the same traffic: each frame is also copied into an RX page
 * from alloc_pages (order rx_page_order) or into a page fragment from
 * netdev_alloc_frag — the way mt76 and ath11k fill RX rings. Both sit in
 * 32-slot rings that free what a slot held before, so memory stays flat.
 * With page_leak=1, one buffer in leak_every is moved to a pinned list that
 * never drains instead: still referenced (kmemleak would stay quiet even if
 * it tracked pages, which it does not), freed only at module unload. A pinned
 * fragment keeps its whole page-frag chunk (32 KiB) alive, as a leaked RX
 * fragment does on a real AP. No slab object is involved: the page list
 * links through page->lru and the fragment list through the fragments.
 *
 * All parameters are writable at runtime in /sys/module/wlansim/parameters.
 */
#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define WLANSIM_MAX_FRAME 2304	/* 802.11 MSDU maximum */
#define WLANSIM_RXBUF_MAGIC 0x574c414eU	/* "WLAN" */
#define WLANSIM_RING_SLOTS 32

static bool leak;
module_param(leak, bool, 0644);
MODULE_PARM_DESC(leak, "leak one RX buffer in leak_every frames (the bug)");

static unsigned int leak_every = 64;
module_param(leak_every, uint, 0644);
MODULE_PARM_DESC(leak_every, "with leak=1, leak one frame in this many (0 = never)");

static unsigned int pool_cap = 512;
module_param(pool_cap, uint, 0644);
MODULE_PARM_DESC(pool_cap, "benign pool: maximum number of entries");

static unsigned int pool_grow_every = 4;
module_param(pool_grow_every, uint, 0644);
MODULE_PARM_DESC(pool_grow_every, "benign pool: add one entry every this many frames");

static bool rx_pages;
module_param(rx_pages, bool, 0644);
MODULE_PARM_DESC(rx_pages, "also copy each frame into an RX page from alloc_pages (a 32-slot ring)");

static unsigned int rx_page_order;
module_param(rx_page_order, uint, 0644);
MODULE_PARM_DESC(rx_page_order, "order of the RX pages (0..3)");

static bool rx_frags;
module_param(rx_frags, bool, 0644);
MODULE_PARM_DESC(rx_frags, "also copy each frame into a page fragment from netdev_alloc_frag (a 32-slot ring)");

static bool page_leak;
module_param(page_leak, bool, 0644);
MODULE_PARM_DESC(page_leak, "pin one RX page or fragment in leak_every on a list that never drains (the page-level bug)");

static unsigned int pinned_pages;
module_param(pinned_pages, uint, 0444);
MODULE_PARM_DESC(pinned_pages, "RX pages pinned by page_leak (read-only)");

static unsigned int pinned_frags;
module_param(pinned_frags, uint, 0444);
MODULE_PARM_DESC(pinned_frags, "RX fragments pinned by page_leak (read-only)");

static unsigned int rx_frames;
module_param(rx_frames, uint, 0444);
MODULE_PARM_DESC(rx_frames, "frames received (read-only)");

static unsigned int leaked_frames;
module_param(leaked_frames, uint, 0444);
MODULE_PARM_DESC(leaked_frames, "frames whose buffers were leaked (read-only)");

static unsigned int pool_entries;
module_param(pool_entries, uint, 0444);
MODULE_PARM_DESC(pool_entries, "benign pool: current entries (read-only)");

/* Descriptor of one received frame: 512 bytes, like a DMA ring slot. */
struct wlansim_rxbuf {
	u32 magic;
	u32 seq;
	u32 len;
	u32 csum;
	u8 *data;
	u8 hdr[32];		/* copy of the 802.11 header */
	u8 rx_status[456];	/* rate, rssi, ... as firmware reports them */
};

struct wlansim_pool_entry {
	struct list_head node;
	u32 id;
	u8 scratch[236];
};

static struct kmem_cache *wlansim_rxbuf_cache;
static struct kmem_cache *wlansim_pool_cache;
static LIST_HEAD(wlansim_pool);
static DEFINE_MUTEX(wlansim_lock);	/* serialises RX and the pool */
static atomic_t wlansim_seq = ATOMIC_INIT(0);
static struct wlansim_rxbuf *wlansim_ring[WLANSIM_RING_SLOTS];	/* under wlansim_lock */

/* Page-level RX buffers, all under wlansim_lock. */
#define WLANSIM_FRAG_BYTES 2048
struct wlansim_page_slot {
	struct page *page;
	unsigned int order;
};
static struct wlansim_page_slot wlansim_page_ring[WLANSIM_RING_SLOTS];
static void *wlansim_frag_ring[WLANSIM_RING_SLOTS];
static LIST_HEAD(wlansim_pinned_pages);	/* linked through page->lru; order in page->private */
static void *wlansim_pinned_frags;	/* each fragment's first word points to the next */

static void wlansim_pool_free_all(void)
{
	struct wlansim_pool_entry *e, *tmp;

	list_for_each_entry_safe(e, tmp, &wlansim_pool, node) {
		list_del(&e->node);
		kmem_cache_free(wlansim_pool_cache, e);
	}
	WRITE_ONCE(pool_entries, 0);
}

static int wlansim_reset_pool_set(const char *val, const struct kernel_param *kp)
{
	bool v;
	int err = kstrtobool(val, &v);

	if (err)
		return err;
	if (v) {
		mutex_lock(&wlansim_lock);
		wlansim_pool_free_all();
		mutex_unlock(&wlansim_lock);
	}
	return 0;
}

static int wlansim_reset_pool_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "0\n");
}

static const struct kernel_param_ops wlansim_reset_pool_ops = {
	.set = wlansim_reset_pool_set,
	.get = wlansim_reset_pool_get,
};
module_param_cb(reset_pool, &wlansim_reset_pool_ops, NULL, 0644);
MODULE_PARM_DESC(reset_pool, "write 1 to free the benign pool (it grows again)");

/* Called with wlansim_lock held. */
static noinline void wlansim_pool_refill(u32 seq)
{
	struct wlansim_pool_entry *e;

	if (!pool_grow_every || seq % pool_grow_every)
		return;
	if (READ_ONCE(pool_entries) >= READ_ONCE(pool_cap))
		return;
	e = kmem_cache_zalloc(wlansim_pool_cache, GFP_KERNEL);
	if (!e)
		return;
	e->id = seq;
	list_add_tail(&e->node, &wlansim_pool);
	WRITE_ONCE(pool_entries, pool_entries + 1);
}

static noinline struct wlansim_rxbuf *wlansim_alloc_rx_buf(size_t len)
{
	struct wlansim_rxbuf *rb;

	rb = kmem_cache_zalloc(wlansim_rxbuf_cache, GFP_KERNEL);
	if (!rb)
		return NULL;
	rb->data = kmalloc(len, GFP_KERNEL);
	if (!rb->data) {
		kmem_cache_free(wlansim_rxbuf_cache, rb);
		return NULL;
	}
	rb->magic = WLANSIM_RXBUF_MAGIC;
	rb->len = len;
	return rb;
}

static noinline void wlansim_free_rx_buf(struct wlansim_rxbuf *rb)
{
	kfree(rb->data);
	kmem_cache_free(wlansim_rxbuf_cache, rb);
}

/* Parks a delivered buffer in the completion ring, recycling the slot. */
static noinline void wlansim_complete_rx_buf(struct wlansim_rxbuf *rb)
{
	struct wlansim_rxbuf **slot = &wlansim_ring[rb->seq % WLANSIM_RING_SLOTS];

	if (*slot)
		wlansim_free_rx_buf(*slot);
	*slot = rb;
}

static void wlansim_ring_free_all(void)
{
	int i;

	for (i = 0; i < WLANSIM_RING_SLOTS; i++) {
		if (wlansim_ring[i])
			wlansim_free_rx_buf(wlansim_ring[i]);
		wlansim_ring[i] = NULL;
	}
}

static bool wlansim_page_leaks(u32 seq)
{
	unsigned int every = READ_ONCE(leak_every);

	return READ_ONCE(page_leak) && every && seq % every == 0;
}

/*
 * Copies the frame into a fresh RX page, as a driver refilling its RX ring
 * does, and parks it in the page ring (freeing the slot's previous page) —
 * or, with page_leak, pins it on a list nothing ever drains.
 */
static noinline int wlansim_rx_fill_page(u32 seq, const u8 *frame, size_t len)
{
	unsigned int order = min_t(unsigned int, READ_ONCE(rx_page_order), 3);
	struct wlansim_page_slot *slot;
	struct page *page;

	page = alloc_pages(GFP_KERNEL, order);
	if (!page)
		return -ENOMEM;
	memcpy(page_address(page), frame, min_t(size_t, len, PAGE_SIZE << order));
	if (wlansim_page_leaks(seq)) {
		/* The bug: a reorder-buffer timeout path that keeps the page. */
		set_page_private(page, order);
		list_add_tail(&page->lru, &wlansim_pinned_pages);
		WRITE_ONCE(pinned_pages, pinned_pages + 1);
		return 0;
	}
	slot = &wlansim_page_ring[seq % WLANSIM_RING_SLOTS];
	if (slot->page)
		__free_pages(slot->page, slot->order);
	slot->page = page;
	slot->order = order;
	return 1;
}

/* The same with a page fragment, as mt76 and ath11k fill RX rings. */
static noinline int wlansim_rx_fill_frag(u32 seq, const u8 *frame, size_t len)
{
	void **slot;
	void *frag;

	frag = netdev_alloc_frag(WLANSIM_FRAG_BYTES);
	if (!frag)
		return -ENOMEM;
	memcpy(frag, frame, min_t(size_t, len, WLANSIM_FRAG_BYTES));
	if (wlansim_page_leaks(seq)) {
		*(void **)frag = wlansim_pinned_frags;
		wlansim_pinned_frags = frag;
		WRITE_ONCE(pinned_frags, pinned_frags + 1);
		return 0;
	}
	slot = &wlansim_frag_ring[seq % WLANSIM_RING_SLOTS];
	if (*slot)
		skb_free_frag(*slot);
	*slot = frag;
	return 1;
}

static void wlansim_page_rings_free_all(void)
{
	struct page *page, *tmp;
	int i;

	for (i = 0; i < WLANSIM_RING_SLOTS; i++) {
		if (wlansim_page_ring[i].page)
			__free_pages(wlansim_page_ring[i].page, wlansim_page_ring[i].order);
		wlansim_page_ring[i].page = NULL;
		if (wlansim_frag_ring[i])
			skb_free_frag(wlansim_frag_ring[i]);
		wlansim_frag_ring[i] = NULL;
	}
	list_for_each_entry_safe(page, tmp, &wlansim_pinned_pages, lru) {
		list_del(&page->lru);
		__free_pages(page, page_private(page));
	}
	while (wlansim_pinned_frags) {
		void *next = *(void **)wlansim_pinned_frags;

		skb_free_frag(wlansim_pinned_frags);
		wlansim_pinned_frags = next;
	}
	WRITE_ONCE(pinned_pages, 0);
	WRITE_ONCE(pinned_frags, 0);
}

/* Returns 1 when the frame was delivered, 0 when dropped. */
static noinline int wlansim_rx_handler(const u8 *frame, size_t len)
{
	struct wlansim_rxbuf *rb;
	u32 seq = (u32)atomic_inc_return(&wlansim_seq);
	unsigned int every;
	size_t i;

	if (READ_ONCE(rx_pages) && wlansim_rx_fill_page(seq, frame, len) < 0)
		return -ENOMEM;
	if (READ_ONCE(rx_frags) && wlansim_rx_fill_frag(seq, frame, len) < 0)
		return -ENOMEM;
	rb = wlansim_alloc_rx_buf(len);
	if (!rb)
		return -ENOMEM;
	rb->seq = seq;
	memcpy(rb->data, frame, len);
	memcpy(rb->hdr, frame, min_t(size_t, len, sizeof(rb->hdr)));
	for (i = 0; i < len; i++)
		rb->csum = rb->csum * 31 + rb->data[i];

	every = READ_ONCE(leak_every);
	if (READ_ONCE(leak) && every && seq % every == 0) {
		/*
		 * The bug: a "decryption failed" error path that counts the
		 * drop and returns without freeing the buffer.
		 */
		WRITE_ONCE(leaked_frames, leaked_frames + 1);
		return 0;
	}

	wlansim_pool_refill(seq);
	wlansim_complete_rx_buf(rb);
	return 1;
}

static noinline int wlansim_rx_dma_done(const u8 *frame, size_t len)
{
	int ret;

	mutex_lock(&wlansim_lock);
	ret = wlansim_rx_handler(frame, len);
	if (ret >= 0)
		WRITE_ONCE(rx_frames, rx_frames + 1);
	mutex_unlock(&wlansim_lock);
	return ret;
}

static ssize_t wlansim_dev_write(struct file *file, const char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	u8 *frame;
	int ret;

	if (count == 0 || count > WLANSIM_MAX_FRAME)
		return -EMSGSIZE;
	frame = memdup_user(ubuf, count);
	if (IS_ERR(frame))
		return PTR_ERR(frame);
	ret = wlansim_rx_dma_done(frame, count);
	kfree(frame);
	if (ret < 0)
		return ret;
	return count;
}

static const struct file_operations wlansim_fops = {
	.owner = THIS_MODULE,
	.write = wlansim_dev_write,
	.llseek = noop_llseek,
};

static struct miscdevice wlansim_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "wlansim",
	.fops = &wlansim_fops,
	.mode = 0600,
};

static int __init wlansim_init(void)
{
	int err;

	wlansim_rxbuf_cache = kmem_cache_create("wlansim_rxbuf",
						sizeof(struct wlansim_rxbuf), 0,
						SLAB_NO_MERGE, NULL);
	if (!wlansim_rxbuf_cache)
		return -ENOMEM;
	wlansim_pool_cache = kmem_cache_create("wlansim_pool",
					       sizeof(struct wlansim_pool_entry), 0,
					       SLAB_NO_MERGE, NULL);
	if (!wlansim_pool_cache) {
		err = -ENOMEM;
		goto err_rxbuf;
	}
	err = misc_register(&wlansim_misc);
	if (err)
		goto err_pool;
	pr_info("wlansim: ready (leak=%d leak_every=%u pool_cap=%u rx_pages=%d rx_frags=%d page_leak=%d)\n",
		leak, leak_every, pool_cap, rx_pages, rx_frags, page_leak);
	return 0;

err_pool:
	kmem_cache_destroy(wlansim_pool_cache);
err_rxbuf:
	kmem_cache_destroy(wlansim_rxbuf_cache);
	return err;
}

static void __exit wlansim_exit(void)
{
	misc_deregister(&wlansim_misc);
	mutex_lock(&wlansim_lock);
	wlansim_pool_free_all();
	wlansim_ring_free_all();
	wlansim_page_rings_free_all();
	mutex_unlock(&wlansim_lock);
	kmem_cache_destroy(wlansim_pool_cache);
	/* Leaked buffers make this complain: that is the point of the bug. */
	kmem_cache_destroy(wlansim_rxbuf_cache);
}

module_init(wlansim_init);
module_exit(wlansim_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Simulated wifi RX path with an optional leak, for leakgate");
