package meminfo

import (
	"errors"
	"reflect"
	"testing"

	"github.com/leakgate/leakgate/internal/benchfloor"
)

func TestParseVmallocinfo_SumsVmallocPagesPerCallerAndSkipsIoremap(t *testing.T) {
	callers, err := ParseVmallocinfo(readFixture(t, "vmallocinfo-5.4-arm64.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []VmallocCaller{
		{Caller: "alloc_large_system_hash", Areas: 1, Pages: 256, SizeBytes: 1052672},
		{Caller: "hostadpt_alloc_ring", Module: "hostadpt", Areas: 1, Pages: 256, SizeBytes: 1052672},
		{Caller: "module_alloc", Areas: 2, Pages: 2, SizeBytes: 16384},
		{Caller: "bpf_prog_alloc_no_stats", Areas: 1, Pages: 1, SizeBytes: 8192},
	}
	if !reflect.DeepEqual(callers, want) {
		t.Errorf("got  %+v\nwant %+v", callers, want)
	}
}

func TestParseVmallocinfo_ThisMachine6_18(t *testing.T) {
	callers, err := ParseVmallocinfo(readFixture(t, "vmallocinfo-6.18.44.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pages := int64(0)
	for _, c := range callers {
		pages += c.Pages
	}
	if len(callers) == 0 || pages == 0 {
		t.Fatalf("%d callers, %d pages in a real vmallocinfo", len(callers), pages)
	}
	for _, c := range callers {
		if c.Caller == "acpi_os_map_iomem" {
			t.Errorf("ioremap caller %s counted", c.Caller)
		}
		if c.Pages < 0 || c.Areas <= 0 || c.SizeBytes <= 0 {
			t.Errorf("caller %+v is empty", c)
		}
	}
	for i := 1; i < len(callers); i++ {
		if callers[i].Pages > callers[i-1].Pages {
			t.Fatalf("not sorted by pages at %d", i)
		}
	}
}

func TestParseVmallocinfo_ReportsABadLineAndKeepsTheRest(t *testing.T) {
	in := []byte("0x1-0x2 8192 a+0x1/0x2 pages=1 vmalloc\ngarbage\n0x3-0x4 8192 b+0x1/0x2 pages=x vmalloc\n")
	callers, err := ParseVmallocinfo(in)
	var bad *LineErrors
	if !errors.As(err, &bad) || len(bad.Lines) != 2 {
		t.Fatalf("err = %v", err)
	}
	if len(callers) != 1 || callers[0].Caller != "a" {
		t.Errorf("callers = %+v", callers)
	}
}

func FuzzParseVmallocinfo(f *testing.F) {
	f.Add(readFixture(f, "vmallocinfo-5.4-arm64.txt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		callers, _ := ParseVmallocinfo(b)
		for _, c := range callers {
			if c.Areas <= 0 {
				t.Fatalf("caller %+v with no area", c)
			}
		}
	})
}

func BenchmarkParseVmallocinfo(b *testing.B) {
	in := readFixture(b, "vmallocinfo-6.18.44.txt")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseVmallocinfo(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanFloorVmallocinfo(b *testing.B) {
	in := readFixture(b, "vmallocinfo-6.18.44.txt")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		benchfloor.LineScan(in)
	}
}

// BenchmarkVsFloor compares each parser with a bufio line scan of the same bytes, interleaved.
func BenchmarkVsFloor(b *testing.B) {
	mem := readFixture(b, "meminfo-6.18.44.txt")
	vm := readFixture(b, "vmallocinfo-6.18.44.txt")
	b.Run("meminfo-6.18", func(b *testing.B) {
		benchfloor.VsFloor(b, len(mem), func() { Parse(mem) }, func() { benchfloor.LineScan(mem) })
	})
	b.Run("vmallocinfo-6.18", func(b *testing.B) {
		benchfloor.VsFloor(b, len(vm), func() { ParseVmallocinfo(vm) }, func() { benchfloor.LineScan(vm) })
	})
}
