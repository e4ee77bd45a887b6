package kmemleak

import (
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"
)

// millionObjects is the report size the reliability goal names: a kmemleak
// report of one million objects, parsed in bounded memory.
const millionObjects = 1_000_000

// maxHeapInUseBytes bounds the heap in use while a million-object report
// streams through Parse: generous for groups, far below one byte per object
// of the report (hundreds of MiB).
const maxHeapInUseBytes = 64 << 20

// TestParse_MillionObjectsAreGroupedInBoundedMemory streams a generated
// report of one million objects (hundreds of MiB, never held in memory)
// through Parse's groups-only path. Every object must be counted and grouped
// as the generator says, and the heap in use, sampled from inside the
// generator while the parse runs, must stay bounded by the groups, not grow
// with the objects.
func TestParse_MillionObjectsAreGroupedInBoundedMemory(t *testing.T) {
	gen := newMillionGenerator(millionObjects, 1)
	runtime.GC()

	rep, err := Parse(gen, Options{GroupsOnly: true})

	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	t.Logf("%d objects, %d MiB streamed, %d groups, peak heap in use %.1f MiB over %d samples",
		gen.objects, gen.streamedBytes>>20, len(rep.Groups), float64(gen.peakHeapInUse)/(1<<20), gen.heapSamples)
	if gen.streamedBytes < 4*maxHeapInUseBytes {
		t.Fatalf("the generator streamed only %d bytes: too little to tell bounded memory from a kept report", gen.streamedBytes)
	}
	if rep.ObjectCount != gen.objects || rep.Bytes != gen.totalBytes || len(rep.Objects) != 0 || rep.Truncated ||
		rep.TruncatedObjects != 0 || rep.Ungrouped != 0 || rep.Skipped != gen.noiseLines {
		t.Fatalf("report: %d objects, %d bytes, %d kept, truncated %v/%d, ungrouped %d, skipped %d; want %d objects, %d bytes, 0 kept, none truncated or ungrouped, %d skipped (the log noise)",
			rep.ObjectCount, rep.Bytes, len(rep.Objects), rep.Truncated, rep.TruncatedObjects, rep.Ungrouped, rep.Skipped,
			gen.objects, gen.totalBytes, gen.noiseLines)
	}
	gen.checkGroups(t, rep.Groups)
	if gen.peakHeapInUse > maxHeapInUseBytes {
		t.Errorf("heap in use reached %d MiB while %d MiB of report streamed: the parser's memory grows with the objects, not the groups",
			gen.peakHeapInUse>>20, gen.streamedBytes>>20)
	}
}

// BenchmarkParseMillionObjects streams the million-object report through the
// groups-only path (the sampler's) and reports the cost per object and the
// peak heap in use seen from inside the generator.
func BenchmarkParseMillionObjects(b *testing.B) {
	var peak uint64
	var streamed int64
	for b.Loop() {
		gen := newMillionGenerator(millionObjects, 1)
		rep, err := Parse(gen, Options{GroupsOnly: true})
		if err != nil || rep.ObjectCount != millionObjects {
			b.Fatalf("Parse: %d objects, %v", rep.ObjectCount, err)
		}
		peak = max(peak, gen.peakHeapInUse)
		streamed = gen.streamedBytes
	}
	b.SetBytes(streamed)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/millionObjects, "ns/object")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}

// BenchmarkGenerateMillionObjects is the generator alone, to subtract from
// BenchmarkParseMillionObjects: it writes the same report to io.Discard.
func BenchmarkGenerateMillionObjects(b *testing.B) {
	var streamed int64
	for b.Loop() {
		gen := newMillionGenerator(millionObjects, 1)
		n, err := io.Copy(io.Discard, gen)
		if err != nil || n != gen.streamedBytes {
			b.Fatalf("copy: %d bytes, %v", n, err)
		}
		streamed = n
	}
	b.SetBytes(streamed)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/millionObjects, "ns/object")
}

// millionGenerator writes a report object by object into one reused buffer,
// in every block format the parser reads: 4.19/5.4 ([<hashed address>]
// frames, age), 6.8+ (crc, bare frames), linux-next's percpu objects and a
// kmemleak.verbose kernel log with timestamps and unrelated log lines. It
// draws each object's backtrace from a few hundred sites with a skewed
// distribution, and records what a correct parse must find: the objects and
// bytes per site, the noise lines, and the peak heap in use while it runs.
type millionGenerator struct {
	n, objects int
	rng        *rand.Rand
	sites      []siteTemplate
	buf        []byte
	pending    []byte

	counts        []int   // objects per site
	bytes         []int64 // bytes per site
	totalBytes    int64
	noiseLines    int
	streamedBytes int64
	peakHeapInUse uint64
	heapSamples   int
}

