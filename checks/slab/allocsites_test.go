package slab

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/leakgate/leakgate/internal/benchfloor"
)

func TestParseAllocCalls_Fixtures(t *testing.T) {
	tests := []struct {
		name          string
		file          string
		wantSites     int
		wantNoData    bool
		wantTruncated bool
		wantFirst     AllocSite
		wantIndex     int
		wantSite      AllocSite
	}{
		{
			name:      "4.19 lines give count, caller, module, age and pid ranges",
			file:      "alloc_calls-4.19.txt",
			wantSites: 4,
			wantFirst: AllocSite{Count: 18000, Caller: "alloc_fair_sched_group", CallerOffset: "+0xec/0x1e0", AgeMinJiffies: 2579, AgeAvgJiffies: 19587, AgeMaxJiffies: 286617, PIDMin: 1, PIDMax: 8462, CPUs: "0-1,5,9", Nodes: "1"},
			wantIndex: 1,
			wantSite:  AllocSite{Count: 2048, Caller: "hostadpt_rx_handler", CallerOffset: "+0x678/0x7e0", CallerModule: "hostadpt", AgeMinJiffies: 120, AgeAvgJiffies: 40211, AgeMaxJiffies: 90042, PIDMin: 0, PIDMax: 0, CPUs: "0-3"},
		},
		{
			name:       "No data means no live tracked objects",
			file:       "alloc_calls-4.19-no-data.txt",
			wantNoData: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseAllocCalls(readFixture(t, tt.file))
			if err != nil {
				t.Fatalf("ParseAllocCalls: %v", err)
			}
			if len(r.Sites) != tt.wantSites || r.NoData != tt.wantNoData || r.Truncated != tt.wantTruncated {
				t.Fatalf("got %d sites nodata=%v truncated=%v", len(r.Sites), r.NoData, r.Truncated)
			}
			if tt.wantSites > 0 {
				if !reflect.DeepEqual(r.Sites[0], tt.wantFirst) {
					t.Errorf("first = %+v\nwant    %+v", r.Sites[0], tt.wantFirst)
				}
				if !reflect.DeepEqual(r.Sites[tt.wantIndex], tt.wantSite) {
					t.Errorf("site %d = %+v\nwant    %+v", tt.wantIndex, r.Sites[tt.wantIndex], tt.wantSite)
				}
			}
		})
	}
}

func TestParseAllocCalls_SingleAgeAndNotAvailableCaller(t *testing.T) {
	r, err := ParseAllocCalls(readFixture(t, "alloc_calls-4.19.txt"))
	if err != nil {
		t.Fatal(err)
	}
	single, na := r.Sites[2], r.Sites[3]
	if single.AgeMinJiffies != 4402 || single.AgeMaxJiffies != 4402 || single.PIDMin != 612 || single.PIDMax != 613 {
		t.Errorf("single-age site = %+v", single)
	}
	if na.Caller != "<not-available>" || na.CallerOffset != "" {
		t.Errorf("not-available site = %+v", na)
	}
}

func TestParseAllocCalls_MarksAFullPageAsTruncated(t *testing.T) {
	line := []byte("   1000 some_driver_alloc+0x10/0x40 [drv] age=10/20/30 pid=1-100 cpus=0-3\n")
	in := bytes.Repeat(line, allocCallsPageCutBytes/len(line)+1)
	r, err := ParseAllocCalls(in)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || len(r.Sites) != bytes.Count(in, []byte("\n")) {
		t.Fatalf("truncated=%v sites=%d", r.Truncated, len(r.Sites))
	}
	short, _ := ParseAllocCalls(line)
	if short.Truncated {
		t.Errorf("a one-line file is marked truncated")
	}
}

