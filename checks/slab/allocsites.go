package slab

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/leakgate/leakgate/checks/internal/lines"
)

// AllocSite is one allocation site of a cache with SLUB owner tracking
// (slab_debug=U): how many live objects it holds and where they came from.
type AllocSite struct {
	Count int64 `json:"count"`
	// Caller is the function name ("__d_alloc"), or "<not-available>".
	Caller string `json:"caller"`
	// CallerOffset is "+0x30/0x3b0" as printed; CallerModule the [module], if any.
	CallerOffset string `json:"caller_offset,omitempty"`
	CallerModule string `json:"caller_module,omitempty"`
	// WasteBytes and WastePerObjectBytes are kmalloc's rounding waste (≈6.1+).
	WasteBytes          int64 `json:"waste_bytes,omitempty"`
	WastePerObjectBytes int64 `json:"waste_per_object_bytes,omitempty"`
	// Age of the objects in jiffies since allocation: min/avg/max (equal when printed as one number).
	AgeMinJiffies int64 `json:"age_min_jiffies"`
	AgeAvgJiffies int64 `json:"age_avg_jiffies"`
	AgeMaxJiffies int64 `json:"age_max_jiffies"`
	// PIDMin..PIDMax is the range of allocating pids.
	PIDMin int64 `json:"pid_min"`
	PIDMax int64 `json:"pid_max"`
	// CPUs and Nodes are the kernel's lists ("0-3,5"), printed only when more than one is online.
	CPUs  string `json:"cpus,omitempty"`
	Nodes string `json:"nodes,omitempty"`
	// Stack is the full allocation stack below the caller (alloc_traces only), as printed.
	Stack []string `json:"stack,omitempty"`
}

// AllocReport is one alloc_calls or alloc_traces file.
type AllocReport struct {
	Sites []AllocSite `json:"sites"`
	// NoData is true when the kernel printed "No data" (no live objects tracked).
	NoData bool `json:"no_data,omitempty"`
	// Truncated is true when the file may miss sites: sysfs alloc_calls stops
	// at one page without a marker, or the last line was cut.
	Truncated bool `json:"truncated,omitempty"`
}

// allocCallsPageCutBytes is where sysfs alloc_calls stops printing on 4 KiB
// pages: old mm/slub.c list_locations breaks once len > PAGE_SIZE -
// KSYM_SYMBOL_LEN - 100, without a marker; 512 bytes covers KSYM_SYMBOL_LEN.
const allocCallsPageCutBytes = 4096 - 512

// maxInterned bounds the intern table of one file.
const maxInterned = 1 << 16

// trackAddrsCount is how many frames SLUB keeps per track (TRACK_ADDRS_COUNT).
const trackAddrsCount = 16

// maxStackLines bounds one entry's stack: the kernel keeps 16 frames
// (TRACK_ADDRS_COUNT); a larger count means garbage input.
const maxStackLines = 64

// ParseAllocCalls reads the old sysfs /sys/kernel/slab/<cache>/alloc_calls
// (kernels ≤ 5.13): one site per line, no stacks. Lines that do not parse
// are returned as *RowErrors next to the sites that did.
func ParseAllocCalls(b []byte) (AllocReport, error) {
	var r AllocReport
	r.Truncated = len(b) >= allocCallsPageCutBytes || (len(b) > 0 && b[len(b)-1] != '\n')
	r.Sites = make([]AllocSite, 0, min(bytes.Count(b, []byte("\n"))+1, maxPresize))
	in := newInterner()
	var rowErrs RowErrors
	lineNo := 0
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		lineNo++
		first, _ := lines.NextToken(line)
		if len(first) == 0 {
			continue
		}
		if (first[0] < '0' || first[0] > '9') && isNoData(line) {
			r.NoData = true
			continue
		}
		r.Sites = append(r.Sites, AllocSite{})
		site := &r.Sites[len(r.Sites)-1]
		if parseSiteHeaderFast(line, in, site) {
			continue
		}
		*site = AllocSite{}
		if err := parseSiteHeader(line, in, site); err != nil {
			r.Sites = r.Sites[:len(r.Sites)-1]
			rowErrs.Add(lineNo, line, err)
		}
	}
	if len(rowErrs.Lines) > 0 {
		errs := rowErrs // a copy escapes, so rowErrs itself can stay on the stack
		return r, &errs
	}
	return r, nil
}

