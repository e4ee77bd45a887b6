package kmemleak

// FrameParser reads single backtrace lines in the kernel's %pS form —
// `[[<addr>] ]func+0x<off>/0x<len>[ [module]]` or a bare `0x<addr>` — as
// kmemleak, page_owner's show_stacks and stack_depot print them, with the
// same rules and the same name interning as a Scanner. Not safe for
// concurrent use; one per parse.
type FrameParser struct {
	s Scanner
}

// NewFrameParser returns a FrameParser with empty interning tables.
func NewFrameParser() *FrameParser {
	return &FrameParser{s: Scanner{names: make(map[string]string, 256), frames: make(map[string]*parsedFrame, 256)}}
}

// Parse reads one frame line; leading and trailing blanks are ignored. ok is
// false for a line that is not a frame (and for the ULONG_MAX end-of-stack
// marker old kernels print).
func (p *FrameParser) Parse(line []byte) (f Frame, ok bool) {
	t := trimBlanks(line)
	if len(t) == 0 || len(t) > MaxLineBytes {
		return Frame{}, false
	}
	pf := p.s.parseFrame(t, nil)
	if !pf.ok || !pf.keep {
		return Frame{}, false
	}
	return pf.f, true
}

// trimBlanks drops spaces, tabs, CRs and newlines at both ends.
func trimBlanks(b []byte) []byte {
	i, j := 0, len(b)
	for i < j && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	for j > i && (b[j-1] == ' ' || b[j-1] == '\t' || b[j-1] == '\r' || b[j-1] == '\n') {
		j--
	}
	return b[i:j]
}

// Blamer blames and signs many stacks with one memo of the skip table's
// answers, as a Grouper does: the same few hundred functions recur in every
// stack, and the table's regular expressions are the expensive part. Culprit
// and Signature give the same answers as the package functions. Not safe for
// concurrent use.
type Blamer struct {
	own  OwnMatcher
	memo *memoClassifier
}

// NewBlamer returns a Blamer that blames own's frames first (see Culprit).
func NewBlamer(own []string) *Blamer {
	return &Blamer{own: NewOwnMatcher(own), memo: newMemoClassifier()}
}

// Culprit is the package Culprit with this Blamer's own list; the result
// points into frames.
func (b *Blamer) Culprit(frames []Frame) *Frame {
	return culprit(frames, b.own, b.memo.classify)
}

// Signature is SignatureOf.
func (b *Blamer) Signature(frames []Frame) string {
	sig, _ := signature(frames, b.memo.classify)
	return sig
}
