package slab

import (
	"bytes"

	"github.com/leakgate/leakgate/checks/internal/lines"
)

// parseSiteHeaderFast reads a well-formed site header exactly as
// parseSiteHeader does (its strings from the same interner), in one pass
// over the bytes. It reports false for anything parseSiteHeader would reject,
// which the caller then hands to parseSiteHeader for its error; s is then
// partly written and must be reset.
func parseSiteHeaderFast(line []byte, in *interner, s *AllocSite) bool {
	var ok bool
	i := skipBlanks(line, 0)
	if s.Count, i, ok = number(line, i); !ok || !tokenEnds(line, i) {
		return false
	}
	start := skipBlanks(line, i)
	if start == len(line) {
		return false
	}
	// splitSymbol splits at the first '+', unless it is the first byte.
	i = lines.TokenEnd(line, start)
	plus := -1
	if line[start] != '+' {
		if p := bytes.IndexByte(line[start:i], '+'); p > 0 {
			plus = start + p
		}
	}
	caller := in.get(line[start:i])
	if plus < 0 {
		s.Caller = caller
	} else {
		s.Caller, s.CallerOffset = caller[:plus-start], caller[plus-start:]
	}
	i = skipBlanks(line, i)
	if i < len(line) && line[i] == '[' {
		e := i
		for e < len(line) && !blank[line[e]] {
			e++
		}
		if e-i > 2 && line[e-1] == ']' {
			s.CallerModule = in.get(line[i+1 : e-1])
			i = e
		}
	}
	for i = skipBlanks(line, i); i < len(line); i = skipBlanks(line, i) {
		k := i
		for i < len(line) && line[i] != '=' && !blank[line[i]] {
			i++
		}
		if i == len(line) || line[i] != '=' {
			return false
		}
		key := line[k:i]
		i++
		switch string(key) {
		case "age":
			if i, ok = ageFast(line, i, s); !ok {
				return false
			}
		case "pid":
			if s.PIDMin, i, ok = number(line, i); !ok {
				return false
			}
			s.PIDMax = s.PIDMin
			if i < len(line) && line[i] == '-' {
				if s.PIDMax, i, ok = number(line, i+1); !ok {
					return false
				}
			}
		case "waste":
			if s.WasteBytes, i, ok = number(line, i); !ok || i == len(line) || line[i] != '/' {
				return false
			}
			if s.WastePerObjectBytes, i, ok = number(line, i+1); !ok {
				return false
			}
		default:
			v := i
			for i < len(line) && !blank[line[i]] {
				i++
			}
			switch string(key) {
			case "cpus":
				s.CPUs = in.get(line[v:i])
			case "nodes":
				s.Nodes = in.get(line[v:i])
			}
		}
		if !tokenEnds(line, i) {
			return false
		}
	}
	return true
}

// ageFast reads parseTriple's "min/avg/max" or single "n" at b[i:] into s.
func ageFast(b []byte, i int, s *AllocSite) (int, bool) {
	var ok bool
	if s.AgeMinJiffies, i, ok = number(b, i); !ok {
		return i, false
	}
	if i == len(b) || b[i] != '/' {
		s.AgeAvgJiffies, s.AgeMaxJiffies = s.AgeMinJiffies, s.AgeMinJiffies
		return i, true
	}
	if s.AgeAvgJiffies, i, ok = number(b, i+1); !ok || i == len(b) || b[i] != '/' {
		return i, false
	}
	s.AgeMaxJiffies, i, ok = number(b, i+1)
	return i, ok
}

// number reads parseInt's 1 to 18 decimal digits at b[i:]; next is the
// first byte after them, which the caller checks.
func number(b []byte, i int) (v int64, next int, ok bool) {
	start := i
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		v = v*10 + int64(b[i]-'0')
		i++
	}
	n := i - start
	return v, i, n > 0 && n <= 18
}

// tokenEnds reports whether a token ends at i: a blank or the end of b.
func tokenEnds(b []byte, i int) bool { return i == len(b) || blank[b[i]] }

func skipBlanks(b []byte, i int) int {
	for i < len(b) && blank[b[i]] {
		i++
	}
	return i
}

// tokenAt returns the bounds of the first blank-separated token at or after
// i (i == e when there is none), as lines.NextToken splits them.
func tokenAt(b []byte, i int) (start, end int) {
	i = skipBlanks(b, i)
	start = i
	for i < len(b) && !blank[b[i]] {
		i++
	}
	return start, i
}

// blank marks lines.NextToken's separators: space, tab, carriage return.
var blank = [256]bool{' ': true, '\t': true, '\r': true}