func TestParseAllocCalls_KeepsGoodLinesAroundABadOne(t *testing.T) {
	in := []byte("     5 a+0x1/0x2 age=1 pid=1\n    xx b+0x1/0x2 age=1 pid=1\n     7 c+0x1/0x2 age=oops pid=1\n     9 d+0x1/0x2 age=3 pid=2\n")
	r, err := ParseAllocCalls(in)
	var rowErrs *RowErrors
	if !errors.As(err, &rowErrs) || len(rowErrs.Lines) != 2 {
		t.Fatalf("err = %v, want 2 bad rows", err)
	}
	if len(r.Sites) != 2 || r.Sites[0].Caller != "a" || r.Sites[1].Caller != "d" {
		t.Fatalf("sites = %+v", r.Sites)
	}
}

func TestParseAllocTraces_Fixtures(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		wantSites int
		wantIndex int
		wantSite  AllocSite
	}{
		{
			name:      "5.15 entries carry their full stacks",
			file:      "alloc_traces-5.15.txt",
			wantSites: 2,
			wantIndex: 1,
			wantSite: AllocSite{Count: 12, Caller: "wl_add_sta", CallerOffset: "+0x36/0x120", CallerModule: "wlmod", AgeMinJiffies: 1532, AgeAvgJiffies: 61201, AgeMaxJiffies: 120944, PIDMin: 812, PIDMax: 812, CPUs: "1",
				Stack: []string{"kmem_cache_alloc_trace+0x1e8/0x330", "wl_add_sta+0x36/0x120 [wlmod]", "wl_assoc_handler+0x90/0x2a0 [wlmod]", "genl_rcv_msg+0x1b0/0x2e0"}},
		},
		{
			name:      "6.1 entries carry kmalloc waste",
			file:      "alloc_traces-6.1-waste.txt",
			wantSites: 3,
			wantIndex: 1,
			wantSite: AllocSite{Count: 41, Caller: "skbmgr_alloc_skb4k", CallerOffset: "+0x54/0x1b0", CallerModule: "hostadpt", WasteBytes: 55104, WastePerObjectBytes: 1344, AgeMinJiffies: 120, AgeAvgJiffies: 3001, AgeMaxJiffies: 6020, PIDMin: 0, PIDMax: 1411, CPUs: "0-3",
				Stack: []string{"__kmalloc_node_track_caller+0x5c/0x140", "__alloc_skb+0xac/0x250", "skbmgr_alloc_skb4k+0x54/0x1b0 [hostadpt]", "hostadpt_rx_handler+0x678/0x7e0 [hostadpt]", "pci_rx_dma_done_handle+0x1b8/0x590 [mt7916_ap]"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseAllocTraces(readFixture(t, tt.file))
			if err != nil {
				t.Fatalf("ParseAllocTraces: %v", err)
			}
			if len(r.Sites) != tt.wantSites || r.Truncated {
				t.Fatalf("got %d sites truncated=%v, want %d", len(r.Sites), r.Truncated, tt.wantSites)
			}
			if !reflect.DeepEqual(r.Sites[tt.wantIndex], tt.wantSite) {
				t.Errorf("site = %+v\nwant   %+v", r.Sites[tt.wantIndex], tt.wantSite)
			}
		})
	}
}

func TestParseAllocTraces_EntryWithoutStackAndCutLastLine(t *testing.T) {
	in := readFixture(t, "alloc_traces-6.1-waste.txt")
	r, err := ParseAllocTraces(in)
	if err != nil {
		t.Fatal(err)
	}
	last := r.Sites[2]
	if last.Caller != "inet_frag_find" || len(last.Stack) != 0 || last.AgeMaxJiffies != 88 {
		t.Errorf("stackless entry = %+v", last)
	}
	cut, err := ParseAllocTraces(in[:len(in)-30])
	if err != nil {
		t.Fatal(err)
	}
	if !cut.Truncated {
		t.Errorf("a file cut mid-line is not marked truncated")
	}
}

