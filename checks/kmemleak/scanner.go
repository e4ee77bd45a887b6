package kmemleak

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/leakgate/leakgate/checks/internal/lines"
)

// Scanner reads a kmemleak report one object at a time in bounded memory:
// lines are read through a fixed 64 KiB buffer, at most MaxLineBytes of a line
// are kept, and an object keeps at most MaxFrames frames and MaxHexDumpLines
// hex dump lines.
type Scanner struct {
	br      *bufio.Reader
	long    []byte // the kept head of a line longer than the read buffer
	capped  bool   // the last line read was longer than MaxLineBytes
	next    Object // a header read while finishing the previous object
	hasNext bool
	skipped int
	names   map[string]string // interned function names, offsets, modules, comms
	frames  map[string]*parsedFrame
	// lean reads only what grouping needs (size and frames, the latter as
	// pointers in Object.lazy): for Parse's objects it will not keep.
	lean bool
	ptrs []*parsedFrame
	// lastComm is the previous object's task name: leaks come in runs.
	lastComm string
	done     bool
}

// Limits that bound a Scanner's memory whatever the input.
const (
	// MaxLineBytes is how much of one line is kept; the rest is read and dropped.
	MaxLineBytes = 4096
	// MaxFrames is the most frames kept per object (the kernel prints ≤ 16).
	MaxFrames = 64
	// MaxHexDumpLines is the most hex dump lines kept per object (the kernel prints ≤ 2).
	MaxHexDumpLines = 4
	readBufferBytes = 64 << 10
	maxInterned     = 1 << 14
	// maxInternedBytes keeps garbage out of the caches: KSYM_NAME_LEN is 512.
	maxInternedBytes = 512
)

// NewScanner returns a Scanner reading r.
func NewScanner(r io.Reader) *Scanner {
	return &Scanner{br: bufio.NewReaderSize(r, readBufferBytes), names: make(map[string]string, 256), frames: make(map[string]*parsedFrame, 256)}
}

