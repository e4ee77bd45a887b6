package kmemleak

import (
	"io"
	"runtime"
	"strconv"
	"testing"
)

// reportGenerator streams a synthetic report of n objects from sites
// distinct allocation sites without holding it in memory.
type reportGenerator struct {
	n, sites, i int
	buf         []byte
	pending     []byte
}

func (g *reportGenerator) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		if g.i == g.n {
			return 0, io.EOF
		}
		// Appended by hand: fmt would allocate for its arguments.
		b := append(g.buf[:0], "unreferenced object 0xffff8881"...)
		b = strconv.AppendUint(b, uint64(0x10000000+g.i*64), 16)
		b = append(b, " (size "...)
		b = strconv.AppendInt(b, int64(64+g.i%4*64), 10)
		b = append(b, "):\n  comm \"wland\", pid "...)
		b = strconv.AppendInt(b, int64(800+g.i%50), 10)
		b = append(b, ", jiffies "...)
		b = strconv.AppendInt(b, int64(4294901337+g.i), 10)
		b = append(b, "\n  hex dump (first 32 bytes):\n    00 00 00 00 00 00 00 00 40 ec b6 04 81 88 ff ff  ........@.......\n  backtrace (crc "...)
		b = strconv.AppendUint(b, uint64(g.i), 16)
		b = append(b, "):\n    kmemleak_alloc+0x4b/0x80\n    __kmalloc_cache_noprof+0x2f0/0x3e0\n    wl_site_"...)
		b = strconv.AppendInt(b, int64(g.i%g.sites), 10)
		b = append(b, "+0x3a/0x130 [wlmod]\n    wl_cfg80211_add_station+0x84/0x1b0 [wlmod]\n    nl80211_new_station+0x5f1/0x7a0 [cfg80211]\n    genl_family_rcv_msg_doit+0xe8/0x140\n    do_syscall_64+0x72/0x190\n"...)
		g.buf = b
		g.pending = g.buf
		g.i++
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	return n, nil
}

func allocatedBytes(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestParse_GroupsOnlyMemoryDoesNotGrowWithTheReport: 200,000 objects
// (≈ 110 MB of report) allocate about what 2,000 do.
func TestParse_GroupsOnlyMemoryDoesNotGrowWithTheReport(t *testing.T) {
	run := func(n int) (uint64, *Report) {
		var rep *Report
		b := allocatedBytes(func() {
			var err error
			rep, err = Parse(&reportGenerator{n: n, sites: 20}, Options{GroupsOnly: true})
			if err != nil {
				t.Fatal(err)
			}
		})
		return b, rep
	}
	small, _ := run(2_000)
	large, rep := run(200_000)
	if rep.ObjectCount != 200_000 || len(rep.Groups) != 20 || rep.Groups[0].Count != 10_000 {
		t.Fatalf("count %d, %d groups, first %d", rep.ObjectCount, len(rep.Groups), rep.Groups[0].Count)
	}
	const slack = 1 << 20
	if large > small+slack {
		t.Errorf("100× the objects allocated %d bytes, against %d for the small report: memory grows with the report", large, small)
	}
}

// TestParse_KeptObjectsStopAtTheCap: past MaxObjects the report costs no
// more than the cap's worth.
func TestParse_KeptObjectsStopAtTheCap(t *testing.T) {
	run := func(n int) uint64 {
		return allocatedBytes(func() {
			rep, err := Parse(&reportGenerator{n: n, sites: 20}, Options{MaxObjects: 1000})
			if err != nil || len(rep.Objects) != 1000 || rep.ObjectCount != n {
				t.Fatalf("kept %d of %d: %v", len(rep.Objects), rep.ObjectCount, err)
			}
		})
	}
	atCap := run(1000)
	far := run(100_000)
	if far > atCap+(2<<20) {
		t.Errorf("100,000 objects with a cap of 1,000 allocated %d bytes, against %d at the cap", far, atCap)
	}
}