// ParseAllocTraces reads debugfs /sys/kernel/debug/slab/<cache>/alloc_traces
// (kernels ≥ 5.14): a header line per site (count, caller, optional
// waste=total/per-object, age, pid, cpus, nodes), then the stack indented by
// 8 spaces, then a blank line. Bad lines are returned as *RowErrors next to
// the sites that parsed.
func ParseAllocTraces(b []byte) (AllocReport, error) {
	var r AllocReport
	r.Truncated = len(b) > 0 && b[len(b)-1] != '\n'
	r.Sites = make([]AllocSite, 0, min(bytes.Count(b, []byte("\n\n"))+1, maxPresize))
	// Frames repeat across entries (every stack passes the allocator), so
	// each distinct frame text is allocated once.
	in := newInterner()
	frames := newFrameInterner()
	var stacks stackArena
	var rowErrs RowErrors
	var cur *AllocSite
	lineNo := 0
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		lineNo++
		// Most lines are stack lines: look at the first token's first byte
		// before scanning it whole.
		start := 0
		for start < len(line) && blank[line[start]] {
			start++
		}
		if start == len(line) {
			stacks.close(cur)
			cur = nil
			frames.startStack()
			continue
		}
		if c := line[start]; c >= '0' && c <= '9' && isCount(firstToken(line[start:])) {
			stacks.close(cur)
			frames.startStack()
			r.Sites = append(r.Sites, AllocSite{})
			cur = &r.Sites[len(r.Sites)-1]
			if parseSiteHeaderFast(line, in, cur) {
				continue
			}
			*cur = AllocSite{}
			if err := parseSiteHeader(line, in, cur); err != nil {
				r.Sites = r.Sites[:len(r.Sites)-1]
				rowErrs.Add(lineNo, line, err)
				cur = nil
			}
			continue
		}
		if c := line[start]; (c == 'N' || c < ' ' || c >= 0x80) && isNoData(line) {
			r.NoData = true
			continue
		}
		if cur == nil || line[0] != ' ' && line[0] != '\t' {
			rowErrs.Add(lineNo, line, errors.New("stack line outside an entry"))
			continue
		}
		if stacks.n >= maxStackLines {
			rowErrs.Add(lineNo, line, fmt.Errorf("more than %d stack lines in one entry", maxStackLines))
			continue
		}
		stacks.add(frames.get(trimFrame(line, start)))
	}
	stacks.close(cur)
	if len(rowErrs.Lines) > 0 {
		errs := rowErrs // a copy escapes, so rowErrs itself can stay on the stack
		return r, &errs
	}
	return r, nil
}

// firstToken is lines.NextToken's token of a line that starts with it.
func firstToken(b []byte) []byte {
	_, e := tokenAt(b, 0)
	return b[:e]
}

// trimFrame is bytes.TrimSpace(line) for a line whose first start bytes are
// blanks, without rescanning them when both ends are plain ASCII.
func trimFrame(line []byte, start int) []byte {
	c, last := line[start], line[len(line)-1]
	if c > ' ' && c < 0x7f && last > ' ' && last < 0x7f {
		return line[start:]
	}
	return bytes.TrimSpace(line)
}

func isNoData(line []byte) bool {
	return string(bytes.TrimSpace(line)) == "No data"
}