// Next returns the next object, io.EOF after the last one, or a wrapped read
// error. Lines that belong to no block are skipped and counted (Skipped). An
// object cut short — by the end of input, a read error, or the next header
// before its "backtrace" line — is returned with Truncated set. Culprit and
// Signature are left for a Grouper to set.
func (s *Scanner) Next() (Object, error) {
	if s.done {
		return Object{}, io.EOF
	}
	var obj Object
	if s.hasNext {
		obj, s.hasNext = s.next, false
	} else {
		found := false
		for !found {
			line, _, err := s.readLine()
			if err != nil {
				s.done = true
				return Object{}, err
			}
			line = stripLogPrefix(line)
			t := lines.TrimSpace(line)
			if len(t) == 0 {
				continue
			}
			if bytes.HasPrefix(t, headerPrefix) {
				if obj, found = s.parseHeader(t); found {
					break
				}
			}
			s.skipped++
		}
	}
	st := stateHeader
	var prev *parsedFrame // the last frame kept, for parseFrame's prediction
	frames := 0
	// sawBacktrace: the block got as far as its "backtrace:" line. Its frames
	// may still be none (6.x, when the stack depot had no room).
	sawBacktrace := false
	for {
		line, newline, err := s.readLine()
		if err == io.EOF {
			s.done = true
			if !sawBacktrace {
				obj.Truncated = true
			}
			return obj, nil
		}
		if err != nil {
			s.done = true
			obj.Truncated = true
			return obj, err
		}
		if !newline {
			// A report's lines always end in a newline: the last one was cut.
			obj.Truncated = true
		}
		line = stripLogPrefix(line)
		t := lines.TrimSpace(line)
		if st == stateFrames && len(t) > 0 && (line[0] == ' ' || line[0] == '\t' || bytes.HasPrefix(t, inlinedByPrefix)) {
			// addr2line's "(inlined by) caller file.c:12" (scripts/
			// decode_stacktrace.sh) is the next frame out.
			if t[0] == '(' {
				t = lines.TrimSpace(bytes.TrimPrefix(t, inlinedByPrefix))
			}
			// The common line, first: a frame.
			pf := s.parseFrame(t, prev)
			keep, ok := pf.keep, pf.ok
			if !newline && ok && !wholeFrame(t) || s.capped {
				// The input ended inside this frame's name or offset, or the
				// line was longer than any symbol: not a frame to trust.
				ok = false
			}
			switch {
			case !ok && (bytes.HasPrefix(t, commPrefix) || bytes.HasPrefix(t, backtracePrefix) || bytes.HasPrefix(t, hexDumpPrefix)):
				// A second block's body: its header was lost (glued to a cut line).
				st = stateClosed
				s.skipped++
			case !ok || frames >= MaxFrames:
				s.skipped++
			case keep:
				prev = pf
				obj.stack = stackStep(obj.stack, pf.id, frames == 0)
				obj.src = s
				frames++
				if s.lean {
					if frames == 1 {
						s.ptrs = s.ptrs[:0]
					}
					s.ptrs = append(s.ptrs, pf)
					obj.lazy = s.ptrs
					break
				}
				if obj.Frames == nil {
					obj.Frames = make([]Frame, 0, 16)
				}
				obj.Frames = append(obj.Frames, pf.f)
			}
			continue
		}
		switch {
		case len(t) == 0:
		case bytes.HasPrefix(t, headerPrefix):
			if next, ok := s.parseHeader(t); ok {
				if !sawBacktrace {
					obj.Truncated = true
				}
				s.next, s.hasNext = next, true
				return obj, nil
			}
			s.skipped++
		case line[0] != ' ' && line[0] != '\t':
			// Every line of a block but its header is indented: this one
			// ends the block, and what follows up to the next header is
			// not the block's (a delimiter, a log line).
			st = stateClosed
			s.skipped++
		case st == stateHeader && bytes.HasPrefix(t, commPrefix):
			if !s.lean {
				s.parseComm(&obj, t[len(commPrefix):])
			}
			st = stateComm
		case st < stateFrames && bytes.HasPrefix(t, hexDumpPrefix):
			st = stateHex
		case st == stateHex && isHexRow(t):
			if s.lean {
				break
			}
			if len(obj.HexDump) < MaxHexDumpLines {
				obj.HexDump = append(obj.HexDump, validString(t))
			} else {
				s.skipped++
			}
		case st < stateFrames && bytes.HasPrefix(t, backtracePrefix):
			if !s.lean {
				obj.CRC = parseCRC(t[len(backtracePrefix):])
			}
			st = stateFrames
			sawBacktrace = true
		default:
			s.skipped++
		}
	}
}

// stackStep folds one frame's symbol id into an object's stack key: FNV-1a
// over the ids, 0 as soon as one frame had none (too many distinct symbols).
func stackStep(h uint64, id uint32, first bool) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	if first {
		h = offset64
	}
	if h == 0 || id == 0 {
		return 0
	}
	h ^= uint64(id)
	h *= prime64
	if h == 0 {
		h = 1
	}
	return h
}

// Skipped is the number of lines so far that belonged to no block or could
// not be read as what their place in a block calls for.
func (s *Scanner) Skipped() int { return s.skipped }

type blockState int

const (
	stateHeader blockState = iota // after "unreferenced object"
	stateComm                     // after the comm line
	stateHex                      // inside the hex dump
	stateFrames                   // after "backtrace:"
	stateClosed                   // after an unindented line that is no header
)

var (
	headerPrefix    = []byte("unreferenced object")
	commPrefix      = []byte(`comm "`)
	hexDumpPrefix   = []byte("hex dump")
	backtracePrefix = []byte("backtrace")
	pidSep          = []byte(`", pid `)
	jiffiesSep      = []byte(", jiffies ")
	agePrefix       = []byte("(age ")
	sizePrefix      = []byte("(size ")
	crcPrefix       = []byte("(crc ")
)

