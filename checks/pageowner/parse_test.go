package pageowner

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/leakgate/leakgate/internal/golden"

	"github.com/leakgate/leakgate/checks/kmemleak"
)

var update = flag.Bool("update", false, "rewrite the .want files beside the fixtures from the parser's output")

const fixtureDir = "../../testdata/pageowner"

// own is the rig's own module, as the qemu-rig profile names it.
var own = []string{"wlansim"}

// want is what a fixture's .want file holds: the parse as data.
type want struct {
	Fatal    string   `json:"fatal,omitempty"`
	Pages    int64    `json:"pages"`
	BadLines []string `json:"bad_lines,omitempty"`
	// Stacks: "pages culprit | signature", the first 40 and the 10 largest
	// after Merge when there are more.
	Stacks  []string `json:"stacks"`
	Largest []string `json:"largest,omitempty"`
}

func describe(s Stack) string {
	c := "<none>"
	if s.Culprit != nil {
		c = s.Culprit.Function
		if s.Culprit.Module != "" {
			c += " [" + s.Culprit.Module + "]"
		}
	}
	d := fmt.Sprintf("%d pages, %d frames, culprit %s | %s", s.Pages, len(s.Frames), c, s.Signature)
	if s.Bookkeeping != "" {
		d += " | bookkeeping: " + s.Bookkeeping
	}
	return d
}

