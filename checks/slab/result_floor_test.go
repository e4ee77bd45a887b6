package slab

import (
	"bytes"
	"testing"

	"github.com/leakgate/leakgate/internal/benchfloor"
)

var sinkSites []AllocSite

// BenchmarkResultOnlyAllocCalls is what any parser of the alloc_calls bench
// input pays before reading a byte: allocating its 800 sites and setting
// their fields (strings shared), against the same line-scan floor. It bounds
// how close to the floor ParseAllocCalls can get without changing AllocSite.
func BenchmarkResultOnlyAllocCalls(b *testing.B) {
	in := benchInput(b, "alloc_calls-4.19.txt", 200)
	n := bytes.Count(in, []byte("\n"))
	text := string(in[:100])
	benchfloor.VsFloor(b, len(in), func() {
		s := make([]AllocSite, 0, n)
		for i := range n {
			s = append(s, AllocSite{Count: int64(i), Caller: text[:10], CallerOffset: text[10:20], CPUs: text[30:35], AgeMinJiffies: 5, PIDMax: 4})
		}
		sinkSites = s
	}, func() { benchfloor.LineScan(in) })
}