// siteTemplate is one distinct backtrace: the frames as the kernel prints
// them without addresses, and the frame the parser must blame.
type siteTemplate struct {
	frames  []string
	culprit string
}

const (
	millionSites = 300
	// heapSampleEvery is how often, in objects, the generator reads the heap.
	heapSampleEvery = 10_000
)

func newMillionGenerator(n int, seed uint64) *millionGenerator {
	g := &millionGenerator{
		n:      n,
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		counts: make([]int, millionSites),
		bytes:  make([]int64, millionSites),
		buf:    make([]byte, 0, 4096),
	}
	allocators := [][]string{
		{"kmemleak_alloc+0x4b/0x80", "__kmalloc_cache_noprof+0x2f0/0x3e0"},
		{"kmem_cache_alloc_trace+0x145/0x2c0"},
		{"__kmalloc_track_caller+0x134/0x280", "__alloc_skb+0xac/0x250"},
		{"kmemleak_alloc+0x3c/0x50", "__kmalloc_node_track_caller_noprof+0x2f4/0x3d0", "kmalloc_reserve+0x84/0x140", "__alloc_skb+0xb0/0x1a4"},
		{"kmem_cache_alloc_noprof+0x1d3/0x330"},
	}
	tails := [][]string{
		{"do_syscall_64+0x72/0x190", "entry_SYSCALL_64_after_hwframe+0x76/0x7e"},
		{"tasklet_action_common.constprop.0+0x124/0x150", "__do_softirq+0x124/0x27c", "irq_exit+0x98/0xe0", "gic_handle_irq+0x8c/0x190"},
		{"process_one_work+0x1e2/0x3f0", "worker_thread+0x50/0x3a0", "kthread+0xf2/0x120", "ret_from_fork+0x34/0x50"},
		{},
	}
	for k := range millionSites {
		var s siteTemplate
		s.frames = append(s.frames, allocators[k%len(allocators)]...)
		site := "lgsite_" + strconv.Itoa(k) + "_alloc"
		switch {
		case k%10 == 9:
			// An unsymbolised frame after a named allocator: a stripped module, blamed as printed.
			site = "0xffffffffc0a" + strconv.FormatInt(int64(0x10000+k*0x40), 16)
			s.frames = append(s.frames, site)
		case k%4 == 0:
			s.frames = append(s.frames, site+"+0x3a/0x130")
		default:
			s.frames = append(s.frames, site+"+0x3a/0x130 [lgmod"+strconv.Itoa(k%5)+"]")
		}
		s.culprit = site
		for c := range 1 + k%5 {
			s.frames = append(s.frames, "lgpath_"+strconv.Itoa((k+c)%13)+".isra.0+0x"+strconv.FormatInt(int64(0x20+c*8), 16)+"/0x1b0 [lgmod"+strconv.Itoa(k%5)+"]")
		}
		s.frames = append(s.frames, tails[k%len(tails)]...)
		g.sites = append(g.sites, s)
	}
	return g
}

var (
	millionComms = []string{"wland", "hostapd", "kworker/u8:2", "softirq", "swapper/0", "ksoftirqd/1", "syz-executor.3", "modprobe"}
	millionSizes = []int64{8, 32, 64, 192, 256, 512, 1024, 2048, 4096, 8192}
)

func (g *millionGenerator) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		if g.objects == g.n {
			return 0, io.EOF
		}
		if g.objects%heapSampleEvery == 0 {
			g.sampleHeap()
		}
		g.pending = g.nextObject()
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	g.streamedBytes += int64(n)
	return n, nil
}

func (g *millionGenerator) sampleHeap() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	g.peakHeapInUse = max(g.peakHeapInUse, ms.HeapInuse)
	g.heapSamples++
}

