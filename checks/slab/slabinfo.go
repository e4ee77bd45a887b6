package slab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sort"

	"github.com/leakgate/leakgate/checks/internal/lines"
)

// ParseSlabinfo reads /proc/slabinfo (version 2.1, and the 2.0/SLAB layouts
// with ": globalstat" and ": cpustat" extras) into one Cache per row.
//
// It is hand-written rather than github.com/prometheus/procfs's SlabInfo:
// procfs wants exactly 16 tokens per row and fails the whole file on one bad
// row, and reads only from a directory. A release gate must not lose every
// cache to one odd row, so rows that do not parse are collected in a
// *RowErrors returned next to the caches that did; callers keep the caches
// and record the error. The tests cross-check this parser against procfs on
// the machine's own /proc/slabinfo.
//
// A nil error means every row parsed. An unsupported version header is the
// only fatal error (no caches returned).
func ParseSlabinfo(b []byte) ([]Cache, error) {
	caches := make([]Cache, 0, min(bytes.Count(b, []byte{'\n'})+1, maxPresize))
	// Every name is a slice of one string: one allocation, not one per cache.
	var names namePool
	var rowErrs RowErrors
	var fields [][]byte
	var rowLines []int // the line of each cache, for duplicates
	lineNo := 0
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		lineNo++
		if lineNo == 1 && bytes.HasPrefix(line, []byte("slabinfo - version:")) {
			v := bytes.TrimSpace(line[len("slabinfo - version:"):])
			if !bytes.HasPrefix(v, []byte("2.")) {
				return nil, fmt.Errorf("parse slabinfo: version %q is not 2.x: %w", v, ErrUnsupportedVersion)
			}
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
			continue
		}
		caches = append(caches, Cache{})
		if n, ok := slabinfoRowFast(line, &caches[len(caches)-1]); ok {
			names.add(line[:n])
			rowLines = append(rowLines, lineNo)
			continue
		}
		caches = caches[:len(caches)-1]
		fields = splitFields(line, fields[:0])
		c, err := parseSlabinfoRow(fields)
		if err != nil {
			rowErrs.Add(lineNo, line, err)
			continue
		}
		names.add([]byte(c.Name))
		caches = append(caches, c)
		rowLines = append(rowLines, lineNo)
	}
	names.assign(caches)
	caches = dropDuplicates(caches, rowLines, &rowErrs)
	if len(rowErrs.Lines) > 0 {
		errs := rowErrs // a copy escapes, so rowErrs itself can stay on the stack
		return caches, &errs
	}
	return caches, nil
}

// dropDuplicates keeps the first row of each cache name and reports every
// later one: the kernel prints a cache once, and counting it twice would
// double its bytes.
func dropDuplicates(caches []Cache, rowLines []int, errs *RowErrors) []Cache {
	if len(caches) < 2 {
		return caches
	}
	first := make(map[string]int, len(caches))
	kept := caches[:0]
	for i, c := range caches {
		if at, dup := first[c.Name]; dup {
			errs.Add(rowLines[i], []byte(c.Name), fmt.Errorf("cache %q appears twice (first at line %d); the first row is used", c.Name, at))
			continue
		}
		first[c.Name] = rowLines[i]
		kept = append(kept, c)
	}
	if len(errs.Lines) > 1 {
		sort.SliceStable(errs.Lines, func(a, b int) bool { return errs.Lines[a].Line < errs.Lines[b].Line })
	}
	return kept
}

// ErrUnsupportedVersion is returned for a slabinfo header other than 2.x.
var ErrUnsupportedVersion = errors.New("unsupported slabinfo version; leakgate reads 2.0 and 2.1")

// parseSlabinfoRow reads "name active num objsize objperslab pagesperslab :
// tunables l b s : slabdata active_slabs num_slabs sharedavail [: ...]".
// Columns are located from the first ":" so extra sections are ignored.
func parseSlabinfoRow(f [][]byte) (Cache, error) {
	colon := -1
	for i, t := range f {
		if len(t) == 1 && t[0] == ':' {
			colon = i
			break
		}
	}
	if colon < 0 {
		return Cache{}, errors.New("no ':' section separator")
	}
	if colon < 6 {
		return Cache{}, fmt.Errorf("%d tokens before ':', want a name and 5 numbers", colon)
	}
	// A long name pushes the numbers right but never contains spaces; join
	// whatever precedes the 5 numbers so a damaged row keeps its name.
	var c Cache
	if colon == 6 {
		c.Name = string(f[0])
	} else {
		c.Name = string(bytes.Join(f[:colon-5], []byte(" ")))
	}
	nums := [5]*int64{&c.ActiveObjects, &c.NumObjects, &c.ObjectSizeBytes, &c.ObjectsPerSlab, &c.PagesPerSlab}
	for i, p := range nums {
		v, err := parseInt(f[colon-5+i])
		if err != nil {
			return Cache{}, fmt.Errorf("column %d: %w", i+2, err)
		}
		*p = v
	}
	sd := -1
	for i := colon + 1; i < len(f); i++ {
		if string(f[i]) == "slabdata" {
			sd = i
			break
		}
	}
	if sd < 0 || sd+2 >= len(f) {
		return Cache{}, errors.New("no slabdata section")
	}
	var err error
	if c.ActiveSlabs, err = parseInt(f[sd+1]); err != nil {
		return Cache{}, fmt.Errorf("active_slabs: %w", err)
	}
	if c.NumSlabs, err = parseInt(f[sd+2]); err != nil {
		return Cache{}, fmt.Errorf("num_slabs: %w", err)
	}
	return c, nil
}

