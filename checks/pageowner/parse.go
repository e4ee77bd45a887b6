// Package pageowner parses page_owner's per-stack summary,
// /sys/kernel/debug/page_owner_stacks/show_stacks (Linux ≥ 6.10 with
// CONFIG_PAGE_OWNER, booted with page_owner=on): the base pages still
// allocated by each distinct allocation stack. It is what names a driver
// when /proc/allocinfo can only name a shared helper (page_frag, page_pool,
// skb pages), and it sees pages that slabinfo and kmemleak never track.
//
// Format (mm/page_owner.c stack_print, 6.12): per stack, its frames one per
// line as " %pS" (a leading space, "func+0x<off>/0x<len>[ [module]]"), then
// "nr_base_pages: <N>" and a blank line:
//
//	 post_alloc_hook+0x1b0/0x1c0
//	 get_page_from_freelist+0x58e/0x1090
//	 __alloc_pages_noprof+0x14e/0x2f0
//	 wlansim_rx_fill+0x21/0x80 [wlansim]
//	nr_base_pages: 128
//
// N is a live gauge: the stack's refcount minus one, raised by 1<<order at
// each allocation and lowered at each free, so it is the number of base pages
// that stack holds now — judge it as a series like a slab cache's objects.
// Stacks holding no page are not printed.
//
// count_threshold: writing a number to
// /sys/kernel/debug/page_owner_stacks/count_threshold (mode 0600, debugfs;
// read it back with cat) makes show_stacks print only the stacks holding at
// least that many base pages. The setting is global and stays until changed
// or reboot; 0 prints every stack. A boot on a small target has ≈ 1,000
// stacks (≈ 250 KB); with a threshold of a few hundred pages the read stays a
// few KB and still shows any leak once it is material. Set it once before
// the soak (and restore it after), never per sample; a stack below the
// threshold simply vanishes from a sample, so a series must treat a missing
// stack as "below threshold", not as zero.
//
// The whole-page dump /sys/kernel/debug/page_owner (a record per allocated
// page, tens of MB) is evidence for the end of a failed run, never a sample.
package pageowner

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/leakgate/leakgate/checks/internal/lines"
	"github.com/leakgate/leakgate/checks/kmemleak"
)

// Stack is one allocation stack and the base pages it holds.
type Stack struct {
	// Frames in the order printed: the allocator first, the caller last.
	Frames []kmemleak.Frame `json:"frames"`
	// Pages is nr_base_pages: base pages allocated from this stack and not
	// yet freed. Bytes = Pages × the target's page size (PageBytes).
	Pages int64 `json:"pages"`
	// Culprit is the frame blamed (kmemleak.Culprit: own modules first, then
	// the first frame past the page, frag, page_pool and skb allocators);
	// nil when every frame is allocator machinery.
	Culprit *kmemleak.Frame `json:"culprit,omitempty"`
	// Signature is the stable key of the stack (kmemleak.SignatureOf: digest
	// and up to four normalised frames past the allocator), the same across
	// samples, boots and builds; distinct stacks can share one (Merge).
	Signature string `json:"signature"`
	// Bookkeeping is BookkeepingReason: set for the detectors' own memory
	// and for pages without a saved stack, which a judge charts but never
	// blames on the product.
	Bookkeeping string `json:"bookkeeping,omitempty"`
}

// PageBytes is the base page size on x86_64 and on most arm64 and MIPS
// access-point kernels. A target built with 16 KiB or 64 KiB pages says so
// in /proc/self/smaps ("KernelPageSize:"); multiply Pages by that instead.
const PageBytes = 4096

// Report is one parsed show_stacks.
type Report struct {
	// Stacks in file order.
	Stacks []Stack `json:"stacks"`
	// Pages totals every stack's pages.
	Pages int64 `json:"pages"`
}

// ErrNotShowStacks is returned for input that holds lines but no stack.
var ErrNotShowStacks = errors.New("not page_owner show_stacks: no \"nr_base_pages:\" line after frames; read /sys/kernel/debug/page_owner_stacks/show_stacks on a kernel ≥ 6.10 built with CONFIG_PAGE_OWNER and booted with page_owner=on")

// LineErrors collects the lines that did not parse; the stacks that did are
// returned next to it.
type LineErrors = lines.Errors

// Limits that bound memory whatever the input.
const (
	// MaxFrames is the most frames kept per stack (the kernel saves 16).
	MaxFrames = 64
	// MaxStacks is the most stacks kept; the rest are counted in the error.
	MaxStacks = 1 << 16
)

var (
	errNotFrame   = errors.New("neither a frame nor \"nr_base_pages: <N>\"")
	errPages      = errors.New("nr_base_pages is not a non-negative decimal")
	errNoPages    = errors.New("stack ended without its nr_base_pages line (output cut short?)")
	errTooMany    = fmt.Errorf("more than %d stacks; the rest were dropped (raise count_threshold)", MaxStacks)
	errManyFrames = fmt.Errorf("more than %d frames in one stack; the rest were dropped", MaxFrames)
)

const pagesPrefix = "nr_base_pages:"