// readLine returns the next line without its line end, at most MaxLineBytes
// of it, and whether it ended in a newline. The slice is valid until the next
// call.
func (s *Scanner) readLine() ([]byte, bool, error) {
	b, err := s.br.ReadSlice('\n')
	s.capped = false
	switch {
	case err == nil:
		if len(b) > MaxLineBytes+2 {
			s.capped = true
			return b[:MaxLineBytes], true, nil
		}
		return dropEOL(b), true, nil
	case errors.Is(err, bufio.ErrBufferFull):
		s.capped = true
		s.long = append(s.long[:0], b[:min(len(b), MaxLineBytes)]...)
		for {
			b, err = s.br.ReadSlice('\n')
			if room := MaxLineBytes - len(s.long); room > 0 {
				s.long = append(s.long, b[:min(len(b), room)]...)
			}
			switch {
			case err == nil:
				return dropEOL(s.long), true, nil
			case errors.Is(err, bufio.ErrBufferFull):
			case err == io.EOF:
				return s.long, false, nil
			default:
				return nil, false, fmt.Errorf("read kmemleak report: %w", err)
			}
		}
	case err == io.EOF:
		if len(b) > MaxLineBytes {
			s.capped = true
			return b[:MaxLineBytes], false, nil
		}
		if len(b) > 0 {
			return b, false, nil
		}
		return nil, false, io.EOF
	default:
		return nil, false, fmt.Errorf("read kmemleak report: %w", err)
	}
}

// stripLogPrefix lets the parser read kmemleak.verbose=1 reports from the
// kernel log: it drops a leading "<4>" level and "[ 4021.330712] " timestamp,
// then a "kmemleak: " prefix (pr_fmt; frame lines have none, as
// stack_trace_print prints them bare). Report lines start with 'u' or a
// space and pass through untouched.
func stripLogPrefix(line []byte) []byte {
	if len(line) == 0 || (line[0] != '[' && line[0] != '<' && line[0] != 'k') {
		return line
	}
	t := line
	if t[0] == '<' {
		i := 1
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == 1 || i == len(t) || t[i] != '>' {
			return line
		}
		t = t[i+1:]
	}
	if len(t) > 0 && t[0] == '[' {
		i := 1
		for i < len(t) && (t[i] == ' ' || t[i] == '.' || t[i] >= '0' && t[i] <= '9') {
			i++
		}
		if i == 1 || i == len(t) || t[i] != ']' {
			return line
		}
		t = t[i+1:]
		if len(t) > 0 && t[0] == ' ' {
			t = t[1:]
		}
	}
	t = bytes.TrimPrefix(t, logPrefix)
	if len(t) == 0 {
		return line
	}
	return t
}

var logPrefix = []byte("kmemleak: ")

func dropEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// parseHeader reads `unreferenced object[ (percpu)| (phys)] 0x<addr> (size <n>):`.
// A header cut before its size still starts an object, marked Truncated.
func (s *Scanner) parseHeader(t []byte) (Object, bool) {
	var o Object
	rest := bytes.TrimLeft(t[len(headerPrefix):], " ")
	for _, area := range [...]string{"percpu", "phys"} {
		if len(rest) > len(area)+2 && rest[0] == '(' && string(rest[1:1+len(area)]) == area && rest[1+len(area)] == ')' {
			o.Area = area
			rest = bytes.TrimLeft(rest[len(area)+2:], " ")
		}
	}
	end := bytes.IndexByte(rest, ' ')
	if end < 0 {
		end = len(rest)
	}
	addr := rest[:end]
	if len(addr) < 3 || addr[0] != '0' || (addr[1] != 'x' && addr[1] != 'X') || !isHex(addr[2:]) {
		return Object{}, false
	}
	if !s.lean {
		o.Address = string(addr)
	}
	rest = rest[end:]
	i := bytes.Index(rest, sizePrefix)
	if i < 0 {
		o.Truncated = true
		return o, true
	}
	n, _, ok := parseUint(rest[i+len(sizePrefix):])
	if !ok || n > 1<<62 {
		o.Truncated = true
		return o, true
	}
	o.SizeBytes = int64(n)
	return o, true
}