// nextObject renders one object; the slice is valid until the next call.
// Appended by hand: fmt would allocate for its arguments.
func (g *millionGenerator) nextObject() []byte {
	// Skewed: a few sites leak most objects, as real reports do.
	u := g.rng.Float64()
	k := int(u * u * u * millionSites)
	site := &g.sites[k]
	size := millionSizes[g.rng.IntN(len(millionSizes))]
	g.counts[k]++
	g.bytes[k] += size
	g.totalBytes += size
	i := g.objects
	g.objects++

	format := g.rng.IntN(8) // 0–2: 4.19/5.4, 3–5: 6.8+, 6: percpu, 7: kernel log
	b := g.buf[:0]
	var logPrefix func([]byte, bool) []byte
	if format == 7 {
		ts := uint64(4021_000_000 + i*37)
		logPrefix = func(b []byte, kmemleakLine bool) []byte {
			b = append(b, '[')
			b = strconv.AppendUint(b, ts/1_000_000, 10)
			b = append(b, '.')
			b = appendPadded(b, ts%1_000_000, 6)
			b = append(b, "] "...)
			if kmemleakLine {
				b = append(b, "kmemleak: "...)
			}
			return b
		}
		// An unrelated log line before each block, as a kernel log has.
		b = logPrefix(b, false)
		b = append(b, "mt7916_ap: rx ring 2 refill\n"...)
		g.noiseLines++
	}
	line := func(b []byte) []byte {
		if logPrefix != nil {
			return logPrefix(b, true)
		}
		return b
	}

	b = line(b)
	b = append(b, "unreferenced object "...)
	if format == 6 {
		b = append(b, "(percpu) 0x607f"...)
	} else {
		b = append(b, "0xffff8881"...)
	}
	b = appendPadded(b, uint64(i)*64, 8)
	b = append(b, " (size "...)
	b = strconv.AppendInt(b, size, 10)
	b = append(b, "):\n"...)

	b = line(b)
	b = append(b, "  comm \""...)
	b = append(b, millionComms[g.rng.IntN(len(millionComms))]...)
	b = append(b, "\", pid "...)
	b = strconv.AppendInt(b, int64(g.rng.IntN(32768)), 10)
	b = append(b, ", jiffies "...)
	jiffies := 4294892380 + uint64(i)*3
	b = strconv.AppendUint(b, jiffies, 10)
	if format <= 2 || format == 7 {
		b = append(b, " (age "...)
		ageMillis := uint64(g.rng.IntN(86_400_000))
		b = strconv.AppendUint(b, ageMillis/1000, 10)
		b = append(b, '.')
		b = appendPadded(b, ageMillis%1000, 3)
		b = append(b, "s)"...)
	}
	b = append(b, '\n')

	switch {
	case format == 6:
		b = append(b, "  hex dump (first 8 bytes on cpu 0):\n    00 00 00 00 00 00 00 00                          ........\n"...)
	case g.rng.IntN(3) > 0:
		b = line(b)
		b = append(b, "  hex dump (first 32 bytes):\n"...)
		b = line(b)
		b = append(b, "    00 a0 9a 19 80 ff ff ff ff ff ff ff ff ff ff ff  ................\n"...)
		if size > 16 {
			b = line(b)
			b = append(b, "    ad 4e ad de ff ff ff ff 00 00 00 00 00 00 00 00  .N..............\n"...)
		}
	}

	b = line(b)
	if format <= 2 || format == 7 {
		b = append(b, "  backtrace:\n"...)
	} else {
		b = append(b, "  backtrace (crc "...)
		b = strconv.AppendUint(b, uint64(k)*0x9e3779b1&0xffffffff, 16)
		b = append(b, "):\n"...)
	}
	for f, frame := range site.frames {
		if logPrefix != nil {
			// stack_trace_print's lines carry the timestamp but no "kmemleak: ".
			b = logPrefix(b, false)
		}
		b = append(b, "    "...)
		if format <= 2 {
			b = append(b, "[<"...)
			b = appendPadded(b, (uint64(i)<<8|uint64(f))*0x2545f491&0xffffffffffff, 16)
			b = append(b, ">] "...)
		}
		b = append(b, frame...)
		b = append(b, '\n')
	}
	g.buf = b
	return b
}

// appendPadded appends v in decimal (width 6 or 3) or hex (width 8 or 16),
// zero-padded: decimal for the timestamp and age fractions, hex for addresses.
func appendPadded(b []byte, v uint64, width int) []byte {
	base := 16
	if width == 6 || width == 3 {
		base = 10
	}
	var tmp [20]byte
	s := strconv.AppendUint(tmp[:0], v, base)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}

// checkGroups asserts one group per site that leaked, blaming the site's
// culprit frame with exactly the objects and bytes the generator wrote.
func (g *millionGenerator) checkGroups(t *testing.T, groups []Group) {
	t.Helper()
	bySite := make(map[string]int, len(g.sites))
	for k, s := range g.sites {
		bySite[s.culprit] = k
	}
	leaking := 0
	for k := range g.sites {
		if g.counts[k] > 0 {
			leaking++
		}
	}
	if len(groups) != leaking {
		t.Errorf("%d groups, want one per leaking site: %d", len(groups), leaking)
	}
	seen := make(map[int]bool, len(groups))
	for _, gr := range groups {
		if gr.Culprit == nil {
			t.Errorf("group %q blames no frame", gr.Signature)
			continue
		}
		k, ok := bySite[gr.Culprit.Function]
		if !ok || seen[k] {
			t.Errorf("group %q blames %q: no site or a site split across groups", gr.Signature, gr.Culprit.Function)
			continue
		}
		seen[k] = true
		if gr.Count != g.counts[k] || gr.Bytes != g.bytes[k] {
			t.Errorf("site %d (%s): %d objects, %d bytes; the generator wrote %d objects, %d bytes",
				k, gr.Culprit.Function, gr.Count, gr.Bytes, g.counts[k], g.bytes[k])
		}
	}
}
