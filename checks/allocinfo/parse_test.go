package allocinfo

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/internal/golden"
)

var update = flag.Bool("update", false, "rewrite the .want files beside the fixtures from the parser's output")

const fixtureDir = "../../testdata/allocinfo"

// want is what a fixture's .want file holds: the parse as data.
type want struct {
	Fatal      string   `json:"fatal,omitempty"`
	Version    string   `json:"version,omitempty"`
	Sites      int      `json:"sites"`
	BadLines   []string `json:"bad_lines,omitempty"`
	VersionErr string   `json:"version_error,omitempty"`
	// Keys lists every site as "Key bytes=B calls=C[ inaccurate][ generic: why]",
	// at most the first 40 and the 10 largest by bytes.
	Keys    []string `json:"keys"`
	Largest []string `json:"largest,omitempty"`
}

func describe(s Site) string {
	d := fmt.Sprintf("%s bytes=%d calls=%d", s.Key(), s.Bytes, s.Calls)
	if s.Inaccurate {
		d += " inaccurate"
	}
	if len(s.Extra) > 0 {
		d += " extra=" + strings.Join(s.Extra, ",")
	}
	if why := GenericReason(s); why != "" {
		d += " generic"
	}
	return d
}

func goldenOf(b []byte) want {
	info, err := Parse(b)
	var g want
	if info == nil {
		g.Fatal = err.Error()
		g.Keys = []string{}
		return g
	}
	g.Version = info.Version
	g.Sites = len(info.Sites)
	var le *LineErrors
	if errors.As(err, &le) {
		for _, l := range le.Lines {
			g.BadLines = append(g.BadLines, fmt.Sprintf("line %d: %v", l.Line, l.Err))
		}
	}
	if errors.Is(err, ErrUnsupportedVersion) {
		g.VersionErr = err.Error()
	}
	g.Keys = []string{}
	for i, s := range info.Sites {
		if i == 40 {
			break
		}
		g.Keys = append(g.Keys, describe(s))
	}
	if len(info.Sites) > 40 {
		top := Largest(Merge(info.Sites), 10)
		for _, s := range top {
			g.Largest = append(g.Largest, describe(s))
		}
	}
	return g
}

// TestParse_Fixtures parses every fixture and compares the result with the
// .want file beside it (go test -update rewrites them; review the diff).
func TestParse_Fixtures(t *testing.T) {
	golden.Each(t, fixtureDir, "*.txt", *update, func(in []byte) any { return goldenOf(in) })
}

