package meminfo

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
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
	var f [][]byte
	lineNo := 0
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		lineNo++
		f = splitFields(line, f[:0])
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 || !bytes.Contains(f[0], []byte("-")) {
			bad.add(lineNo, line, errors.New("want range, size and caller"))
			continue
		}
		if !hasToken(f[3:], "vmalloc") {
			continue
		}
		size, err := parseUint(f[1])
		if err != nil {
			bad.add(lineNo, line, fmt.Errorf("size: %w", err))
			continue
		}
		var pages uint64
		var module []byte
		for _, t := range f[3:] {
			if v, ok := bytes.CutPrefix(t, []byte("pages=")); ok {
				if pages, err = parseUint(v); err != nil {
					break
				}
			}
			if len(t) > 2 && t[0] == '[' && t[len(t)-1] == ']' {
				module = t[1 : len(t)-1]
			}
		}
		if err != nil {
			bad.add(lineNo, line, fmt.Errorf("pages: %w", err))
			continue
		}
		caller := f[2]
		if i := bytes.IndexByte(caller, '+'); i > 0 {
			caller = caller[:i]
		}
		key := string(caller) + " " + string(module)
		c, ok := byCaller[key]
		if !ok {
			c = &VmallocCaller{Caller: string(caller), Module: string(module)}
			byCaller[key] = c
		}
		c.Areas++
		c.Pages += int64(pages)
		c.SizeBytes += int64(size)
	}
	out := make([]VmallocCaller, 0, len(byCaller))
	for _, c := range byCaller {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Pages != out[j].Pages {
			return out[i].Pages > out[j].Pages
		}
		return out[i].Caller < out[j].Caller
	})
	if len(bad.Lines) > 0 {
		return out, &bad
	}
	return out, nil
}

func hasToken(f [][]byte, tok string) bool {
	for _, t := range f {
		if string(t) == tok {
			return true
		}
	}
	return false
}

func splitFields(line []byte, dst [][]byte) [][]byte {
	start := -1
	for i, c := range line {
		if c == ' ' || c == '\t' || c == '\r' {
			if start >= 0 {
				dst = append(dst, line[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, line[start:])
	}
	return dst
}
