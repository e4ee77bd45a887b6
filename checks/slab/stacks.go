package slab

// frameInterner allocates each distinct stack line of one file once. Stacks
// repeat whole, so the line that followed a frame last time is compared
// first: a repeated stack costs one comparison per line, no hashing.
type frameInterner struct {
	index  map[string]int32
	frames []internedFrame
	prev   int32 // the previous line's frame, -1 at the start of a stack
}

type internedFrame struct {
	text string
	next int32 // the frame that followed this one last time; -1 for none
}

func newFrameInterner() *frameInterner {
	return &frameInterner{index: make(map[string]int32, 256), prev: -1}
}

// startStack tells get that the next line begins a new stack.
func (f *frameInterner) startStack() { f.prev = -1 }

// get returns line's text, shared with earlier equal lines.
func (f *frameInterner) get(line []byte) string {
	if f.prev >= 0 && int(f.prev) < len(f.frames) {
		if n := f.frames[f.prev].next; n >= 0 && f.frames[n].text == string(line) {
			f.prev = n
			return f.frames[n].text
		}
	}
	id, ok := f.index[string(line)]
	if !ok {
		text := string(line)
		if len(f.frames) >= maxInterned {
			f.prev = -1
			return text
		}
		id = int32(len(f.frames))
		f.frames = append(f.frames, internedFrame{text: text, next: -1})
		f.index[text] = id
	}
	if f.prev >= 0 && int(f.prev) < len(f.frames) {
		f.frames[f.prev].next = id
	}
	f.prev = id
	return f.frames[id].text
}

// stackArena hands out the stacks of one file from shared chunks instead of
// a slice per entry; each stack is capped so appending to it copies.
type stackArena struct {
	chunk []string
	start int // where the open stack begins in chunk
	n     int // lines in the open stack
}

// stackChunkLines is one chunk's size, 64 stacks of TRACK_ADDRS_COUNT
// frames; a stack never spans two chunks.
const stackChunkLines = 64 * trackAddrsCount

// add appends a line to the open stack.
func (a *stackArena) add(line string) {
	if len(a.chunk) == cap(a.chunk) {
		grown := make([]string, a.n, max(stackChunkLines, 2*a.n))
		copy(grown, a.chunk[a.start:])
		a.chunk, a.start = grown, 0
	}
	a.chunk = append(a.chunk, line)
	a.n++
}

// close gives the open stack, if any, to s and starts a new one.
func (a *stackArena) close(s *AllocSite) {
	if s != nil && a.n > 0 {
		s.Stack = a.chunk[a.start:len(a.chunk):len(a.chunk)]
	}
	a.start, a.n = len(a.chunk), 0
}