func isCount(t []byte) bool {
	if len(t) == 0 {
		return false
	}
	for _, c := range t {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// parseSiteHeader reads "count caller[ [module]] [waste=a/b] age=.. pid=..
// [cpus=..] [nodes=..]" into s.
func parseSiteHeader(line []byte, in *interner, s *AllocSite) error {
	count, rest := lines.NextToken(line)
	caller, rest := lines.NextToken(rest)
	if len(caller) == 0 {
		return errors.New("want a count and a caller")
	}
	var err error
	if s.Count, err = parseInt(count); err != nil {
		return fmt.Errorf("count: %w", err)
	}
	s.Caller, s.CallerOffset = splitSymbol(in.get(caller))
	t, after := lines.NextToken(rest)
	if len(t) > 2 && t[0] == '[' && t[len(t)-1] == ']' {
		s.CallerModule = in.get(t[1 : len(t)-1])
		rest = after
	}
	for {
		t, rest = lines.NextToken(rest)
		if len(t) == 0 {
			return nil
		}
		k, v, ok := cutByte(t, '=')
		if !ok {
			return fmt.Errorf("field %q is not key=value", t)
		}
		switch string(k) {
		case "waste":
			a, b, ok := cutByte(v, '/')
			if !ok {
				return fmt.Errorf("waste %q: want total/per-object", v)
			}
			if s.WasteBytes, err = parseInt(a); err == nil {
				s.WastePerObjectBytes, err = parseInt(b)
			}
		case "age":
			s.AgeMinJiffies, s.AgeAvgJiffies, s.AgeMaxJiffies, err = parseTriple(v)
		case "pid":
			s.PIDMin, s.PIDMax, err = parseRange(v)
		case "cpus":
			s.CPUs = in.get(v)
		case "nodes":
			s.Nodes = in.get(v)
		default:
			// Unknown keys from future kernels are ignored, not fatal.
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
}

// splitSymbol splits "func+0x30/0x3b0" into "func" and "+0x30/0x3b0".
func splitSymbol(sym string) (name, offset string) {
	if i := strings.IndexByte(sym, '+'); i > 0 {
		return sym[:i], sym[i:]
	}
	return sym, ""
}

// parseTriple reads "min/avg/max" or a single "n".
func parseTriple(v []byte) (lo, avg, hi int64, err error) {
	a, rest, ok := cutByte(v, '/')
	if !ok {
		lo, err = parseInt(a)
		return lo, lo, lo, err
	}
	b, c, ok := cutByte(rest, '/')
	if !ok {
		return 0, 0, 0, fmt.Errorf("%q: want n or min/avg/max", v)
	}
	if lo, err = parseInt(a); err != nil {
		return
	}
	if avg, err = parseInt(b); err != nil {
		return
	}
	hi, err = parseInt(c)
	return
}

// parseRange reads "a-b" or a single "n".
func parseRange(v []byte) (lo, hi int64, err error) {
	a, b, ok := cutByte(v, '-')
	if lo, err = parseInt(a); err != nil || !ok {
		return lo, lo, err
	}
	hi, err = parseInt(b)
	return lo, hi, err
}

// interner allocates each distinct text of one file once: frames, callers
// and CPU lists repeat across entries. A small table of recent texts, looked
// up by length and end bytes, answers most repeats without hashing.
type interner struct {
	m      map[string]string
	recent [64]string
}

func newInterner() *interner { return &interner{m: map[string]string{}} }

func (in *interner) get(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	slot := &in.recent[(len(b)*7+int(b[0])*3+int(b[len(b)-1]))&63]
	if *slot == string(b) {
		return *slot
	}
	s, ok := in.m[string(b)]
	if !ok {
		s = string(b)
		if len(in.m) < maxInterned {
			in.m[s] = s
		}
	}
	*slot = s
	return s
}

// cutByte is bytes.Cut for a one-byte separator.
func cutByte(b []byte, sep byte) (before, after []byte, found bool) {
	if i := bytes.IndexByte(b, sep); i >= 0 {
		return b[:i], b[i+1:], true
	}
	return b, nil, false
}