// parseComm reads `<comm>", pid <pid>, jiffies <j>[ (age <s>.<ms>s)]`. comm
// may itself hold quotes and commas, so the last `", pid ` ends it.
func (s *Scanner) parseComm(o *Object, rest []byte) {
	i := bytes.LastIndexByte(rest, '"')
	if i < 0 || !bytes.HasPrefix(rest[i:], pidSep) {
		i = bytes.LastIndex(rest, pidSep)
	}
	if i < 0 {
		o.Comm = commString(s.intern(bytes.TrimSuffix(rest, []byte{'"'})))
		o.Truncated = true
		return
	}
	if string(rest[:i]) == s.lastComm {
		o.Comm = s.lastComm
	} else {
		o.Comm = commString(s.intern(rest[:i]))
		s.lastComm = o.Comm
	}
	rest = rest[i+len(pidSep):]
	pid, n, ok := parseUint(rest)
	if !ok || pid > 1<<31 {
		return
	}
	o.PID = int(pid)
	rest = rest[n:]
	if !bytes.HasPrefix(rest, jiffiesSep) {
		return
	}
	rest = rest[len(jiffiesSep):]
	j, n, ok := parseUint(rest)
	if !ok {
		return
	}
	o.Jiffies = j
	rest = bytes.TrimLeft(rest[n:], " ")
	if bytes.HasPrefix(rest, agePrefix) {
		if age, ok := parseSeconds(rest[len(agePrefix):]); ok {
			o.AgeSec, o.HasAge = age, true
		}
	}
}

// parseCRC reads the ` (crc <hex>):` of 6.8+'s backtrace line.
func parseCRC(rest []byte) string {
	rest = bytes.TrimLeft(rest, " ")
	if !bytes.HasPrefix(rest, crcPrefix) {
		return ""
	}
	rest = rest[len(crcPrefix):]
	end := 0
	for end < len(rest) && hexDigit(rest[end]) {
		end++
	}
	if end == 0 || end > 16 {
		return ""
	}
	return string(rest[:end])
}

// parseFrame reads `[[<addr>] ]<func>+0x<off>/0x<len>[ [module]]` or a bare
// `0x<addr>` (no KALLSYMS, or an unloaded module). keep is false for the
// ULONG_MAX end-of-stack marker old kernels print.
func (s *Scanner) parseFrame(t []byte, prev *parsedFrame) *parsedFrame {
	if len(t) > 1 && t[0] == '[' && t[1] == '<' {
		end := 18 // 64-bit addresses are 16 digits
		if len(t) <= end || t[end] != '>' {
			end = bytes.IndexByte(t, '>')
		}
		if end < 0 || end+1 >= len(t) || t[end+1] != ']' {
			return &badFrame
		}
		addr := t[2:end]
		t = bytes.TrimLeft(t[end+2:], " ")
		if len(t) == 0 {
			// Only an address: the symbol part was lost.
			if !isHex(addr) {
				return &badFrame
			}
			t = addr
		}
	}
	// The same symbol text recurs in every object of a site: parse it once.
	// Stacks repeat whole, so the frame that followed prev last time is the
	// likely one now: one comparison instead of a hash lookup.
	if prev != nil && prev.next != nil && prev.next.key == string(t) {
		return prev.next
	}
	pf, hit := s.frames[string(t)]
	if !hit {
		f, keep, ok := s.parseSymbol(t)
		pf = &parsedFrame{f: f, keep: keep, ok: ok}
		if len(s.frames) < maxInterned && len(t) <= maxInternedBytes {
			pf.id = uint32(len(s.frames) + 1)
			pf.key = string(t)
			s.frames[pf.key] = pf
		}
	}
	if prev != nil && prev.id != 0 && pf.id != 0 {
		prev.next = pf
	}
	return pf
}