func TestParseAllocTraces_RejectsAStackLineOutsideAnEntry(t *testing.T) {
	_, err := ParseAllocTraces([]byte("        orphan_frame+0x1/0x2\n"))
	var rowErrs *RowErrors
	if !errors.As(err, &rowErrs) {
		t.Fatalf("err = %v, want RowErrors", err)
	}
}

func FuzzParseAllocCalls(f *testing.F) {
	f.Add(readFixture(f, "alloc_calls-4.19.txt"))
	f.Add(readFixture(f, "alloc_calls-4.19-no-data.txt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _ := ParseAllocCalls(b)
		if len(r.Sites) > bytes.Count(b, []byte("\n"))+1 {
			t.Fatalf("%d sites from %d lines", len(r.Sites), bytes.Count(b, []byte("\n"))+1)
		}
	})
}

func FuzzParseAllocTraces(f *testing.F) {
	f.Add(readFixture(f, "alloc_traces-5.15.txt"))
	f.Add(readFixture(f, "alloc_traces-6.1-waste.txt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _ := ParseAllocTraces(b)
		for _, s := range r.Sites {
			if len(s.Stack) > maxStackLines {
				t.Fatalf("stack of %d lines", len(s.Stack))
			}
		}
	})
}

func benchInput(b *testing.B, file string, copies int) []byte {
	return bytes.Repeat(readFixture(b, file), copies)
}

func BenchmarkParseAllocTraces(b *testing.B) {
	in := benchInput(b, "alloc_traces-6.1-waste.txt", 200)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseAllocTraces(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanFloorAllocTraces(b *testing.B) {
	in := benchInput(b, "alloc_traces-6.1-waste.txt", 200)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		benchfloor.LineScan(in)
	}
}

func BenchmarkParseAllocCalls(b *testing.B) {
	in := benchInput(b, "alloc_calls-4.19.txt", 200)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseAllocCalls(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanFloorAllocCalls(b *testing.B) {
	in := benchInput(b, "alloc_calls-4.19.txt", 200)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		benchfloor.LineScan(in)
	}
}

// BenchmarkVsFloor compares each parser with a bufio line scan of the same bytes, interleaved.
func BenchmarkVsFloor(b *testing.B) {
	cases := []struct {
		name  string
		in    []byte
		parse func([]byte)
	}{
		{"slabinfo-6.18", readFixture(b, "slabinfo-6.18.44.txt"), func(in []byte) { ParseSlabinfo(in) }},
		{"alloc_traces-6.1x200", benchInput(b, "alloc_traces-6.1-waste.txt", 200), func(in []byte) { ParseAllocTraces(in) }},
		{"alloc_calls-4.19x200", benchInput(b, "alloc_calls-4.19.txt", 200), func(in []byte) { ParseAllocCalls(in) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			benchfloor.VsFloor(b, len(c.in), func() { c.parse(c.in) }, func() { benchfloor.LineScan(c.in) })
		})
	}
}

// FuzzParseSiteHeaderFast checks the fast header path against the tolerant
// one: it must take only lines parseSiteHeader accepts, and read them alike.
func FuzzParseSiteHeaderFast(f *testing.F) {
	for _, name := range []string{"alloc_calls-4.19.txt", "alloc_traces-5.15.txt", "alloc_traces-6.1-waste.txt"} {
		f.Add(readFixture(f, name))
	}
	f.Add([]byte("  5 +a+0x1/0x2 [m] waste=1/2 age=1/2/3 pid=4-5 cpus= nodes=0-1 age=7 x=y\n 1 a age=1/2 pid=1-2-3\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, line := range bytes.Split(b, []byte("\n")) {
			var fast AllocSite
			if !parseSiteHeaderFast(line, newInterner(), &fast) {
				continue
			}
			var slow AllocSite
			if err := parseSiteHeader(line, newInterner(), &slow); err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("line %q: fast %+v, tolerant %+v (%v)", line, fast, slow, err)
			}
		}
	})
}