func goldenOf(b []byte) want {
	rep, err := Parse(b, own)
	g := want{Stacks: []string{}}
	if rep == nil {
		g.Fatal = err.Error()
		return g
	}
	g.Pages = rep.Pages
	var le *LineErrors
	if errors.As(err, &le) {
		for _, l := range le.Lines {
			g.BadLines = append(g.BadLines, fmt.Sprintf("line %d: %v", l.Line, l.Err))
		}
	}
	for i, s := range rep.Stacks {
		if i == 40 {
			break
		}
		g.Stacks = append(g.Stacks, describe(s))
	}
	if len(rep.Stacks) > 40 {
		for _, s := range Largest(Merge(rep.Stacks), 10) {
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

// TestParse_OneStackFieldByField checks a stack's frames, pages, culprit and
// signature against hand-written values.
func TestParse_OneStackFieldByField(t *testing.T) {
	in := " post_alloc_hook+0x1b0/0x1c0\n __alloc_pages_noprof+0x14e/0x2f0\n alloc_pages_noprof+0x5a/0xa0\n wlansim_rx_fill+0x21/0x80 [wlansim]\n vfs_write+0xd2/0x3f0\nnr_base_pages: 96\n\n"
	rep, err := Parse([]byte(in), nil)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(rep.Stacks) != 1 || rep.Pages != 96 {
		t.Fatalf("got %d stacks, %d pages; want 1, 96", len(rep.Stacks), rep.Pages)
	}
	s := rep.Stacks[0]
	wantFrames := []kmemleak.Frame{
		{Function: "post_alloc_hook", Offset: "+0x1b0/0x1c0", OffsetBytes: 0x1b0, LengthBytes: 0x1c0},
		{Function: "__alloc_pages_noprof", Offset: "+0x14e/0x2f0", OffsetBytes: 0x14e, LengthBytes: 0x2f0},
		{Function: "alloc_pages_noprof", Offset: "+0x5a/0xa0", OffsetBytes: 0x5a, LengthBytes: 0xa0},
		{Function: "wlansim_rx_fill", Offset: "+0x21/0x80", Module: "wlansim", OffsetBytes: 0x21, LengthBytes: 0x80},
		{Function: "vfs_write", Offset: "+0xd2/0x3f0", OffsetBytes: 0xd2, LengthBytes: 0x3f0},
	}
	got, _ := json.Marshal(s.Frames)
	want, _ := json.Marshal(wantFrames)
	if !bytes.Equal(got, want) {
		t.Errorf("frames\n got %s\nwant %s", got, want)
	}
	if s.Culprit == nil || *s.Culprit != wantFrames[3] {
		t.Errorf("culprit %+v, want wlansim_rx_fill [wlansim]", s.Culprit)
	}
	if !strings.HasSuffix(s.Signature, " wlansim_rx_fill [wlansim] < vfs_write") || s.Signature != kmemleak.SignatureOf(wantFrames) {
		t.Errorf("signature %q, want kmemleak.SignatureOf ending in wlansim_rx_fill [wlansim] < vfs_write", s.Signature)
	}
	if s.Pages*PageBytes != 393216 {
		t.Errorf("bytes %d, want 96 × 4096 = 393216", s.Pages*PageBytes)
	}
}

// TestParse_OwnModulesMoveTheCulpritNotTheSignature checks the own rule on a
// stack whose first non-allocator frame is a helper of the kernel's.
func TestParse_OwnModulesMoveTheCulpritNotTheSignature(t *testing.T) {
	in := " post_alloc_hook+0x1/0x2\n alloc_pages_noprof+0x1/0x2\n ring_refill_helper+0x1/0x2\n drv_rx_poll+0x1/0x2 [drv]\nnr_base_pages: 4\n"
	plain, err1 := Parse([]byte(in), nil)
	mine, err2 := Parse([]byte(in), []string{"drv"})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if c := plain.Stacks[0].Culprit; c == nil || c.Function != "ring_refill_helper" {
		t.Errorf("without own modules: culprit %+v, want ring_refill_helper", c)
	}
	if c := mine.Stacks[0].Culprit; c == nil || c.Function != "drv_rx_poll" {
		t.Errorf("with own [drv]: culprit %+v, want drv_rx_poll", c)
	}
	if plain.Stacks[0].Signature != mine.Stacks[0].Signature {
		t.Errorf("signature moved with own modules")
	}
}

// TestParse_Refusals checks what is not show_stacks and what is an empty one.
func TestParse_Refusals(t *testing.T) {
	for _, in := range []string{"garbage\n", "MemTotal: 1 kB\nMemFree: 1 kB\n", "nr_base_pages: 5\n"} {
		rep, err := Parse([]byte(in), nil)
		if rep != nil || !errors.Is(err, ErrNotShowStacks) {
			t.Errorf("Parse(%q) = %v, %v; want nil, ErrNotShowStacks", in, rep, err)
		}
	}
	for _, in := range []string{"", "\n\n"} {
		rep, err := Parse([]byte(in), nil)
		if err != nil || rep == nil || len(rep.Stacks) != 0 {
			t.Errorf("Parse(%q) = %v, %v; want an empty report (every stack below count_threshold)", in, rep, err)
		}
	}
}

// TestParse_FrameCapIsReportedOnce checks the per-stack frame limit.
func TestParse_FrameCapIsReportedOnce(t *testing.T) {
	var b strings.Builder
	for i := 0; i < MaxFrames+10; i++ {
		fmt.Fprintf(&b, " f%d+0x1/0x2\n", i)
	}
	b.WriteString("nr_base_pages: 1\n")
	rep, err := Parse([]byte(b.String()), nil)
	var le *LineErrors
	if !errors.As(err, &le) || len(le.Lines) != 1 || le.Lines[0].Line != MaxFrames+1 {
		t.Fatalf("err = %v, want one line error at line %d", err, MaxFrames+1)
	}
	if len(rep.Stacks) != 1 || len(rep.Stacks[0].Frames) != MaxFrames {
		t.Errorf("kept %d frames, want %d", len(rep.Stacks[0].Frames), MaxFrames)
	}
}

// TestMerge_SumsStacksOfOneSignature checks that two depot stacks differing
// below the signature's frames become one.
func TestMerge_SumsStacksOfOneSignature(t *testing.T) {
	in := " alloc_pages_noprof+0x1/0x2\n a+0x1/0x2\n b+0x1/0x2\n c+0x1/0x2\n d+0x1/0x2\n e1+0x1/0x2\nnr_base_pages: 2\n\n" +
		" alloc_pages_noprof+0x1/0x2\n a+0x1/0x2\n b+0x1/0x2\n c+0x1/0x2\n d+0x1/0x2\n e2+0x1/0x2\nnr_base_pages: 3\n\n" +
		" alloc_pages_noprof+0x1/0x2\n z+0x1/0x2\nnr_base_pages: 7\n"
	rep, err := Parse([]byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := Merge(rep.Stacks)
	if len(m) != 2 || m[0].Pages != 5 || m[1].Pages != 7 || !strings.HasSuffix(m[0].Signature, " a < b < c < d") {
		t.Errorf("Merge = %+v, want a<b<c<d with 5 pages then z with 7", m)
	}
	top := Largest(m, 1)
	if len(top) != 1 || top[0].Pages != 7 {
		t.Errorf("Largest = %+v, want the 7-page stack", top)
	}
}

// TestParser_ReuseGivesTheSameReport checks that a Parser's memory across
// reads changes nothing in the result.
func TestParser_ReuseGivesTheSameReport(t *testing.T) {
	in, err := os.ReadFile(filepath.Join(fixtureDir, "show_stacks-6.12.117-qemu-rig.txt"))
	if err != nil {
		t.Fatal(err)
	}
	p := NewParser(own)
	for i := 0; i < 3; i++ {
		got, err1 := p.Parse(in)
		want, err2 := Parse(in, own)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		if !bytes.Equal(g, w) {
			t.Fatalf("read %d: reused Parser differs from a fresh Parse", i)
		}
	}
}

// TestBookkeepingReason_RigStacks checks, on the rig's real show_stacks, that
// page_owner's dummy stack and kmemleak's metadata are bookkeeping and
// wlansim's RX stacks are not.
func TestBookkeepingReason_RigStacks(t *testing.T) {
	in, err := os.ReadFile(filepath.Join(fixtureDir, "show_stacks-6.12.117-qemu-rig.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Parse(in, own)
	if err != nil {
		t.Fatal(err)
	}
	var dummy, kml, wlansim int
	for _, s := range rep.Stacks {
		switch {
		case s.Frames[0].Function == "register_dummy_stack":
			dummy++
			if s.Bookkeeping == "" {
				t.Errorf("page_owner's dummy stack (%d pages) is not bookkeeping", s.Pages)
			}
		case s.Culprit != nil && s.Culprit.Module == "wlansim":
			wlansim++
			if s.Bookkeeping != "" {
				t.Errorf("wlansim stack %s marked as bookkeeping: %s", s.Culprit.Function, s.Bookkeeping)
			}
		case s.Bookkeeping == "kmemleak's own object metadata":
			kml++
		}
	}
	if dummy != 1 || wlansim < 2 || kml == 0 {
		t.Errorf("found %d dummy, %d wlansim, %d kmemleak-metadata stacks; want 1, at least 2, at least 1", dummy, wlansim, kml)
	}
}

// TestMerge_KeepsBookkeepingApartFromTheSameSignature checks that kmemleak's
// metadata pages for kernfs nodes do not fold into the kernfs nodes' own.
func TestMerge_KeepsBookkeepingApartFromTheSameSignature(t *testing.T) {
	in := " alloc_pages_noprof+0x1/0x2\n kmem_cache_alloc_noprof+0x1/0x2\n __alloc_object+0x1/0x2\n __create_object+0x1/0x2\n kmem_cache_alloc_noprof+0x1/0x2\n __kernfs_new_node+0x1/0x2\nnr_base_pages: 5\n\n" +
		" alloc_pages_noprof+0x1/0x2\n kmem_cache_alloc_noprof+0x1/0x2\n __kernfs_new_node+0x1/0x2\nnr_base_pages: 7\n"
	rep, err := Parse([]byte(in), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Stacks[0].Signature != rep.Stacks[1].Signature {
		t.Fatalf("precondition: the two stacks should share a signature: %q, %q", rep.Stacks[0].Signature, rep.Stacks[1].Signature)
	}
	m := Merge(rep.Stacks)
	if len(m) != 2 || m[0].Pages != 5 || m[1].Pages != 7 || m[0].Key() != "bookkeeping: "+m[0].Signature || m[1].Key() != m[1].Signature {
		t.Errorf("Merge = %+v, want the bookkeeping stack (5 pages) apart from the kernfs one (7)", m)
	}
}
