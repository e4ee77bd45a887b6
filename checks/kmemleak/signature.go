package kmemleak

import (
	"fmt"
	"sort"
	"strings"
)

// SignatureFrames is how many frames a signature keeps, from the first frame
// past the allocator. Four separate two call paths into one helper, yet stay
// short enough that a build which inlines a deep caller differently (inlining
// differs between compilers, configs and kernel versions) still groups with
// the others.
const SignatureFrames = 4

// SignatureOf returns the stable key of an allocation site: the 16-hex-digit
// FNV-1a 64 digest of the readable form, a space, then the readable frames it was computed from, as
// "func [module] < caller [module] < …".
//
// The frames are normalised (NormaliseFunction: no clone suffixes, no syscall
// wrapper prefixes; no addresses, offsets or crc), start at the first frame
// that is not allocator machinery (allocator names change between kernels:
// kmalloc became kmalloc_noprof in 6.10), stop before the first context
// boundary (interrupt, softirq, idle, syscall entry, thread start: below it
// lies whatever the CPU was doing, which varies), leave out frames a
// symbolizer marked [inline] (the raw report has none), keep at most
// SignatureFrames, and fold consecutive repeats (__se_sys_bpf and
// __do_sys_bpf are both "bpf", inlined or not). So the same leak site groups
// across scans, reboots and kernel builds. A bare address (no KALLSYMS) is kept
// as printed: such signatures hold only within one boot. The signature does
// not depend on own modules.
func SignatureOf(frames []Frame) string {
	sig, _ := signature(frames, classifyUncached)
	return sig
}

// signature computes the key and its digest alone.
func signature(frames []Frame, classify func(string) frameClass) (sig, digest string) {
	var b strings.Builder
	h := sigWalk(frames, classify, func(piece string) { b.WriteString(piece) })
	digest = fmt.Sprintf("%016x", h)
	return digest + " " + b.String(), digest
}

// sigWalk feeds the readable form's pieces to emit (nil: don't) and returns
// the FNV-1a hash of their concatenation, so the common case of a known
// signature costs no allocation.
func sigWalk(frames []Frame, classify func(string) frameClass, emit func(string)) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64)
	put := func(s string) {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= prime64
		}
		if emit != nil {
			emit(s)
		}
	}
	start := firstBlamable(frames, classify)
	if start < 0 {
		// Nothing past the allocator: key on what is there, minus boundaries.
		start = 0
	}
	prev := ""
	n := 0
	for i := start; i < len(frames) && n < SignatureFrames; i++ {
		f := &frames[i]
		name := f.Function
		if !f.Raw {
			c := classify(f.Function)
			if c.boundary {
				break
			}
			if f.Inline {
				// Not in the target's own report: a symbolized copy of it
				// must group with the raw one.
				continue
			}
			name = c.norm
		}
		if name == prev {
			continue
		}
		prev = name
		if n > 0 {
			put(" < ")
		}
		put(name)
		if f.Module != "" {
			put(" [")
			put(f.Module)
			put("]")
		}
		n++
	}
	if n == 0 {
		put("?")
	}
	return h
}

// Grouper folds objects into groups by signature as they stream past, so a
// report of any size is grouped in memory bounded by its distinct signatures
// (at most MaxGroups; objects past that are counted in Ungrouped).
type Grouper struct {
	own       OwnMatcher
	memo      *memoClassifier
	groups    map[uint64]*groupAcc
	stacks    map[uint64]stackMemo
	scratch   []Frame // frames of a lean object, materialised on a memo miss
	src       *Scanner
	order     []*groupAcc
	ungrouped int
}

// MaxGroups caps the distinct signatures a Grouper tracks.
const MaxGroups = 1 << 14

// maxSizes caps the distinct sizes recorded per group.
const maxSizes = 64

type groupAcc struct {
	g     Group
	sizes map[int64]struct{}
}

// NewGrouper returns a Grouper that blames own's frames first (see Culprit).
func NewGrouper(own []string) *Grouper {
	return &Grouper{own: NewOwnMatcher(own), memo: newMemoClassifier(), groups: make(map[uint64]*groupAcc), stacks: make(map[uint64]stackMemo)}
}

// stackMemo is what a Grouper worked out for one exact stack.
type stackMemo struct {
	culprit int // index into the frames; -1 for none
	key     uint64
}

// Add sets o.Culprit and o.Signature and counts o in its group.
func (g *Grouper) Add(o *Object) {
	var key uint64
	// The stack key counts in one Scanner's symbol ids: memoise per Scanner.
	if g.src == nil {
		g.src = o.src
	}
	memo := o.stack != 0 && o.src == g.src
	if m, ok := g.stacks[o.stack]; ok && memo && m.culprit < len(o.Frames)+len(o.lazy) {
		key = m.key
		o.Culprit = nil
		if m.culprit >= 0 && m.culprit < len(o.Frames) {
			o.Culprit = &o.Frames[m.culprit]
		}
	} else {
		if len(o.lazy) > 0 && len(o.Frames) == 0 {
			g.scratch = g.scratch[:0]
			for _, pf := range o.lazy {
				g.scratch = append(g.scratch, pf.f)
			}
			o.Frames = g.scratch
		}
		o.Culprit = culprit(o.Frames, g.own, g.memo.classify)
		key = sigWalk(o.Frames, g.memo.classify, nil)
		if memo && len(g.stacks) < maxInterned {
			m := stackMemo{culprit: -1, key: key}
			for i := range o.Frames {
				if o.Culprit == &o.Frames[i] {
					m.culprit = i
				}
			}
			g.stacks[o.stack] = m
		}
	}
	acc, ok := g.groups[key]
	if !ok {
		if len(g.groups) >= MaxGroups {
			g.ungrouped++
			o.Signature, _ = signature(o.Frames, g.memo.classify)
			return
		}
		sig, digest := signature(o.Frames, g.memo.classify)
		frames := append([]Frame(nil), o.Frames...)
		acc = &groupAcc{g: Group{Signature: sig, Digest: digest, Frames: frames}, sizes: map[int64]struct{}{}}
		if o.Culprit != nil {
			c := *o.Culprit
			acc.g.Culprit = &c
		}
		g.groups[key] = acc
		g.order = append(g.order, acc)
	}
	o.Signature = acc.g.Signature
	o.lazy = nil
	acc.g.Count++
	acc.g.Bytes += o.SizeBytes
	if _, seen := acc.sizes[o.SizeBytes]; !seen && len(acc.sizes) < maxSizes {
		acc.sizes[o.SizeBytes] = struct{}{}
	}
}

// Ungrouped is the number of objects not counted because MaxGroups was reached.
func (g *Grouper) Ungrouped() int { return g.ungrouped }

// Groups returns the groups, most objects first, then most bytes, then by
// signature, so the order is the same for the same report.
func (g *Grouper) Groups() []Group {
	out := make([]Group, 0, len(g.order))
	for _, acc := range g.order {
		gr := acc.g
		gr.SizesBytes = make([]int64, 0, len(acc.sizes))
		for s := range acc.sizes {
			gr.SizesBytes = append(gr.SizesBytes, s)
		}
		sort.Slice(gr.SizesBytes, func(i, j int) bool { return gr.SizesBytes[i] < gr.SizesBytes[j] })
		out = append(out, gr)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Signature < out[j].Signature
	})
	return out
}
