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
 * All parameters are writable at runtime in /sys/module/wlansim/parameters.
 */
#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
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

/* Returns 1 when the frame was delivered, 0 when dropped. */
static noinline int wlansim_rx_handler(const u8 *frame, size_t len)
{
	struct wlansim_rxbuf *rb;
	u32 seq = (u32)atomic_inc_return(&wlansim_seq);
	unsigned int every;
	size_t i;

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
	pr_info("wlansim: ready (leak=%d leak_every=%u pool_cap=%u)\n",
		leak, leak_every, pool_cap);
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
	mutex_unlock(&wlansim_lock);
	kmem_cache_destroy(wlansim_pool_cache);
	/* Leaked buffers make this complain: that is the point of the bug. */
	kmem_cache_destroy(wlansim_rxbuf_cache);
}

module_init(wlansim_init);
module_exit(wlansim_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Simulated wifi RX path with an optional leak, for leakgate");
