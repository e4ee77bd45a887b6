package meminfo

import (
	"bytes"
	"errors"
	"fmt"
	"sort"

	"github.com/leakgate/leakgate/checks/internal/lines"
)

// VmallocCaller is the vmalloc memory one caller holds, summed over its areas.
type VmallocCaller struct {
	// Caller is the function name ("alloc_large_system_hash"), without offset,
	// so one caller keys the same series across kernel builds.
	Caller string `json:"caller"`
	Module string `json:"module,omitempty"`
	Areas  int    `json:"areas"`
	// Pages is the sum of pages= (RAM actually backing the areas).
	Pages int64 `json:"pages"`
	// SizeBytes is the sum of the printed sizes: address space, incl. a guard page each.
	SizeBytes int64 `json:"size_bytes"`
}

// ParseVmallocinfo sums /proc/vmallocinfo's "vmalloc" areas per caller,
// largest Pages first. ioremap, vmap and callerless areas ("unpurged
// vm_area", "vm_map_ram") are not vmalloc RAM and are skipped. Lines that do
// not parse are returned in a *LineErrors next to the callers that did.
func ParseVmallocinfo(b []byte) ([]VmallocCaller, error) {
	byCaller := map[string]*VmallocCaller{}
	var bad LineErrors
	var key, lastKey []byte
	var last *VmallocCaller
	var a vmallocArea
	lineNo := 0
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		lineNo++
		if err := parseVmallocLine(line, &a); err != nil {
			bad.Add(lineNo, line, err)
			continue
		}
		if !a.vmalloc {
			continue
		}
		// Key by function and module; the lookup with string(key) does not
		// allocate, and a caller's areas often come in runs.
		key = append(append(append(key[:0], a.caller...), 0), a.module...)
		c := last
		if c == nil || !bytes.Equal(key, lastKey) {
			var ok bool
			c, ok = byCaller[string(key)]
			if !ok {
				c = &VmallocCaller{Caller: string(a.caller), Module: string(a.module)}
				byCaller[string(key)] = c
			}
			last, lastKey = c, append(lastKey[:0], key...)
		}
		c.Areas++
		c.Pages += int64(a.pages)
		c.SizeBytes += int64(a.size)
	}
	out := make([]VmallocCaller, 0, len(byCaller))
	for _, c := range byCaller {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pages != out[j].Pages {
			return out[i].Pages > out[j].Pages
		}
		if out[i].Caller != out[j].Caller {
			return out[i].Caller < out[j].Caller
		}
		return out[i].Module < out[j].Module
	})
	if len(bad.Lines) > 0 {
		errs := bad // a copy escapes, so bad itself can stay on the stack
		return out, &errs
	}
	return out, nil
}

// vmallocArea is one vmallocinfo line; blank lines have empty caller and vmalloc false.
type vmallocArea struct {
	caller, module []byte
	size, pages    uint64
	vmalloc        bool
}

// parseVmallocLine reads "<start>-<end> <size> <caller>[ [module]] [pages=n] [phys=..] [ioremap|vmalloc|vmap|user|vpages] [N0=..]"
// into a, which it resets first (a is reused across lines, not returned, to
// save a copy per line).
func parseVmallocLine(line []byte, a *vmallocArea) error {
	*a = vmallocArea{}
	rng, rest := lines.NextToken(line)
	if len(rng) == 0 {
		return nil
	}
	// "0x<16 hex digits>-": the dash is nearly always at byte 18.
	if !(len(rng) > 18 && rng[18] == '-') && bytes.IndexByte(rng, '-') < 0 {
		return errors.New("want range, size and caller")
	}
	sizeText, rest := lines.NextToken(rest)
	caller, rest := lines.NextToken(rest)
	if len(caller) == 0 {
		return errors.New("want range, size and caller")
	}
	if !hasWord(rest, vmallocWord) {
		return nil
	}
	var err error
	if a.size, err = parseUint(sizeText); err != nil {
		return fmt.Errorf("size: %w", err)
	}
	if i := bytes.IndexByte(caller, '+'); i > 0 {
		caller = caller[:i]
	}
	a.caller, a.vmalloc = caller, true
	if t, _ := lines.NextToken(rest); len(t) > 2 && t[0] == '[' && t[len(t)-1] == ']' {
		a.module = t[1 : len(t)-1]
	}
	if i := bytes.Index(rest, pagesField); i >= 0 {
		v, _ := lines.NextToken(rest[i+len(pagesField):])
		if a.pages, err = parseUint(v); err != nil {
			return fmt.Errorf("pages: %w", err)
		}
	}
	return nil
}

var pagesField = []byte(" pages=")

var vmallocWord = []byte("vmalloc")

// hasWord reports whether w occurs in b as a whole blank-separated token.
func hasWord(b, w []byte) bool {
	for {
		i := bytes.Index(b, w)
		if i < 0 {
			return false
		}
		end := i + len(w)
		if (i == 0 || b[i-1] == ' ' || b[i-1] == '\t') && (end == len(b) || b[end] == ' ' || b[end] == '\t' || b[end] == '\r') {
			return true
		}
		b = b[end:]
	}
}
