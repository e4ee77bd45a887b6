package slab

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/leakgate/leakgate/checks/internal/lines"
	"github.com/leakgate/leakgate/internal/benchfloor"
	"github.com/prometheus/procfs"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "slab", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

func TestParseSlabinfo_Fixtures(t *testing.T) {
	tests := []struct {
		name       string
		file       string
		wantRows   int
		wantBad    int
		wantCache  Cache
		wantAbsent string
	}{
		{
			name:     "the 6.18 kernel of this machine parses every row",
			file:     "slabinfo-6.18.44.txt",
			wantRows: -1,
		},
		{
			name:      "a long name that shifts the columns keeps every number",
			file:      "slabinfo-5.4-long-name.txt",
			wantRows:  4,
			wantCache: Cache{Name: "mt7916_ap_rx_reorder_buffer_cache_v2", ActiveObjects: 2048, NumObjects: 2112, ObjectSizeBytes: 192, ObjectsPerSlab: 21, PagesPerSlab: 1, ActiveSlabs: 101, NumSlabs: 101},
		},
		{
			name:      "SLAB-era globalstat and cpustat sections are ignored",
			file:      "slabinfo-4.9-slab-globalstat.txt",
			wantRows:  3,
			wantCache: Cache{Name: "kmalloc-256", ActiveObjects: 1446, NumObjects: 1560, ObjectSizeBytes: 256, ObjectsPerSlab: 15, PagesPerSlab: 1, ActiveSlabs: 104, NumSlabs: 104},
		},
		{
			name:       "one bad row is reported while the others are kept",
			file:       "slabinfo-5.4-bad-row.txt",
			wantRows:   2,
			wantBad:    1,
			wantCache:  Cache{Name: "kmalloc-192", ActiveObjects: 2604, NumObjects: 2604, ObjectSizeBytes: 192, ObjectsPerSlab: 21, PagesPerSlab: 1, ActiveSlabs: 124, NumSlabs: 124},
			wantAbsent: "kmalloc-128",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := readFixture(t, tt.file)
			caches, err := ParseSlabinfo(b)
			var rowErrs *RowErrors
			if tt.wantBad == 0 && err != nil {
				t.Fatalf("ParseSlabinfo: %v", err)
			}
			if tt.wantBad > 0 && (!errors.As(err, &rowErrs) || len(rowErrs.Lines) != tt.wantBad) {
				t.Fatalf("ParseSlabinfo error = %v, want %d bad rows", err, tt.wantBad)
			}
			want := tt.wantRows
			if want < 0 {
				want = bytes.Count(b, []byte("\n")) - 2
			}
			if len(caches) != want {
				t.Fatalf("got %d caches, want %d", len(caches), want)
			}
			if tt.wantCache.Name != "" {
				got, ok := find(caches, tt.wantCache.Name)
				if !ok || got.ActiveBytes() != tt.wantCache.ActiveBytes() || got.NumSlabs != tt.wantCache.NumSlabs ||
					got.ObjectsPerSlab != tt.wantCache.ObjectsPerSlab || got.PagesPerSlab != tt.wantCache.PagesPerSlab ||
					got.NumObjects != tt.wantCache.NumObjects || got.ActiveSlabs != tt.wantCache.ActiveSlabs {
					t.Errorf("cache %s = %+v, want %+v", tt.wantCache.Name, got, tt.wantCache)
				}
			}
			if tt.wantAbsent != "" {
				if _, ok := find(caches, tt.wantAbsent); ok {
					t.Errorf("bad row %s was returned", tt.wantAbsent)
				}
			}
		})
	}
}

// TestParseSlabinfo_AgreesWithProcfsOnThisMachine reads the live
// /proc/slabinfo once and compares every row with prometheus/procfs.
func TestParseSlabinfo_AgreesWithProcfsOnThisMachine(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		t.Fatalf("read /proc/slabinfo (run as root on a SLUB_DEBUG kernel): %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "slabinfo"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	fs, err := procfs.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fs.SlabInfo()
	if err != nil {
		t.Fatalf("procfs SlabInfo: %v", err)
	}
	got, err := ParseSlabinfo(b)
	if err != nil {
		t.Fatalf("ParseSlabinfo: %v", err)
	}
	if len(got) != len(want.Slabs) {
		t.Fatalf("got %d caches, procfs %d", len(got), len(want.Slabs))
	}
	for i, w := range want.Slabs {
		g := got[i]
		if g.Name != w.Name || g.ActiveObjects != w.ObjActive || g.NumObjects != w.ObjNum || g.ObjectSizeBytes != w.ObjSize ||
			g.ObjectsPerSlab != w.ObjPerSlab || g.PagesPerSlab != w.PagesPerSlab || g.ActiveSlabs != w.SlabActive || g.NumSlabs != w.SlabNum {
			t.Errorf("row %d: got %+v, procfs %+v", i, g, *w)
		}
	}
}

func TestParseSlabinfo_RejectsAnUnknownVersion(t *testing.T) {
	_, err := ParseSlabinfo([]byte("slabinfo - version: 1.1\nfoo 1 2 3 4 5 : tunables 0 0 0 : slabdata 1 1 0\n"))
	if !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("err = %v, want ErrUnsupportedVersion", err)
	}
}

