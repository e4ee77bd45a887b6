package allocinfo

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/leakgate/leakgate/internal/benchfloor"
)

// syntheticAllocinfo builds an allocinfo of n sites of realistic shape (the
// rig's 6.12 tinyconfig kernel prints 1,057; a full kernel many times more).
func syntheticAllocinfo(n int) []byte {
	var b bytes.Buffer
	b.WriteString("allocinfo - version: 1.0\n#     <size>  <calls> <tag info>\n")
	for i := 0; i < n; i++ {
		if i%7 == 0 {
			fmt.Fprintf(&b, "%12d %8d drivers/net/wireless/vendor/chip/rx_%d.c:%d [chipdrv] func:chip_rx_fill_%d \n", i*4096, i, i%50, i%3000, i)
			continue
		}
		fmt.Fprintf(&b, "%12d %8d fs/kernfs/dir_%d.c:%d func:__kernfs_new_node_%d \n", i*64, i%1000, i%50, i%3000, i)
	}
	return b.Bytes()
}

// BenchmarkParse parses 4,000 sites, four times the rig's file.
func BenchmarkParse(b *testing.B) {
	in := syntheticAllocinfo(4000)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		info, err := Parse(in)
		if err != nil || len(info.Sites) != 4000 {
			b.Fatalf("%d sites, %v", len(info.Sites), err)
		}
	}
}

// BenchmarkVsFloor compares Parse with a bare bufio line scan of the same
// bytes, alternately in one loop (see internal/benchfloor).
func BenchmarkVsFloor(b *testing.B) {
	in := syntheticAllocinfo(4000)
	benchfloor.VsFloor(b, len(in), func() { _, _ = Parse(in) }, func() { benchfloor.LineScan(in) })
}

// BenchmarkMerge folds 4,000 sites by key.
func BenchmarkMerge(b *testing.B) {
	info, err := Parse(syntheticAllocinfo(4000))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(Merge(info.Sites)) != 4000 {
			b.Fatal("merge")
		}
	}
}

// BenchmarkVsFloorRig is VsFloor on the rig's real 6.12 allocinfo (1,057 sites).
func BenchmarkVsFloorRig(b *testing.B) {
	in, err := os.ReadFile(fixtureDir + "/allocinfo-6.12.117-qemu-rig.txt")
	if err != nil {
		b.Fatal(err)
	}
	benchfloor.VsFloor(b, len(in), func() { _, _ = Parse(in) }, func() { benchfloor.LineScan(in) })
}
