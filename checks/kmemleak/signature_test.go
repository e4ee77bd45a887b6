package kmemleak

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

var signatureShape = regexp.MustCompile(`^[0-9a-f]{16} \S`)

func TestSignatureOf_Shape(t *testing.T) {
	rep := parseFixture(t, "arm64-5.4-wifi.txt", Options{})
	g := rep.Groups[0]
	want := "hostadpt_rx_handler [hostadpt] < pci_rx_dma_done_handle [mt7916_ap] < pci_rx_data_done_func [mt7916_ap] < tasklet_action_common"
	if !signatureShape.MatchString(g.Signature) || !strings.HasSuffix(g.Signature, " "+want) {
		t.Errorf("signature %q, want <16 hex> %s", g.Signature, want)
	}
	if !strings.HasPrefix(g.Signature, g.Digest+" ") || len(g.Digest) != 16 {
		t.Errorf("digest %q does not lead signature %q", g.Digest, g.Signature)
	}
	if got := SignatureOf(rep.Objects[0].Frames); got != g.Signature {
		t.Errorf("SignatureOf %q differs from the group's %q", got, g.Signature)
	}
}

// TestSignatureOf_SameSiteAcrossScansRebootsAndBuilds: what changes between
// scans, boots and kernel builds must not move an object to another group.
func TestSignatureOf_SameSiteAcrossScansRebootsAndBuilds(t *testing.T) {
	site := func(t *testing.T, file string, i int) string {
		t.Helper()
		return parseFixture(t, file, Options{}).Objects[i].Signature
	}
	tests := []struct {
		name string
		a, b string
	}{
		{"two objects of one site differing in address, jiffies and crc", site(t, "x86_64-6.8-crc.txt", 0), site(t, "x86_64-6.8-crc.txt", 1)},
		{"5.4 hashed addresses and kmalloc vs 6.12 no addresses, _noprof allocators, other offsets and irq tail", site(t, "arm64-5.4-wifi.txt", 0), site(t, "arm64-6.12-crc-noaddr.txt", 0)},
		{"a softirq taken on irq exit vs in ksoftirqd", site(t, "arm64-6.12-crc-noaddr.txt", 0), site(t, "arm64-6.12-crc-noaddr.txt", 1)},
		{"6.8 with addresses vs 6.13 without, kmalloc_trace vs __kmalloc_cache_noprof, a .constprop clone", site(t, "x86_64-6.8-crc.txt", 0), site(t, "x86_64-6.13.txt", 0)},
		{"4.14 raw addresses vs 4.19 hashed, kmemleak_alloc frame present or not", site(t, "x86_64-4.14.txt", 1), site(t, "x86_64-4.19-hashed.txt", 3)},
		{"a percpu and a kmalloc object from the same init function", site(t, "x86_64-next-percpu.txt", 0), site(t, "x86_64-next-percpu.txt", 2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.a == "" || tt.a != tt.b {
				t.Errorf("signatures differ:\n%s\n%s", tt.a, tt.b)
			}
		})
	}
}

func TestSignatureOf_DifferentSitesDiffer(t *testing.T) {
	base := []Frame{{Function: "kmalloc"}, {Function: "wl_add_sta", Module: "wlmod"}, {Function: "wl_cfg", Module: "wlmod"}}
	otherModule := []Frame{{Function: "kmalloc"}, {Function: "wl_add_sta", Module: "wlmod2"}, {Function: "wl_cfg", Module: "wlmod2"}}
	otherCaller := []Frame{{Function: "kmalloc"}, {Function: "wl_add_sta", Module: "wlmod"}, {Function: "wl_scan", Module: "wlmod"}}
	s := SignatureOf(base)
	if s == SignatureOf(otherModule) {
		t.Errorf("a different module must give a different signature: %s", s)
	}
	if s == SignatureOf(otherCaller) {
		t.Errorf("a different caller must give a different signature: %s", s)
	}
	for _, ours := range []string{"wl_add_sta [wlmod]", "wl_cfg [wlmod]"} {
		if !strings.Contains(s, ours) {
			t.Errorf("signature %q lacks %q", s, ours)
		}
	}
}