func TestParseSlabinfo_BoundsTheErrorsOfAGarbageFile(t *testing.T) {
	garbage := bytes.Repeat([]byte("not a slab row\n"), 10000)
	caches, err := ParseSlabinfo(garbage)
	var rowErrs *RowErrors
	if len(caches) != 0 || !errors.As(err, &rowErrs) || len(rowErrs.Lines) != lines.MaxErrors {
		t.Fatalf("caches=%d err=%v, want none and %d row errors", len(caches), err, lines.MaxErrors)
	}
}

func find(caches []Cache, name string) (Cache, bool) {
	for _, c := range caches {
		if c.Name == name {
			return c, true
		}
	}
	return Cache{}, false
}

func FuzzParseSlabinfo(f *testing.F) {
	for _, n := range []string{"slabinfo-6.18.44.txt", "slabinfo-5.4-long-name.txt", "slabinfo-4.9-slab-globalstat.txt", "slabinfo-5.4-bad-row.txt"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		caches, err := ParseSlabinfo(b)
		var rowErrs *RowErrors
		if err != nil && !errors.As(err, &rowErrs) && caches != nil {
			t.Fatalf("fatal error %v returned caches", err)
		}
		if len(caches) > bytes.Count(b, []byte("\n"))+1 {
			t.Fatalf("%d caches from %d lines", len(caches), bytes.Count(b, []byte("\n"))+1)
		}
		// The fast path must agree with the tolerant one on every row it takes.
		for _, line := range bytes.Split(b, []byte("\n")) {
			var fast Cache
			if !parseSlabinfoRowFast(line, &fast) {
				continue
			}
			slow, err := parseSlabinfoRow(splitFields(line, nil))
			if err != nil || !reflect.DeepEqual(fast, slow) {
				t.Fatalf("row %q: fast %+v, tolerant %+v (%v)", line, fast, slow, err)
			}
		}
	})
}

func BenchmarkParseSlabinfo(b *testing.B) {
	in := readFixture(b, "slabinfo-6.18.44.txt")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := ParseSlabinfo(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanFloorSlabinfo is the floor: a bare bufio line scan of the same input.
func BenchmarkScanFloorSlabinfo(b *testing.B) {
	in := readFixture(b, "slabinfo-6.18.44.txt")
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		benchfloor.LineScan(in)
	}
}

func TestParseSlabinfo_ManyBlankLinesReserveLittle(t *testing.T) {
	blank := bytes.Repeat([]byte("\n"), 1<<20)
	allocs := testing.AllocsPerRun(1, func() { ParseSlabinfo(blank) })
	caches, err := ParseSlabinfo(blank)
	if err != nil || len(caches) != 0 || cap(caches) > maxPresize || allocs > 2 {
		t.Fatalf("caches=%d cap=%d allocs=%v err=%v", len(caches), cap(caches), allocs, err)
	}
}

func TestParseSlabinfo_ARepeatedCacheIsCountedOnceAndFlagged(t *testing.T) {
	in := "slabinfo - version: 2.1\n" +
		"kmalloc-64 100 128 64 64 1 : tunables 0 0 0 : slabdata 2 2 0\n" +
		"dentry 10 21 192 21 1 : tunables 0 0 0 : slabdata 1 1 0\n" +
		"kmalloc-64 999 999 64 64 1 : tunables 0 0 0 : slabdata 16 16 0\n"

	caches, err := ParseSlabinfo([]byte(in))

	var bad *RowErrors
	if !errors.As(err, &bad) || len(bad.Lines) != 1 || bad.Lines[0].Line != 4 ||
		bad.Lines[0].Err.Error() != `cache "kmalloc-64" appears twice (first at line 2); the first row is used` {
		t.Fatalf("err %v, want line 4 flagged as a repeat of line 2", err)
	}
	if len(caches) != 2 || caches[0].Name != "kmalloc-64" || caches[0].ActiveObjects != 100 || caches[1].Name != "dentry" {
		t.Errorf("caches %+v, want kmalloc-64 (its first row) and dentry", caches)
	}
}

func TestCache_ActiveBytesSaturatesInsteadOfWrapping(t *testing.T) {
	c := Cache{ActiveObjects: 1 << 40, ObjectSizeBytes: 1 << 30}
	if got := c.ActiveBytes(); got != math.MaxInt64 {
		t.Errorf("ActiveBytes = %d, want math.MaxInt64", got)
	}
	if got := (Cache{ActiveObjects: 3, ObjectSizeBytes: 64}).ActiveBytes(); got != 192 {
		t.Errorf("ActiveBytes = %d, want 192", got)
	}
}