// badFrame is parseFrame's answer for a line that is no frame; never written.
var badFrame = parsedFrame{}

// parsedFrame is a cached parseSymbol result; id numbers distinct symbol
// texts from 1.
type parsedFrame struct {
	f        Frame
	id       uint32
	keep, ok bool
	key      string       // the symbol text
	next     *parsedFrame // the frame that followed this one last time
}

// parseSymbol reads the symbol part of a frame line, after any [<addr>].
func (s *Scanner) parseSymbol(t []byte) (f Frame, keep, ok bool) {
	if len(t) > 2 && t[0] == '0' && t[1] == 'x' {
		end := 2
		for end < len(t) && hexDigit(t[end]) {
			end++
		}
		if end == len(t) || t[end] == ' ' {
			if isAllF(t[2:end]) {
				return Frame{}, false, true
			}
			mod, ok := s.parseModule(t[end:])
			if !ok {
				return Frame{}, false, false
			}
			return Frame{Function: s.intern(t[:end]), Raw: true, Module: mod}, true, true
		}
	}
	end := 0
	for end < len(t) && symbolByte(t[end]) {
		end++
	}
	if end == 0 || (end < len(t) && t[end] != '+' && t[end] != ' ') {
		return Frame{}, false, false
	}
	name := t[:end]
	t = t[end:]
	var off []byte
	if len(t) > 0 && t[0] == '+' {
		oe := bytes.IndexByte(t, ' ')
		if oe < 0 {
			oe = len(t)
		}
		off, t = t[:oe], t[oe:]
	}
	mod, ok := s.parseModule(stripSourceLocation(t))
	if !ok {
		return Frame{}, false, false
	}
	f = Frame{Function: s.intern(name), Module: mod, Inline: len(off) == 0 && bytes.HasSuffix(bytes.TrimRight(t, " "), inlineMarker)}
	if len(off) > 0 {
		f.Offset = s.intern(off)
		f.OffsetBytes, f.LengthBytes = parseOffset(off[1:])
	}
	return f, true, true
}

// inlinedByPrefix starts addr2line's lines for the callers a frame was
// inlined into, as scripts/decode_stacktrace.sh prints them.
var inlinedByPrefix = []byte("(inlined by) ")

// stripSourceLocation drops what symbolizers add after a frame's symbol —
// a source location (` mm/slub.c:4321`, decode_stacktrace.sh's
// ` (mm/slub.c:4321)`, with a column or a discriminator) and syzbot's
// ` [inline]` marker — keeping a ` [module]`. It is only called for frames
// not seen before, so the common path never pays for it.
func stripSourceLocation(t []byte) []byte {
	if len(t) == 0 || (len(t) > 1 && t[0] == ' ' && t[1] == '[' && t[len(t)-1] == ']' && bytes.IndexByte(t[1:], ' ') < 0) {
		return t // nothing or " [module]": the common cases, untouched
	}
	var out []byte
	rest := t
	for len(rest) > 0 {
		rest = bytes.TrimLeft(rest, " ")
		if len(rest) == 0 {
			break
		}
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		tok := rest[:end]
		if !isSourceLocation(tok) && !bytes.Equal(tok, inlineMarker) {
			out = append(append(out, ' '), tok...)
		}
		rest = rest[end:]
	}
	return out
}

var inlineMarker = []byte("[inline]")

// isSourceLocation reports whether tok reads "path:line[:col]", possibly
// in parentheses: a path with a '.' or '/' before the first ':', then a
// decimal line number.
func isSourceLocation(tok []byte) bool {
	tok = bytes.TrimSuffix(bytes.TrimPrefix(tok, []byte("(")), []byte(")"))
	colon := bytes.IndexByte(tok, ':')
	if colon <= 0 || colon+1 >= len(tok) || !bytes.ContainsAny(tok[:colon], "./") {
		return false
	}
	return tok[colon+1] >= '0' && tok[colon+1] <= '9'
}