// Parse reads a whole show_stacks. own lists module names or symbol prefixes
// whose frames are blamed first (see kmemleak.OwnMatcher). An empty input is
// a valid, empty report (every stack below count_threshold). A nil error
// means every line parsed; otherwise a *LineErrors (line number, text,
// reason) is returned together with every stack that did. Input with lines
// but no stack at all returns ErrNotShowStacks and no Report.
func Parse(b []byte, own []string) (*Report, error) {
	return NewParser(own).Parse(b)
}

// Parser parses the successive show_stacks reads of one soak: it remembers
// the frames it has read and the culprit table's answers between reads (both
// bounded), so a sample costs a fraction of a fresh Parse. Not safe for
// concurrent use.
type Parser struct {
	frames *kmemleak.FrameParser
	blame  *kmemleak.Blamer
}

// NewParser returns a Parser blaming own's frames first (see Parse).
func NewParser(own []string) *Parser {
	return &Parser{frames: kmemleak.NewFrameParser(), blame: kmemleak.NewBlamer(own)}
}

// Parse is the package Parse with this Parser's own list and memory.
func (p *Parser) Parse(b []byte) (*Report, error) {
	rep := &Report{Stacks: []Stack{}}
	fp, blame := p.frames, p.blame
	var errs LineErrors
	var frames []kmemleak.Frame
	startLine := 0 // line of the first frame of the stack being read
	nonBlank := 0
	lineNo := 0
	dropped := 0
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		lineNo++
		t := lines.TrimSpace(line)
		if len(t) == 0 {
			if len(frames) > 0 {
				errs.Add(startLine, line, errNoPages)
				frames = frames[:0]
			}
			continue
		}
		nonBlank++
		if rest, ok := bytes.CutPrefix(t, []byte(pagesPrefix)); ok {
			n, err := strconv.ParseInt(string(lines.TrimSpace(rest)), 10, 64)
			if err != nil || n < 0 {
				errs.Add(lineNo, line, errPages)
				frames = frames[:0]
				continue
			}
			if len(frames) == 0 {
				errs.Add(lineNo, line, errors.New("nr_base_pages without frames before it"))
				continue
			}
			if len(rep.Stacks) >= MaxStacks {
				dropped++
				frames = frames[:0]
				continue
			}
			rep.Stacks = append(rep.Stacks, newStack(frames, n, blame))
			rep.Pages += n
			frames = frames[:0]
			continue
		}
		f, ok := fp.Parse(t)
		if !ok {
			errs.Add(lineNo, line, errNotFrame)
			continue
		}
		if len(frames) == 0 {
			startLine = lineNo
		}
		if len(frames) >= MaxFrames {
			if len(frames) == MaxFrames {
				errs.Add(lineNo, line, errManyFrames)
				frames = append(frames, kmemleak.Frame{}) // marks the cap as reported
			}
			continue
		}
		frames = append(frames, f)
	}
	if len(frames) > 0 {
		errs.Add(startLine, nil, errNoPages)
	}
	if dropped > 0 {
		errs.Add(lineNo, nil, fmt.Errorf("%w: %d dropped", errTooMany, dropped))
	}
	if len(rep.Stacks) == 0 && nonBlank > 0 {
		return nil, ErrNotShowStacks
	}
	if len(errs.Lines) > 0 {
		return rep, &errs
	}
	return rep, nil
}

// newStack copies frames (dropping the cap marker) and blames and signs them.
func newStack(frames []kmemleak.Frame, pages int64, blame *kmemleak.Blamer) Stack {
	if len(frames) > MaxFrames {
		frames = frames[:MaxFrames]
	}
	s := Stack{Frames: append([]kmemleak.Frame(nil), frames...), Pages: pages}
	s.Signature = blame.Signature(s.Frames)
	s.Bookkeeping = BookkeepingReason(s.Frames)
	if c := blame.Culprit(s.Frames); c != nil {
		cc := *c
		s.Culprit = &cc
	}
	return s
}

// Key is the stack's series key: its Signature, prefixed with
// "bookkeeping: " for a bookkeeping stack — the slab pages of kmemleak's
// metadata for kernfs nodes sign like the kernfs nodes' own slab pages, and
// the two must not fold into one series.
func (s Stack) Key() string {
	if s.Bookkeeping != "" {
		return "bookkeeping: " + s.Signature
	}
	return s.Signature
}

// Merge folds stacks with the same Key into one, summing Pages and keeping
// the first one's frames and culprit, in first-seen order: two depot stacks
// that differ only below the signature's frames are one leak site.
func Merge(stacks []Stack) []Stack {
	out := make([]Stack, 0, len(stacks))
	at := make(map[string]int, len(stacks))
	for _, s := range stacks {
		k := s.Key()
		if i, ok := at[k]; ok {
			out[i].Pages += s.Pages
			continue
		}
		at[k] = len(out)
		out = append(out, s)
	}
	return out
}

// Largest returns the n stacks holding the most pages, most first, ties by
// Signature; stacks is not reordered.
func Largest(stacks []Stack, n int) []Stack {
	out := append([]Stack(nil), stacks...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Pages != out[j].Pages {
			return out[i].Pages > out[j].Pages
		}
		return out[i].Signature < out[j].Signature
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