// TestParse_Lines checks single lines field by field, as the kernel prints them.
func TestParse_Lines(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Site
	}{
		{"a module's site keeps its module", "       16384        4 drivers/net/wireless/wlansim/rx.c:212 [wlansim] func:wlansim_rx_fill ",
			Site{File: "drivers/net/wireless/wlansim/rx.c", Line: 212, Module: "wlansim", Func: "wlansim_rx_fill", Bytes: 16384, Calls: 4}},
		{"a built-in site has no module", "     2894464    22613 fs/kernfs/dir.c:615 func:__kernfs_new_node ",
			Site{File: "fs/kernfs/dir.c", Line: 615, Func: "__kernfs_new_node", Bytes: 2894464, Calls: 22613}},
		{"negative bytes are kept (profiling switched on late)", "       -4096        0 mm/page_alloc.c:4982 func:__page_frag_cache_refill ",
			Site{File: "mm/page_alloc.c", Line: 4982, Func: "__page_frag_cache_refill", Bytes: -4096}},
		{"version 2.0's accurate:no marks the site", "       49152       48 arch/x86/kernel/cpu/mce/core.c:2709 func:mce_device_create accurate:no ",
			Site{File: "arch/x86/kernel/cpu/mce/core.c", Line: 2709, Func: "mce_device_create", Bytes: 49152, Calls: 48, Inaccurate: true}},
		{"unknown key:value pairs are kept as printed", "1 1 a.c:1 [m] func:f k:v accurate:no z:9",
			Site{File: "a.c", Line: 1, Module: "m", Func: "f", Bytes: 1, Calls: 1, Inaccurate: true, Extra: []string{"k:v", "z:9"}}},
		{"a tab-separated line with a CR still parses", "1\t2\ta.c:3\tfunc:f\r",
			Site{File: "a.c", Line: 3, Func: "f", Bytes: 1, Calls: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Parse([]byte(header + " 1.0\n" + tt.line + "\n"))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if len(info.Sites) != 1 {
				t.Fatalf("got %d sites, want 1", len(info.Sites))
			}
			got, _ := json.Marshal(info.Sites[0])
			want, _ := json.Marshal(tt.want)
			if !bytes.Equal(got, want) {
				t.Errorf("site\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestParse_BadLinesAreReportedAndTheRestKept checks the line numbers and
// reasons of bad lines while the good ones survive.
func TestParse_BadLinesAreReportedAndTheRestKept(t *testing.T) {
	in := strings.Join([]string{
		"allocinfo - version: 1.0",
		"#     <size>  <calls> <tag info>",
		"         100        1 a.c:1 func:good_one ",
		"x 1 a.c:2 func:f",
		"1 -1 a.c:3 func:f",
		"1 1 a.c func:f",
		"1 1 a.c:x func:f",
		"1 1 a.c:4 [mod func:f",
		"1 1 a.c:5 [mod]",
		"1 1 a.c:6 f",
		"         200        2 b.c:7 [m] func:good_two ",
	}, "\n")
	info, err := Parse([]byte(in))
	var le *LineErrors
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want *LineErrors", err)
	}
	var got []string
	for _, l := range le.Lines {
		got = append(got, fmt.Sprintf("%d %v", l.Line, l.Err))
	}
	want := []string{
		"4 " + errBytes.Error(),
		"5 " + errCalls.Error(),
		"6 " + errTag.Error(),
		"7 " + errLineNo.Error(),
		"8 " + errModule.Error(),
		"9 " + errFunc.Error(),
		"10 " + errFunc.Error(),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("bad lines\n got %q\nwant %q", got, want)
	}
	if len(info.Sites) != 2 || info.Sites[0].Key() != "a.c:1 func:good_one" || info.Sites[1].Key() != "b.c:7 [m] func:good_two" {
		t.Errorf("kept sites = %+v, want good_one and good_two", info.Sites)
	}
}

// TestParse_RefusesWhatIsNotAllocinfo checks the fatal cases.
func TestParse_RefusesWhatIsNotAllocinfo(t *testing.T) {
	for _, in := range []string{"", "\n\n", "MemTotal:  1024 kB\n", "slabinfo - version: 2.1\n# name\nkmalloc-64 1 1 64 64 1 : tunables 0 0 0 : slabdata 1 1 0\n"} {
		info, err := Parse([]byte(in))
		if info != nil || !errors.Is(err, ErrNotAllocinfo) {
			t.Errorf("Parse(%q) = %v, %v; want nil, ErrNotAllocinfo", in, info, err)
		}
	}
}

// TestParse_HeaderAloneIsAnEmptyFile covers a kernel whose profiling has no
// sites to show (never in practice, but not an error).
func TestParse_HeaderAloneIsAnEmptyFile(t *testing.T) {
	info, err := Parse([]byte("allocinfo - version: 1.0\n#     <size>  <calls> <tag info>\n"))
	if err != nil || info.Version != "1.0" || len(info.Sites) != 0 {
		t.Fatalf("Parse = %+v, %v; want version 1.0, no sites, no error", info, err)
	}
}

// TestParse_UnknownMajorVersionKeepsTheSites checks that a future format is
// flagged and still read as far as it goes.
func TestParse_UnknownMajorVersionKeepsTheSites(t *testing.T) {
	info, err := Parse([]byte("allocinfo - version: 3.0\n1 1 a.c:1 func:f\n"))
	if !errors.Is(err, ErrUnsupportedVersion) || info == nil || len(info.Sites) != 1 {
		t.Fatalf("Parse = %+v, %v; want 1 site and ErrUnsupportedVersion", info, err)
	}
	if !strings.Contains(err.Error(), `line 1: version "3.0"`) {
		t.Errorf("error %q does not name the line and version", err)
	}
}

// TestMerge_FoldsDuplicateKeys checks that one inline helper's tags per
// compilation unit become one site.
func TestMerge_FoldsDuplicateKeys(t *testing.T) {
	sites := []Site{
		{File: "include/linux/skbuff.h", Line: 3521, Func: "__dev_alloc_pages_noprof", Bytes: 8192, Calls: 2},
		{File: "a.c", Line: 1, Func: "f", Bytes: 1, Calls: 1},
		{File: "include/linux/skbuff.h", Line: 3521, Func: "__dev_alloc_pages_noprof", Bytes: 4096, Calls: 1, Inaccurate: true},
		{File: "a.c", Line: 1, Module: "m", Func: "f", Bytes: 5, Calls: 5},
	}
	got := Merge(sites)
	var lines []string
	for _, s := range got {
		lines = append(lines, describe(s))
	}
	want := []string{
		"include/linux/skbuff.h:3521 func:__dev_alloc_pages_noprof bytes=12288 calls=3 inaccurate generic",
		"a.c:1 func:f bytes=1 calls=1",
		"a.c:1 [m] func:f bytes=5 calls=5",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("Merge\n got %q\nwant %q", lines, want)
	}
}

// TestLargest_OrdersByBytesThenKey checks the order and the cut.
func TestLargest_OrdersByBytesThenKey(t *testing.T) {
	sites := []Site{{File: "b.c", Line: 1, Func: "f", Bytes: 10}, {File: "a.c", Line: 1, Func: "f", Bytes: 10}, {File: "c.c", Line: 1, Func: "f", Bytes: 30}, {File: "d.c", Line: 1, Func: "f", Bytes: 1}}
	got := Largest(sites, 3)
	var keys []string
	for _, s := range got {
		keys = append(keys, s.Key())
	}
	if strings.Join(keys, ",") != "c.c:1 func:f,a.c:1 func:f,b.c:1 func:f" {
		t.Errorf("Largest = %v", keys)
	}
	if sites[0].File != "b.c" {
		t.Errorf("Largest reordered its input")
	}
}

// TestGenericReason_Table checks which sites are generic, anchored.
func TestGenericReason_Table(t *testing.T) {
	tests := []struct {
		name    string
		site    Site
		generic bool
	}{
		{"the page-frag refill is generic", Site{File: "mm/page_alloc.c", Func: "__page_frag_cache_refill"}, true},
		{"6.13's page_frag_cache.c is generic too", Site{File: "mm/page_frag_cache.c", Func: "__page_frag_cache_refill"}, true},
		{"a skb helper is generic", Site{File: "net/core/skbuff.c", Func: "kmalloc_reserve"}, true},
		{"the inline RX page helper is generic", Site{File: "include/linux/skbuff.h", Func: "__dev_alloc_pages_noprof"}, true},
		{"page_pool is generic", Site{File: "net/core/page_pool.c", Func: "__page_pool_alloc_pages_slow"}, true},
		{"the socket page-frag refill is generic", Site{File: "net/core/sock.c", Func: "skb_page_frag_refill"}, true},
		{"devres is generic", Site{File: "drivers/base/devres.c", Func: "devm_kmalloc"}, true},
		{"a driver's RX fill names its holder", Site{File: "drivers/net/wireless/wlansim/rx.c", Module: "wlansim", Func: "wlansim_rx_fill"}, false},
		{"a driver function named like an allocator is not generic (anchored on the file)", Site{File: "drivers/net/wireless/x/dma.c", Func: "__page_frag_cache_refill"}, false},
		{"a file whose name merely ends like skbuff.c is not generic", Site{File: "drivers/net/my_net/core/skbuff.c.orig", Func: "f"}, false},
		{"kernfs nodes name their holder", Site{File: "fs/kernfs/dir.c", Func: "__kernfs_new_node"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsGeneric(tt.site); got != tt.generic {
				t.Errorf("IsGeneric(%s) = %v (%q), want %v", tt.site.Key(), got, GenericReason(tt.site), tt.generic)
			}
		})
	}
}
