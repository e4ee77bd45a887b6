package kmemleak

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "kmemleak", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	return b
}

func parseFixture(t *testing.T, name string, opts Options) *Report {
	t.Helper()
	rep, err := Parse(bytes.NewReader(fixture(t, name)), opts)
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return rep
}

func functions(fs []Frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Function
	}
	return out
}

func culpritName(o Object) string {
	if o.Culprit == nil {
		return "<none>"
	}
	return o.Culprit.Function
}

// TestParse_EveryKernelFormat checks each fixture's objects field by field:
// one row per kernel generation.
func TestParse_EveryKernelFormat(t *testing.T) {
	type want struct {
		address   string
		size      int64
		comm      string
		pid       int
		jiffies   uint64
		ageSec    float64
		hasAge    bool
		hexLines  int
		crc       string
		area      string
		frames    int
		first     Frame
		culprit   string
		truncated bool
	}
	tests := []struct {
		name    string
		file    string
		objects []want
	}{
		{"a syzbot report (symbolized: file:line, [inline] frames sharing an address) blames the function its title names", "x86_64-6.7-syzbot-symbolized.txt", []want{
			{"0xffff88800b935600", 64, "scx_serialise", 736, 4295779783, 80.593, true, 2, "", "", 11,
				Frame{Function: "kmemleak_alloc_recursive", Inline: true},
				"scx_ops_enable", false},
		}},
		{"decode_stacktrace.sh output copied from the console (timestamps, (file:line), (inlined by), trailing blanks)", "x86_64-6.12-decode-stacktrace-console.txt", []want{
			{"0xffff888104c1a200", 128, "insmod", 412, 4295102741, 0, false, 2, "5e8a21c4", "", 6,
				Frame{Function: "kmemleak_alloc"},
				"wlansim_alloc_rx_buf", false},
		}},
		{"the 5.4 arm64 field report keeps age, hex dump and hashed addresses", "arm64-5.4-wifi.txt", []want{
			{"0xffffff80199a8000", 8192, "softirq", 0, 4295147135, 42936.6, true, 2, "", "", 16,
				Frame{Function: "__kmalloc_track_caller", Offset: "+0x134/0x280", OffsetBytes: 0x134, LengthBytes: 0x280},
				"hostadpt_rx_handler", false},
		}},
		{"2.6.32 has no age, no hex dump and ends stacks with ULONG_MAX", "x86_64-2.6.32.txt", []want{
			{"0xffff88003d6b7a80", 512, "swapper", 1, 4294892380, 0, false, 0, "", "", 9,
				Frame{Function: "kmemleak_alloc", Offset: "+0x26/0x50", OffsetBytes: 0x26, LengthBytes: 0x50},
				"acpi_ds_build_internal_package_obj", false},
			{"0xffff88003c2d1e40", 64, "modprobe", 1873, 4294902817, 0, false, 0, "", "", 10,
				Frame{Function: "kmemleak_alloc", Offset: "+0x26/0x50", OffsetBytes: 0x26, LengthBytes: 0x50},
				"wl_attach_bus", false},
			{"0xffff88003c2d1f00", 64, "modprobe", 1873, 4294902818, 0, false, 0, "", "", 10,
				Frame{Function: "kmemleak_alloc", Offset: "+0x26/0x50", OffsetBytes: 0x26, LengthBytes: 0x50},
				"wl_attach_bus", false},
		}},
		{"4.14 prints raw addresses, age, hex dump on a cpu and hardirq comm", "x86_64-4.14.txt", []want{
			{"0xffff88007c3fe000", 4096, "swapper/0", 0, 4294892296, 5042.152, true, 2, "", "", 7,
				Frame{Function: "kmemleak_alloc", Offset: "+0x55/0xb0", OffsetBytes: 0x55, LengthBytes: 0xb0},
				"debug_objects_mem_init", false},
			{"0xffff88003a1c5e40", 64, "wland", 812, 4295012345, 612.34, true, 2, "", "", 16,
				Frame{Function: "kmemleak_alloc", Offset: "+0x55/0xb0", OffsetBytes: 0x55, LengthBytes: 0xb0},
				"wl_add_sta", false},
			{"0xffff880076b9f200", 512, "hardirq", 0, 4295013102, 609.312, true, 2, "", "", 15,
				Frame{Function: "kmemleak_alloc", Offset: "+0x55/0xb0", OffsetBytes: 0x55, LengthBytes: 0xb0},
				"wl_rx_refill.part.3", false},
		}},
		{"4.19 hashes addresses", "x86_64-4.19-hashed.txt", []want{
			{"0xffff8880a3f7c800", 2048, "syz-executor.0", 9641, 4295012345, 13.86, true, 2, "", "", 12,
				Frame{Function: "kmem_cache_alloc_trace", Offset: "+0x145/0x2c0", OffsetBytes: 0x145, LengthBytes: 0x2c0},
				"sget_userns", false},
			{"0xffff88810c5a1000", 512, "syz-executor.3", 9702, 4295013011, 7.2, true, 2, "", "", 9,
				Frame{Function: "__kmalloc_node", Offset: "+0x1fd/0x330", OffsetBytes: 0x1fd, LengthBytes: 0x330},
				"htab_map_alloc", false},
			{"0xffff88810c5a1800", 512, "syz-executor.3", 9703, 4295013029, 7.18, true, 2, "", "", 9,
				Frame{Function: "__kmalloc_node", Offset: "+0x1fd/0x330", OffsetBytes: 0x1fd, LengthBytes: 0x330},
				"htab_map_alloc", false},
			{"0xffff88810b2c7a00", 128, "wland", 812, 4295012345, 612.34, true, 2, "", "", 16,
				Frame{Function: "kmem_cache_alloc_trace", Offset: "+0x145/0x2c0", OffsetBytes: 0x145, LengthBytes: 0x2c0},
				"wl_add_sta", false},
		}},
		{"6.8 drops age and prints the crc on the backtrace line", "x86_64-6.8-crc.txt", []want{
			{"0xffff888104b6e600", 192, "wland", 812, 4294937651, 0, false, 2, "9f31c2a7", "", 16,
				Frame{Function: "kmemleak_alloc", Offset: "+0x4a/0x80", OffsetBytes: 0x4a, LengthBytes: 0x80},
				"wl_add_sta", false},
			{"0xffff888104b6e900", 192, "wland", 812, 4294949803, 0, false, 2, "5e0d44b1", "", 16,
				Frame{Function: "kmemleak_alloc", Offset: "+0x4a/0x80", OffsetBytes: 0x4a, LengthBytes: 0x80},
				"wl_add_sta", false},
			{"0xffff8881062f4c80", 32, "hostapd", 1204, 4294951220, 0, false, 2, "3c1a9d20", "", 16,
				Frame{Function: "kmemleak_alloc", Offset: "+0x4a/0x80", OffsetBytes: 0x4a, LengthBytes: 0x80},
				"wl_vif_set_name", false},
		}},
		{"6.12.y drops the [<addr>] prefix and names allocators *_noprof", "arm64-6.12-crc-noaddr.txt", []want{
			{"0xffffff8012b40000", 8192, "softirq", 0, 4295893121, 0, false, 2, "6d0f3a51", "", 16,
				Frame{Function: "kmemleak_alloc", Offset: "+0x3c/0x50", OffsetBytes: 0x3c, LengthBytes: 0x50},
				"hostadpt_rx_handler", false},
			{"0xffffff8012b42000", 8192, "ksoftirqd/1", 21, 4295893377, 0, false, 2, "01c7e8f3", "", 15,
				Frame{Function: "kmemleak_alloc", Offset: "+0x3c/0x50", OffsetBytes: 0x3c, LengthBytes: 0x50},
				"hostadpt_rx_handler", false},
			{"0xffffff8004e1c580", 64, "hostapd", 1311, 4295894002, 0, false, 2, "a4410e6b", "", 16,
				Frame{Function: "kmemleak_alloc", Offset: "+0x3c/0x50", OffsetBytes: 0x3c, LengthBytes: 0x50},
				"mtk_sta_rec_add.constprop.0", false},
		}},
		{"6.13 prints frames without addresses", "x86_64-6.13.txt", []want{
			{"0xffff888106d9a400", 192, "wland", 812, 4294901337, 0, false, 2, "1b7c5e42", "", 16,
				Frame{Function: "kmemleak_alloc", Offset: "+0x4b/0x80", OffsetBytes: 0x4b, LengthBytes: 0x80},
				"wl_add_sta", false},
			{"0xffff88810a3e8000", 2048, "kworker/u8:3", 97, 4294902101, 0, false, 2, "0", "", 9,
				Frame{Function: "kmemleak_alloc", Offset: "+0x4b/0x80", OffsetBytes: 0x4b, LengthBytes: 0x80},
				"wl_fw_load_chunk", false},
		}},
		{"linux-next marks percpu and phys objects", "x86_64-next-percpu.txt", []want{
			{"0x607f6ff07c48", 8, "modprobe", 512, 4294895018, 0, false, 1, "0", "percpu", 16,
				Frame{Function: "pcpu_alloc_noprof", Offset: "+0x4b9/0xb20", OffsetBytes: 0x4b9, LengthBytes: 0xb20},
				"wl_stats_init", false},
			{"0x1c8fa000", 4096, "swapper/0", 1, 4294892512, 0, false, 0, "0", "phys", 9,
				Frame{Function: "kmemleak_alloc_phys", Offset: "+0x2d/0x70", OffsetBytes: 0x2d, LengthBytes: 0x70},
				"wl_reserve_dma_pool", false},
			{"0xffff888103a21b00", 64, "modprobe", 512, 4294895019, 0, false, 0, "47e3d9a2", "", 6,
				Frame{Function: "kmemleak_alloc", Offset: "+0x4b/0x80", OffsetBytes: 0x4b, LengthBytes: 0x80},
				"wl_stats_init", false},
		}},
		{"without KALLSYMS frames are bare addresses and nothing is blamed", "x86_64-6.13-nokallsyms.txt", []want{
			{"0xffff888106d9a400", 192, "wland", 812, 4294901337, 0, false, 0, "1b7c5e42", "", 5,
				Frame{Function: "0xffffffff81a4b2cb", Raw: true},
				"<none>", false},
		}},
		{"an unsymbolised frame after the allocator is blamed", "arm64-5.4-nokallsyms.txt", []want{
			{"0xffffff8019a4c000", 1024, "wland", 644, 4295001234, 3021.48, true, 2, "", "", 5,
				Frame{Function: "0xffffffc0101f3a44", Raw: true}, "<none>", false},
			{"0xffffff8019a4c400", 1024, "wland", 644, 4295001399, 3019.83, true, 2, "", "", 5,
				Frame{Function: "0xffffffc0101f3a44", Raw: true}, "<none>", false},
			{"0xffffff8019b30080", 128, "hostapd", 702, 4295002001, 3013.81, true, 2, "", "", 6,
				Frame{Function: "__kmalloc_track_caller", Offset: "+0x134/0x280", OffsetBytes: 0x134, LengthBytes: 0x280},
				"0xffffffc008b02a1c", false},
		}},
		{"a report cut mid-frame marks its last object truncated and drops the cut frame", "arm64-5.4-truncated.txt", []want{
			{"0xffffff80199a8000", 8192, "softirq", 0, 4295147135, 42936.6, true, 2, "", "", 16,
				Frame{Function: "__kmalloc_track_caller", Offset: "+0x134/0x280", OffsetBytes: 0x134, LengthBytes: 0x280},
				"hostadpt_rx_handler", false},
			{"0xffffff80199aa000", 8192, "softirq", 0, 4295147135, 42936.6, true, 2, "", "", 4,
				Frame{Function: "__kmalloc_track_caller", Offset: "+0x134/0x280", OffsetBytes: 0x134, LengthBytes: 0x280},
				"hostadpt_rx_handler", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := parseFixture(t, tt.file, Options{})
			if len(rep.Objects) != len(tt.objects) || rep.ObjectCount != len(tt.objects) {
				t.Fatalf("got %d objects (count %d), want %d", len(rep.Objects), rep.ObjectCount, len(tt.objects))
			}
			for i, w := range tt.objects {
				o := rep.Objects[i]
				got := want{o.Address, o.SizeBytes, o.Comm, o.PID, o.Jiffies, o.AgeSec, o.HasAge, len(o.HexDump), o.CRC, o.Area,
					len(o.Frames), o.Frames[0], culpritName(o), o.Truncated}
				if got != w {
					t.Errorf("object %d:\n got %+v\nwant %+v", i, got, w)
				}
				if o.Signature == "" {
					t.Errorf("object %d has no signature", i)
				}
			}
		})
	}
}

func TestParse_ModulesAreReadFromBrackets(t *testing.T) {
	rep := parseFixture(t, "arm64-5.4-wifi.txt", Options{})
	fs := rep.Objects[0].Frames
	wantMods := map[string]string{"hostadpt_rx_handler": "hostadpt", "pci_rx_dma_done_handle": "mt7916_ap", "__kmalloc_track_caller": "", "tasklet_action_common.constprop.0": ""}
	for _, f := range fs {
		if m, ok := wantMods[f.Function]; ok && f.Module != m {
			t.Errorf("%s: module %q, want %q", f.Function, f.Module, m)
		}
	}
	if got := fs[len(fs)-1].Function; got != "rest_init" {
		t.Errorf("last frame %q, want rest_init", got)
	}
}

func TestParse_ULONGMaxEndMarkerIsNotAFrame(t *testing.T) {
	rep := parseFixture(t, "x86_64-2.6.32.txt", Options{})
	for _, o := range rep.Objects {
		for _, f := range o.Frames {
			if strings.HasPrefix(f.Function, "0xffffffffffffffff") {
				t.Fatalf("object %s keeps the end marker as a frame", o.Address)
			}
		}
	}
}

func TestParse_GarbageBetweenBlocksIsSkippedAndCounted(t *testing.T) {
	rep := parseFixture(t, "x86_64-6.8-garbage.txt", Options{})
	if len(rep.Objects) != 2 {
		t.Fatalf("got %d objects, want 2", len(rep.Objects))
	}
	// cat error, dmesg line, delimiter, stray backtrace, stray frame, bad header, non-frame line.
	if rep.Skipped != 7 {
		t.Errorf("skipped %d lines, want 7", rep.Skipped)
	}
	first := rep.Objects[0]
	if n := len(first.Frames); n != 16 {
		t.Errorf("first object has %d frames, want 16 (a stray frame after a delimiter must not join it)", n)
	}
	second := rep.Objects[1]
	if got := culpritName(second); got != "wl_vif_set_name" {
		t.Errorf("culprit %q, want wl_vif_set_name (tab-indented CRLF frame with a build id)", got)
	}
	var sawBuildID bool
	for _, f := range second.Frames {
		if f.Function == "wl_vif_set_name" {
			sawBuildID = f.Module == "wlmod"
		}
	}
	if !sawBuildID {
		t.Errorf("frame with [wlmod <buildid>] did not keep module wlmod: %v", second.Frames)
	}
	clean := parseFixture(t, "x86_64-6.8-crc.txt", Options{})
	if second.Signature != clean.Objects[2].Signature {
		t.Errorf("garbage changed the signature:\n%s\n%s", second.Signature, clean.Objects[2].Signature)
	}
}

func TestParse_NonUTF8CommStaysValidAndLossless(t *testing.T) {
	rep := parseFixture(t, "x86_64-6.8-garbage.txt", Options{})
	comm := rep.Objects[0].Comm
	if !utf8.ValidString(comm) {
		t.Fatalf("comm %q is not valid UTF-8", comm)
	}
	if comm != `wl\xff\xfeand` {
		t.Errorf("comm %q, want the invalid bytes escaped as \\xff\\xfe", comm)
	}
	b, err := json.Marshal(rep)
	if err != nil || !utf8.Valid(b) {
		t.Fatalf("JSON not valid: %v", err)
	}
}

func TestParse_CommWithQuotesAndCommas(t *testing.T) {
	in := "unreferenced object 0xffff888100000000 (size 16):\n" +
		"  comm \"a\", pid 1, b\", pid 42, jiffies 7 (age 1.500s)\n" +
		"  backtrace:\n    [<0000000000000001>] foo_bar+0x1/0x2\n"
	rep, err := Parse(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := rep.Objects[0]
	if o.Comm != `a", pid 1, b` || o.PID != 42 || o.Jiffies != 7 || o.AgeSec != 1.5 {
		t.Errorf("got comm %q pid %d jiffies %d age %v", o.Comm, o.PID, o.Jiffies, o.AgeSec)
	}
}

func TestParse_LinesLongerThan64KiBAreCappedNotFatal(t *testing.T) {
	long := strings.Repeat("x", 200<<10)
	in := "unreferenced object 0xffff888100000000 (size 16):\n" +
		"  comm \"" + long + "\", pid 3, jiffies 9\n" +
		"  backtrace:\n" +
		"    [<0000000000000001>] " + long + "+0x1/0x2\n" +
		"    [<0000000000000002>] my_driver_fn+0x1/0x2 [mydrv]\n" +
		long + "\n" +
		string(fixture(t, "arm64-5.4-wifi.txt"))
	rep, err := Parse(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Objects) != 2 {
		t.Fatalf("got %d objects, want 2", len(rep.Objects))
	}
	o := rep.Objects[0]
	if len(o.Comm) > MaxLineBytes || len(o.Comm) == 0 {
		t.Errorf("comm kept %d bytes, want 1..%d", len(o.Comm), MaxLineBytes)
	}
	if got := culpritName(rep.Objects[1]); got != "hostadpt_rx_handler" {
		t.Errorf("object after the long lines: culprit %q", got)
	}
	if len(o.Frames) != 1 || o.Frames[0].Function != "my_driver_fn" {
		t.Errorf("%d frames, first %.40q: the capped long frame must be dropped, the next kept", len(o.Frames), functions(o.Frames)[0])
	}
}

func TestParse_MaxObjectsCountsButDoesNotKeep(t *testing.T) {
	in := bytes.Repeat(fixture(t, "x86_64-6.8-crc.txt"), 10)
	rep, err := Parse(bytes.NewReader(in), Options{MaxObjects: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Objects) != 5 || !rep.Truncated || rep.ObjectCount != 30 {
		t.Errorf("kept %d, truncated %v, count %d; want 5, true, 30", len(rep.Objects), rep.Truncated, rep.ObjectCount)
	}
	total := 0
	for _, g := range rep.Groups {
		total += g.Count
	}
	if total != 30 {
		t.Errorf("groups count %d objects, want all 30", total)
	}
}

func TestParse_GroupsOnlyKeepsNoObjectsButTheSameGroups(t *testing.T) {
	in := fixture(t, "x86_64-4.19-hashed.txt")
	full, _ := Parse(bytes.NewReader(in), Options{})
	lean, err := Parse(bytes.NewReader(in), Options{GroupsOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(lean.Objects) != 0 || lean.ObjectCount != 4 {
		t.Errorf("groups-only kept %d objects, counted %d", len(lean.Objects), lean.ObjectCount)
	}
	a, _ := json.Marshal(full.Groups)
	b, _ := json.Marshal(lean.Groups)
	if !bytes.Equal(a, b) {
		t.Errorf("groups differ:\n%s\n%s", a, b)
	}
}

func TestParse_ReadErrorIsReturnedWithWhatWasParsed(t *testing.T) {
	boom := errors.New("link dropped")
	r := io.MultiReader(bytes.NewReader(fixture(t, "x86_64-6.8-crc.txt")), iotest.ErrReader(boom))
	rep, err := Parse(r, Options{})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want wrapping %v", err, boom)
	}
	if rep == nil || rep.ObjectCount != 3 {
		t.Fatalf("want the 3 objects read before the error, got %+v", rep)
	}
}

func TestParse_EmptyInputIsAnEmptyReport(t *testing.T) {
	rep, err := Parse(strings.NewReader(""), Options{})
	if err != nil || rep.ObjectCount != 0 || rep.Objects == nil || len(rep.Groups) != 0 {
		t.Errorf("got %+v, %v", rep, err)
	}
	b, _ := json.Marshal(rep)
	if !strings.Contains(string(b), `"objects":[]`) {
		t.Errorf("empty report JSON %s should hold an empty objects list", b)
	}
}

func TestScanner_StreamsObjectsOneAtATime(t *testing.T) {
	sc := NewScanner(iotest.OneByteReader(bytes.NewReader(fixture(t, "x86_64-4.14.txt"))))
	var addrs []string
	for {
		o, err := sc.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, o.Address)
	}
	want := []string{"0xffff88007c3fe000", "0xffff88003a1c5e40", "0xffff880076b9f200"}
	if strings.Join(addrs, ",") != strings.Join(want, ",") {
		t.Errorf("got %v, want %v", addrs, want)
	}
	if _, err := sc.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("Next after the end: %v, want io.EOF", err)
	}
}

func TestScanner_FramesPerObjectAreCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("unreferenced object 0xffff888100000000 (size 16):\n  comm \"x\", pid 1, jiffies 1\n  backtrace:\n")
	for range MaxFrames * 3 {
		b.WriteString("    f+0x1/0x2\n")
	}
	rep, err := Parse(strings.NewReader(b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Objects[0].Frames); n != MaxFrames {
		t.Errorf("kept %d frames, want %d", n, MaxFrames)
	}
	if rep.Skipped != MaxFrames*2 {
		t.Errorf("skipped %d, want %d", rep.Skipped, MaxFrames*2)
	}
}

func TestParse_VerboseKernelLogGroupsWithTheDebugfsReport(t *testing.T) {
	fromLog := parseFixture(t, "arm64-5.4-dmesg-verbose.txt", Options{})
	fromFile := parseFixture(t, "arm64-5.4-wifi.txt", Options{})
	if len(fromLog.Objects) != 1 {
		t.Fatalf("got %d objects from the log, want 1", len(fromLog.Objects))
	}
	o := fromLog.Objects[0]
	if o.Comm != "softirq" || o.SizeBytes != 8192 || len(o.Frames) != 16 || len(o.HexDump) != 2 || culpritName(o) != "hostadpt_rx_handler" {
		t.Errorf("object from the log: %+v", o)
	}
	if o.Signature != fromFile.Objects[0].Signature {
		t.Errorf("log and debugfs signatures differ:\n%s\n%s", o.Signature, fromFile.Objects[0].Signature)
	}
	// The first two log lines and the last are not the report's.
	if fromLog.Skipped != 3 {
		t.Errorf("skipped %d lines, want 3", fromLog.Skipped)
	}
}

func TestStripLogPrefix(t *testing.T) {
	tests := map[string]string{
		"[ 4021.330712] kmemleak: unreferenced object 0x1 (size 8):": "unreferenced object 0x1 (size 8):",
		"<4>[ 4021.330712] kmemleak:   comm \"x\", pid 1, jiffies 2": "  comm \"x\", pid 1, jiffies 2",
		"[ 4021.330712]      kmalloc+0x1/0x2":                        "     kmalloc+0x1/0x2",
		"kmemleak: unreferenced object 0x1 (size 8):":                "unreferenced object 0x1 (size 8):",
		"    [<00000000e2b73281>] kmalloc+0x1/0x2":                   "    [<00000000e2b73281>] kmalloc+0x1/0x2",
		"[<0000>] not indented":                                      "[<0000>] not indented",
		"unreferenced object 0x1 (size 8):":                          "unreferenced object 0x1 (size 8):",
	}
	for in, want := range tests {
		if got := string(stripLogPrefix([]byte(in))); got != want {
			t.Errorf("stripLogPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParse_EachStreamsEveryObjectWithBlameAndKeepsNone(t *testing.T) {
	var seen []string
	rep, err := Parse(bytes.NewReader(fixture(t, "x86_64-4.19-hashed.txt")), Options{Each: func(o *Object) error {
		seen = append(seen, culpritName(*o)+"@"+o.Address)
		if o.Signature == "" {
			t.Errorf("object %s streamed without a signature", o.Address)
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := "sget_userns@0xffff8880a3f7c800,htab_map_alloc@0xffff88810c5a1000,htab_map_alloc@0xffff88810c5a1800,wl_add_sta@0xffff88810b2c7a00"
	if strings.Join(seen, ",") != want {
		t.Errorf("streamed %v", seen)
	}
	if len(rep.Objects) != 0 || rep.Truncated || rep.ObjectCount != 4 || len(rep.Groups) != 3 {
		t.Errorf("report %d objects, truncated %v, count %d, %d groups", len(rep.Objects), rep.Truncated, rep.ObjectCount, len(rep.Groups))
	}
}

func TestParse_EachErrorStopsTheParse(t *testing.T) {
	stop := errors.New("disk full")
	n := 0
	_, err := Parse(bytes.NewReader(fixture(t, "x86_64-4.19-hashed.txt")), Options{Each: func(*Object) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	}})
	if !errors.Is(err, stop) || n != 2 {
		t.Errorf("err %v after %d objects, want %v after 2", err, n, stop)
	}
}

func TestParse_TruncatedMeansCutShortNotFrameless(t *testing.T) {
	in := "unreferenced object 0xffff888100000000 (size 16):\n" +
		"  comm \"swapper/0\", pid 1, jiffies 4294892512\n" +
		"  backtrace (crc 0):\n" +
		"unreferenced object 0xffff888100000100 (size 32):\n" +
		"  comm \"modprobe\", pid 5, jiffies 4294892600\n" +
		"unreferenced object 0xffff888100000200 (size 64):\n" +
		"  comm \"modprobe\", pid 5, jiffies 4294892601\n"
	rep, err := Parse(strings.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := []bool{rep.Objects[0].Truncated, rep.Objects[1].Truncated, rep.Objects[2].Truncated}
	// A stack depot miss prints a backtrace line and no frames: complete.
	if got[0] || !got[1] || !got[2] {
		t.Errorf("truncated flags %v, want [false true true]", got)
	}
	if c := rep.Objects[0].Culprit; c != nil {
		t.Errorf("frameless object blamed %+v", c)
	}
}

// TestParse_RealKernel_6_12_QemuRig reads a report captured from a real
// 6.12.117 kernel (the QEMU reference target, testdata/rig/captured): 50
// leaked rx frames, each a slab descriptor and its kmalloc payload.
func TestParse_RealKernel_6_12_QemuRig(t *testing.T) {
	rep := parseFixture(t, "x86_64-6.12.117-qemu-rig.txt", Options{})
	if rep.ObjectCount != 100 || rep.Skipped != 0 || rep.TruncatedObjects != 0 {
		t.Fatalf("objects %d, skipped %d, truncated %d; want 100, 0, 0", rep.ObjectCount, rep.Skipped, rep.TruncatedObjects)
	}
	for _, o := range rep.Objects {
		if o.Comm != "wlansimd" || o.CRC == "" || o.HasAge || len(o.HexDump) != 2 || len(o.Frames) != 9 {
			t.Fatalf("object %s: %+v", o.Address, o)
		}
	}
	if len(rep.Groups) != 1 {
		t.Fatalf("%d groups, want the one leak site", len(rep.Groups))
	}
	g := rep.Groups[0]
	if g.Culprit == nil || g.Culprit.Function != "wlansim_alloc_rx_buf" || g.Culprit.Module != "wlansim" {
		t.Errorf("culprit %+v, want wlansim_alloc_rx_buf [wlansim] (a driver's own *_alloc_* function is blamed)", g.Culprit)
	}
	if g.Count != 100 || len(g.SizesBytes) != 2 || g.SizesBytes[0] != 256 || g.SizesBytes[1] != 512 || g.Bytes != 50*256+50*512 {
		t.Errorf("count %d sizes %v bytes %d", g.Count, g.SizesBytes, g.Bytes)
	}
}