func TestSignatureOf_KeepsAtMostSignatureFramesAndFoldsRepeats(t *testing.T) {
	frames := []Frame{{Function: "kmalloc"}, {Function: "a"}, {Function: "__do_sys_b"}, {Function: "__se_sys_b"},
		{Function: "c"}, {Function: "d"}, {Function: "e"}, {Function: "f"}}
	sig := SignatureOf(frames)
	want := "a < b < c < d"
	if !strings.HasSuffix(sig, " "+want) {
		t.Errorf("signature %q, want … %s", sig, want)
	}
	if strings.Count(sig, " < ")+1 != SignatureFrames {
		t.Errorf("signature %q keeps other than %d frames", sig, SignatureFrames)
	}
}

func TestSignatureOf_StopsAtTheInterruptedContext(t *testing.T) {
	a := []Frame{{Function: "kmalloc"}, {Function: "drv_isr", Module: "drv"}, {Function: "gic_handle_irq"}, {Function: "el1_irq"}, {Function: "foo_interrupted"}}
	b := []Frame{{Function: "kmalloc"}, {Function: "drv_isr", Module: "drv"}, {Function: "gic_handle_irq"}, {Function: "el1_irq"}, {Function: "bar_interrupted"}}
	if SignatureOf(a) != SignatureOf(b) {
		t.Errorf("the interrupted code leaked into the signature:\n%s\n%s", SignatureOf(a), SignatureOf(b))
	}
}

func TestSignatureOf_AllMachineryStillGetsAKey(t *testing.T) {
	if s := SignatureOf(nil); !strings.HasSuffix(s, " ?") {
		t.Errorf("signature of no frames %q, want … ?", s)
	}
	if s := SignatureOf([]Frame{{Function: "kmalloc"}, {Function: "kstrdup"}}); !strings.Contains(s, "kmalloc < kstrdup") {
		t.Errorf("signature %q should key on the machinery it has", s)
	}
}

func TestGrouper_SumsCountBytesAndDistinctSizes(t *testing.T) {
	in := bytes.Join([][]byte{fixture(t, "x86_64-next-percpu.txt"), fixture(t, "x86_64-next-percpu.txt")}, nil)
	rep, err := Parse(bytes.NewReader(in), Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := rep.Groups[0]
	if g.Culprit == nil || g.Culprit.Function != "wl_stats_init" {
		t.Fatalf("first group %+v, want wl_stats_init", g)
	}
	if g.Count != 4 || g.Bytes != 2*(8+64) {
		t.Errorf("count %d bytes %d, want 4 and %d", g.Count, g.Bytes, 2*(8+64))
	}
	if len(g.SizesBytes) != 2 || g.SizesBytes[0] != 8 || g.SizesBytes[1] != 64 {
		t.Errorf("sizes %v, want [8 64]", g.SizesBytes)
	}
	if len(g.Frames) == 0 || g.Frames[0].Function != "pcpu_alloc_noprof" {
		t.Errorf("representative frames %v should be the first object's whole stack", functions(g.Frames))
	}
	if rep.Groups[1].Count != 2 {
		t.Errorf("second group count %d, want 2", rep.Groups[1].Count)
	}
}

func TestGrouper_StreamsWithoutKeepingObjects(t *testing.T) {
	sc := NewScanner(bytes.NewReader(fixture(t, "x86_64-4.19-hashed.txt")))
	g := NewGrouper([]string{"wlmod"})
	for {
		o, err := sc.Next()
		if err != nil {
			break
		}
		g.Add(&o)
		if o.Signature == "" {
			t.Fatalf("Add left %s without a signature", o.Address)
		}
	}
	groups := g.Groups()
	if len(groups) != 3 || groups[0].Count != 2 || groups[0].Culprit.Function != "htab_map_alloc" {
		t.Errorf("groups %+v", groups)
	}
}

func TestGrouper_ObjectsFromTwoScannersAreNotConfused(t *testing.T) {
	// Symbol ids are per Scanner: the first stack of each file gets the same
	// ids, yet the sites differ.
	g := NewGrouper(nil)
	for _, name := range []string{"x86_64-6.13.txt", "x86_64-next-percpu.txt"} {
		sc := NewScanner(bytes.NewReader(fixture(t, name)))
		o, err := sc.Next()
		if err != nil {
			t.Fatal(err)
		}
		g.Add(&o)
		if want := SignatureOf(o.Frames); o.Signature != want {
			t.Errorf("%s: signature %q, want %q", name, o.Signature, want)
		}
	}
	if n := len(g.Groups()); n != 2 {
		t.Errorf("%d groups, want 2", n)
	}
}
