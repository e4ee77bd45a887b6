package pageowner

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/leakgate/leakgate/internal/benchfloor"
)

// syntheticShowStacks builds n stacks of 12 frames each (the rig prints
// ≈ 620 without count_threshold, 12 at 64).
func syntheticShowStacks(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		b.WriteString(" post_alloc_hook+0x1b0/0x1c0\n get_page_from_freelist+0x58e/0x1090\n __alloc_pages_noprof+0x14e/0x2f0\n alloc_pages_mpol_noprof+0x76/0x1d0\n")
		if i%5 == 0 {
			fmt.Fprintf(&b, " drv_rx_fill_%d+0x21/0x80 [drv]\n drv_rx_poll+0x95/0x1c0 [drv]\n", i)
		} else {
			fmt.Fprintf(&b, " filemap_fault_%d+0x21/0x80\n handle_mm_fault+0x95/0x1c0\n", i)
		}
		b.WriteString(" __napi_poll+0x2b/0x160\n net_rx_action+0x2e6/0x370\n handle_softirqs+0xd6/0x2a0\n irq_exit_rcu+0x6b/0x90\n common_interrupt+0x80/0xa0\n asm_common_interrupt+0x26/0x40\n")
		fmt.Fprintf(&b, "nr_base_pages: %d\n\n", i+1)
	}
	return b.Bytes()
}

// BenchmarkParse parses 1,000 stacks (show_stacks with count_threshold 0).
func BenchmarkParse(b *testing.B) {
	in := syntheticShowStacks(1000)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Parse(in, []string{"drv"})
		if err != nil || len(rep.Stacks) != 1000 {
			b.Fatalf("%v", err)
		}
	}
}

// BenchmarkVsFloor compares Parse with a bare bufio line scan of the same
// bytes, alternately in one loop (see internal/benchfloor).
func BenchmarkVsFloor(b *testing.B) {
	in := syntheticShowStacks(1000)
	benchfloor.VsFloor(b, len(in), func() { _, _ = Parse(in, []string{"drv"}) }, func() { benchfloor.LineScan(in) })
}

// BenchmarkVsFloorRig is VsFloor on the rig's real show_stacks (count_threshold 16, 51 stacks).
func BenchmarkVsFloorRig(b *testing.B) {
	in, err := os.ReadFile(fixtureDir + "/show_stacks-6.12.117-qemu-rig.txt")
	if err != nil {
		b.Fatal(err)
	}
	benchfloor.VsFloor(b, len(in), func() { _, _ = Parse(in, []string{"wlansim"}) }, func() { benchfloor.LineScan(in) })
}

// BenchmarkParserReuseRig parses the rig's show_stacks with one Parser, as
// a soak does sample after sample.
func BenchmarkParserReuseRig(b *testing.B) {
	in, err := os.ReadFile(fixtureDir + "/show_stacks-6.12.117-qemu-rig.txt")
	if err != nil {
		b.Fatal(err)
	}
	p := NewParser([]string{"wlansim"})
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if rep, err := p.Parse(in); err != nil || len(rep.Stacks) != 51 {
			b.Fatalf("%v", err)
		}
	}
}