// wholeFrame reports whether a frame line cut at the end of input still
// holds its whole symbol: it ends in a module, or its offset has a length.
func wholeFrame(t []byte) bool {
	if t[len(t)-1] == ']' {
		return true
	}
	i := bytes.LastIndex(t, []byte("/0x"))
	return i > 0 && i+3 < len(t)
}

// parseModule reads what follows a symbol: nothing, or ` [module]` /
// ` [module buildid]`. ok is false for anything else.
func (s *Scanner) parseModule(t []byte) (module string, ok bool) {
	t = bytes.TrimLeft(t, " ")
	if len(t) == 0 {
		return "", true
	}
	if len(t) < 3 || t[0] != '[' {
		return "", false
	}
	end := 1
	for end < len(t) && (symbolByte(t[end]) || t[end] == '-') {
		end++
	}
	if end == 1 || end == len(t) || (t[end] != ']' && t[end] != ' ') {
		return "", false
	}
	return s.intern(t[1:end]), true
}

// parseOffset reads "0x36/0x120".
func parseOffset(t []byte) (off, length int64) {
	slash := bytes.IndexByte(t, '/')
	if slash < 0 {
		return parseHex(t), 0
	}
	return parseHex(t[:slash]), parseHex(t[slash+1:])
}

func parseHex(t []byte) int64 {
	t = bytes.TrimPrefix(t, []byte("0x"))
	if len(t) == 0 || len(t) > 15 {
		return 0
	}
	var v int64
	for _, c := range t {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | int64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | int64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | int64(c-'A'+10)
		default:
			return 0
		}
	}
	return v
}

// intern returns b as a string shared with earlier equal ones, so a report's
// thousands of identical frames cost one string each.
func (s *Scanner) intern(b []byte) string {
	if v, ok := s.names[string(b)]; ok {
		return v
	}
	v := string(b)
	if len(s.names) < maxInterned && len(v) <= maxInternedBytes {
		s.names[v] = v
	}
	return v
}

// parseUint reads leading decimal digits; n is how many bytes it used.
func parseUint(t []byte) (v uint64, n int, ok bool) {
	for n < len(t) && t[n] >= '0' && t[n] <= '9' {
		if v > (1<<64-1)/10-1 {
			return 0, n, false
		}
		v = v*10 + uint64(t[n]-'0')
		n++
	}
	return v, n, n > 0
}

// parseSeconds reads "42936.600s" (the kernel prints %lu.%03lu).
func parseSeconds(t []byte) (float64, bool) {
	whole, n, ok := parseUint(t)
	if !ok {
		return 0, false
	}
	if n == len(t) || t[n] != '.' {
		return float64(whole), true
	}
	frac, m, ok := parseUint(t[n+1:])
	if !ok || m > 9 {
		return float64(whole), true
	}
	return float64(whole) + float64(frac)/math.Pow10(m), true
}

func isHexRow(t []byte) bool {
	return len(t) >= 2 && hexDigit(t[0]) && hexDigit(t[1]) && (len(t) == 2 || t[2] == ' ')
}

func isHex(t []byte) bool {
	for _, c := range t {
		if !hexDigit(c) {
			return false
		}
	}
	return len(t) > 0
}

func isAllF(t []byte) bool {
	for _, c := range t {
		if c != 'f' && c != 'F' {
			return false
		}
	}
	return len(t) == 16
}

func hexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// symbolByte reports whether c may appear in a kernel symbol or module name.
func symbolByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '$'
}

// commString keeps a task name valid UTF-8 for JSON without losing bytes: an
// invalid byte becomes the text \xNN.
func commString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
			i++
			continue
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	return b.String()
}

func validString(b []byte) string {
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
