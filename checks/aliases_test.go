package checks

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/checks/slab"
)

func TestParseSlabLinks_ThisMachinesSysfs(t *testing.T) {
	// The listing the harness's script prints, made here with os.Readlink.
	ents, err := os.ReadDir("/sys/kernel/slab")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	want := map[string]string{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/sys/kernel/slab", e.Name()))
		if err != nil {
			target = ""
		}
		b.WriteString(e.Name() + "\t" + target + "\n")
		want[e.Name()] = target
	}

	got, err := ParseSlabLinks([]byte(b.String()))

	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) < 50 {
		t.Fatalf("%d entries, want %d (at least 50)", len(got), len(want))
	}
	for _, e := range got {
		if want[e.Name] != e.Target {
			t.Errorf("%s -> %q, want %q", e.Name, e.Target, want[e.Name])
		}
	}
}

func TestParseSlabLinks_MalformedLinesAreCountedAndSkipped(t *testing.T) {
	in := "kmalloc-64\t:0000064\n:0000064\t\nno tab here\n../etc\tx\n\nwlansim_rxbuf\t\n"

	got, err := ParseSlabLinks([]byte(in))

	want := []slab.SysfsEntry{{Name: "kmalloc-64", Target: ":0000064"}, {Name: ":0000064"}, {Name: "wlansim_rxbuf"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries %+v, want %+v", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "2 malformed lines") || !strings.Contains(err.Error(), "no tab here") {
		t.Errorf("error %v, want the two bad lines counted, the first quoted", err)
	}
}

func TestSlabAliases_NamesEachMembersCompanionsOnly(t *testing.T) {
	entries := []slab.SysfsEntry{
		{Name: ":0000256"}, {Name: "kmalloc-256", Target: ":0000256"}, {Name: "wlansim_desc", Target: "../slab/:0000256"}, {Name: "skbuff_ext", Target: ":0000256"},
		{Name: ":0000064"}, {Name: "kmalloc-64", Target: ":0000064"}, // merging possible, nothing merged
		{Name: "wlansim_rxbuf"}, // not mergeable (own directory)
	}

	got := SlabAliases(entries)

	want := map[string][]string{
		":0000256":     {"kmalloc-256", "skbuff_ext", "wlansim_desc"},
		"kmalloc-256":  {"skbuff_ext", "wlansim_desc"},
		"skbuff_ext":   {"kmalloc-256", "wlansim_desc"},
		"wlansim_desc": {"kmalloc-256", "skbuff_ext"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("aliases %v, want %v", got, want)
	}
}

func FuzzParseSlabLinks(f *testing.F) {
	f.Add([]byte("kmalloc-64\t:0000064\n:0000064\t\n"))
	f.Add([]byte("a\tb\tc\n\t\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, _ := ParseSlabLinks(b)
		for _, e := range entries {
			if !ValidCacheName(e.Name) || strings.ContainsAny(e.Target, "\t\n") {
				t.Fatalf("entry %+v passed validation", e)
			}
		}
		for name, others := range SlabAliases(entries) {
			for _, o := range others {
				if o == name {
					t.Fatalf("%s is listed as merged with itself", name)
				}
			}
		}
	})
}

func BenchmarkParseSlabLinks(b *testing.B) {
	var s strings.Builder
	for i := range 300 {
		s.WriteString("cache-" + strings.Repeat("x", i%20) + "\t:0000" + string(rune('0'+i%10)) + "\n")
	}
	data := []byte(s.String())
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := ParseSlabLinks(data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestParseSlabLinks_ReadsADirectorysReclaimAccount(t *testing.T) {
	in := "dentry\t\t1\nkmalloc-64\t:0000064\n:0000064\t\t0\nwlansim_rxbuf\t\t\nbad\t:0000064\t1\n"

	got, err := ParseSlabLinks([]byte(in))

	want := []slab.SysfsEntry{{Name: "dentry", ReclaimAccount: true}, {Name: "kmalloc-64", Target: ":0000064"}, {Name: ":0000064"}, {Name: "wlansim_rxbuf"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries %+v, want %+v", got, want)
	}
	if err == nil || !strings.Contains(err.Error(), "1 malformed lines") || !strings.Contains(err.Error(), `"bad\t:0000064\t1"`) {
		t.Errorf("error %v, want the link with a reclaim field counted as malformed", err)
	}
}

func TestReclaimAccounted_NamesTheDirectoryAndEveryNameLinkedToIt(t *testing.T) {
	entries := []slab.SysfsEntry{
		{Name: ":a-0000192", ReclaimAccount: true}, {Name: "dentry", Target: "../slab/:a-0000192"}, {Name: "ext4_inode", Target: ":a-0000192"},
		{Name: ":0000064"}, {Name: "kmalloc-64", Target: ":0000064"},
		{Name: "buffer_head", ReclaimAccount: true},
	}

	got := ReclaimAccounted(entries)

	want := []string{":a-0000192", "buffer_head", "dentry", "ext4_inode"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ReclaimAccounted = %v, want %v", got, want)
	}
}