// namePool gathers the cache names of one file into one string.
type namePool struct {
	buf  []byte
	ends []int
}

func (p *namePool) add(name []byte) {
	if p.buf == nil {
		p.buf = make([]byte, 0, 4096)
		p.ends = make([]int, 0, 256)
	}
	p.buf = append(p.buf, name...)
	p.ends = append(p.ends, len(p.buf))
}

// assign sets the names of caches, which are in the order they were added.
func (p *namePool) assign(caches []Cache) {
	all := string(p.buf)
	start := 0
	for i, end := range p.ends {
		caches[i].Name = all[start:end]
		start = end
	}
}

// parseSlabinfoRowFast reads a well-formed row without splitting it into
// fields: the name, 5 numbers, then the 2 numbers after "slabdata". It
// reports false for anything unusual, which parseSlabinfoRow then explains.
func parseSlabinfoRowFast(line []byte, c *Cache) bool {
	n, ok := slabinfoRowFast(line, c)
	if ok {
		c.Name = string(line[:n])
	}
	return ok
}

// slabinfoRowFast is parseSlabinfoRowFast leaving the name, line[:n], to
// the caller.
// It takes only the kernel's own layout, "name n n n n n : tunables n n n :
// slabdata n n n[ ...]", with spaces between the fields (the kernel pads
// with spaces only), and reads every byte up to the last slabdata number
// once; anything else is the tolerant parser's.
func slabinfoRowFast(line []byte, c *Cache) (n int, ok bool) {
	i := 0
	for i < len(line) && line[i] != ' ' {
		if line[i] == '\t' || line[i] == '\r' {
			return 0, false
		}
		i++
	}
	if i == 0 || i == len(line) || i == 1 && line[0] == ':' {
		return 0, false
	}
	n = i
	if c.ActiveObjects, i, ok = spacedNumber(line, i); !ok {
		return 0, false
	}
	if c.NumObjects, i, ok = spacedNumber(line, i); !ok {
		return 0, false
	}
	if c.ObjectSizeBytes, i, ok = spacedNumber(line, i); !ok {
		return 0, false
	}
	if c.ObjectsPerSlab, i, ok = spacedNumber(line, i); !ok {
		return 0, false
	}
	if c.PagesPerSlab, i, ok = spacedNumber(line, i); !ok {
		return 0, false
	}
	if i, ok = spacedWord(line, i, ": tunables"); !ok {
		return 0, false
	}
	for range 3 {
		if _, i, ok = spacedNumber(line, i); !ok {
			return 0, false
		}
	}
	if i, ok = spacedWord(line, i, ": slabdata"); !ok {
		return 0, false
	}
	if c.ActiveSlabs, i, ok = spacedNumber(line, i); !ok {
		return 0, false
	}
	if c.NumSlabs, i, ok = spacedNumber(line, i); !ok {
		return 0, false
	}
	if _, i, ok = nextNumber(line, i); !ok {
		return 0, false
	}
	if j := skipSpace(line, i); j < len(line) && line[j] != ':' {
		return 0, false
	}
	return n, true
}

// spacedNumber reads one or more spaces, then a decimal of up to 18 digits
// followed by a space; i is then at that space.
func spacedNumber(b []byte, i int) (int64, int, bool) {
	j := skipSpace(b, i)
	if j == i {
		return 0, i, false
	}
	start := j
	var n int64
	for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-start < 18 {
		n = n*10 + int64(b[j]-'0')
		j++
	}
	if j == start || j == len(b) || b[j] != ' ' {
		return 0, j, false
	}
	return n, j, true
}

// spacedWord reads one or more spaces, then w followed by a space.
func spacedWord(b []byte, i int, w string) (int, bool) {
	j := skipSpace(b, i)
	if j == i || len(b)-j <= len(w) || string(b[j:j+len(w)]) != w || b[j+len(w)] != ' ' {
		return i, false
	}
	return j + len(w), true
}

// skipSpace skips spaces only: a tab sends a row to the tolerant parser.
func skipSpace(b []byte, i int) int {
	// Eight bytes at a time first: slabinfo pads its columns with runs of spaces.
	for i+8 <= len(b) {
		if x := binary.LittleEndian.Uint64(b[i:]) ^ spaces8; x != 0 {
			return i + bits.TrailingZeros64(x)/8
		}
		i += 8
	}
	for i < len(b) && b[i] == ' ' {
		i++
	}
	return i
}

// spaces8 is eight spaces as a little-endian word.
const spaces8 = 0x2020202020202020

// nextNumber skips blanks and reads a decimal that must end at a blank or
// the end of b; it reports false otherwise.
func nextNumber(b []byte, i int) (int64, int, bool) {
	i = skipSpace(b, i)
	start := i
	var n int64
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 18 {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	if i == start || i < len(b) && b[i] != ' ' && b[i] != '\t' && b[i] != '\r' {
		return 0, i, false
	}
	return n, i, true
}
