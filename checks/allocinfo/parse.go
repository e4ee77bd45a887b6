// Package allocinfo parses /proc/allocinfo (Linux ≥ 6.10 with
// CONFIG_MEM_ALLOC_PROFILING): the live bytes and the number of live
// allocations per allocation call site, for every allocator the kernel tags —
// slab, pages, vmalloc, per-CPU.
//
// The file (lib/alloc_tag.c, lib/codetag.c of 6.12) is a version line, a
// column comment, then one line per call site:
//
//	allocinfo - version: 1.0
//	#     <size>  <calls> <tag info>
//	       16384        4 drivers/net/wireless/wlansim/rx.c:212 [wlansim] func:wlansim_rx_fill
//
// printed as "%12lli %8llu <file>:<line>[ [module]] func:<name> " (bytes are
// signed). Version 2.0 (2025) may append " key:value" pairs, e.g.
// "accurate:no" when slab accounting missed allocations of that site.
//
// Limits a reader of the numbers must know:
//   - A site is where an allocation hook (alloc_hooks()) expands, not where the
//     memory is used. Helpers not converted to the *_noprof + alloc_hooks()
//     pattern are charged to the helper's own line: in 6.12 every page
//     fragment (netdev_alloc_frag, napi_alloc_frag, page_frag_alloc) is charged
//     to mm/page_alloc.c func:__page_frag_cache_refill, skb heads to
//     net/core/skbuff.c, page_pool pages to net/core/page_pool.c, devm_kmalloc
//     to drivers/base/devres.c. Such a generic site says how memory grows, not
//     who holds it: Generic names them, and a culprit needs page_owner stacks
//     (package pageowner) or a driver's own site.
//   - Counting starts when profiling is on: memory allocated while
//     vm.mem_profiling was 0 is never charged, and freeing it later is not
//     subtracted either (the site can then even go negative).
//   - An inline helper in a header gets one tag per compilation unit that
//     uses it, so the same file:line func can appear on several lines; Merge
//     folds them per Key.
//   - The file is root-only (mode 0400) and grows with every loaded module's
//     sites: 1,057 lines, 75 KB on the rig's tinyconfig 6.12 kernel; a full
//     distribution kernel has many times more.
package allocinfo

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/leakgate/leakgate/checks/internal/lines"
)

// Site is one call site's live allocations.
type Site struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Module string `json:"module,omitempty"`
	Func   string `json:"func"`
	// Bytes live now; the kernel prints it signed (see the package doc).
	Bytes int64 `json:"bytes"`
	// Calls is the number of live allocations (allocated and not yet freed).
	Calls int64 `json:"calls"`
	// Inaccurate is version 2.0's "accurate:no": some allocations of this
	// site were not counted.
	Inaccurate bool `json:"inaccurate,omitempty"`
	// Extra holds any other trailing key:value pairs, as printed.
	Extra []string `json:"extra,omitempty"`
}

// Key names a call site as the kernel prints it and stably across samples,
// boots and builds of the same source: "file:line [module] func:name", the
// module part only for a module's site, e.g.
// "drivers/net/wireless/wlansim/rx.c:212 [wlansim] func:wlansim_rx_fill".
func (s Site) Key() string {
	n := len(s.File) + len(s.Module) + len(s.Func) + 20
	b := make([]byte, 0, n)
	b = append(b, s.File...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(s.Line), 10)
	if s.Module != "" {
		b = append(b, " ["...)
		b = append(b, s.Module...)
		b = append(b, ']')
	}
	b = append(b, " func:"...)
	b = append(b, s.Func...)
	return string(b)
}

// Info is one parsed /proc/allocinfo.
type Info struct {
	// Version is the header's version ("1.0", "2.0"); "" when the header
	// line was missing (a partial read that kept only site lines).
	Version string `json:"version,omitempty"`
	// Sites in file order; duplicates of a Key are kept (see Merge).
	Sites []Site `json:"sites"`
}

// ErrNotAllocinfo is returned when the input has neither the allocinfo
// header nor a single line that parses as a call site.
var ErrNotAllocinfo = errors.New("not /proc/allocinfo: no \"allocinfo - version:\" header and no call-site line; read /proc/allocinfo on a kernel ≥ 6.10 built with CONFIG_MEM_ALLOC_PROFILING")

// ErrUnsupportedVersion is returned for a header whose major version is not
// 1 or 2; the sites that still parse are returned with it.
var ErrUnsupportedVersion = errors.New("unsupported allocinfo version; leakgate reads 1.x and 2.x")

// LineErrors collects the lines that did not parse; the sites that did are
// returned next to it.
type LineErrors = lines.Errors

const header = "allocinfo - version:"

// maxPresize caps the sites reserved from a newline count.
const maxPresize = 1 << 14

// Parse reads a whole /proc/allocinfo. A nil error means every line parsed.
// Lines that do not parse are reported in a *LineErrors (line number, text,
// reason) returned together with every site that did. A file that is not
// allocinfo at all (no header, no site line) returns ErrNotAllocinfo and no
// Info; a header of an unknown major version returns the sites that parsed
// and an error wrapping ErrUnsupportedVersion.
func Parse(b []byte) (*Info, error) {
	info := &Info{Sites: make([]Site, 0, min(bytes.Count(b, []byte{'\n'})+1, maxPresize))}
	var errs LineErrors
	var verErr error
	sawHeader := false
	lineNo := 0
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		lineNo++
		t := lines.TrimSpace(line)
		if len(t) == 0 {
			continue
		}
		if bytes.HasPrefix(t, []byte(header)) {
			if sawHeader {
				errs.Add(lineNo, line, errors.New("a second version header"))
				continue
			}
			sawHeader = true
			info.Version = string(lines.TrimSpace(t[len(header):]))
			if !knownVersion(info.Version) {
				verErr = fmt.Errorf("parse allocinfo: line %d: version %q: %w", lineNo, info.Version, ErrUnsupportedVersion)
			}
			continue
		}
		if t[0] == '#' {
			continue
		}
		s, err := parseSite(t)
		if err != nil {
			errs.Add(lineNo, line, err)
			continue
		}
		info.Sites = append(info.Sites, s)
	}
	if !sawHeader && len(info.Sites) == 0 {
		return nil, ErrNotAllocinfo
	}
	if verErr != nil {
		if len(errs.Lines) > 0 {
			return info, fmt.Errorf("%w; %w", verErr, &errs)
		}
		return info, verErr
	}
	if len(errs.Lines) > 0 {
		return info, &errs
	}
	return info, nil
}

// knownVersion accepts 1.x and 2.x: 2.0 only added trailing key:value pairs.
func knownVersion(v string) bool {
	return len(v) >= 2 && (v[0] == '1' || v[0] == '2') && v[1] == '.'
}

var (
	errBytes  = errors.New("first field is not a signed decimal byte count")
	errCalls  = errors.New("second field is not a decimal call count")
	errTag    = errors.New("no \"<file>:<line>\" tag after the counts")
	errLineNo = errors.New("the tag's line number is not a decimal")
	errModule = errors.New("a \"[module]\" without its closing bracket")
	errFunc   = errors.New("no \"func:<name>\" after the tag")
)

// parseSite reads "<bytes> <calls> <file>:<line> [[module]] func:<name> [key:value]...".
func parseSite(t []byte) (Site, error) {
	var s Site
	tok, rest := lines.NextToken(t)
	v, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		return s, errBytes
	}
	s.Bytes = v
	tok, rest = lines.NextToken(rest)
	if len(tok) == 0 || tok[0] == '-' || tok[0] == '+' {
		return s, errCalls
	}
	v, err = strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		return s, errCalls
	}
	s.Calls = v
	tok, rest = lines.NextToken(rest)
	colon := bytes.LastIndexByte(tok, ':')
	if colon <= 0 || colon == len(tok)-1 {
		return s, errTag
	}
	n, err := strconv.Atoi(string(tok[colon+1:]))
	if err != nil || n < 0 || tok[colon+1] == '+' {
		return s, errLineNo
	}
	s.File, s.Line = string(tok[:colon]), n
	tok, rest = lines.NextToken(rest)
	if len(tok) > 0 && tok[0] == '[' {
		if len(tok) < 3 || tok[len(tok)-1] != ']' {
			return s, errModule
		}
		s.Module = string(tok[1 : len(tok)-1])
		tok, rest = lines.NextToken(rest)
	}
	name, ok := bytes.CutPrefix(tok, []byte("func:"))
	if !ok || len(name) == 0 {
		return s, errFunc
	}
	s.Func = string(name)
	for {
		tok, rest = lines.NextToken(rest)
		if len(tok) == 0 {
			break
		}
		if string(tok) == "accurate:no" {
			s.Inaccurate = true
			continue
		}
		s.Extra = append(s.Extra, string(tok))
	}
	return s, nil
}

// Merge folds sites with the same Key into one, summing Bytes and Calls
// (an inline header helper has one tag per compilation unit), keeping the
// first occurrence's place; Inaccurate is set when any was.
func Merge(sites []Site) []Site {
	out := make([]Site, 0, len(sites))
	at := make(map[string]int, len(sites))
	for _, s := range sites {
		k := s.Key()
		if i, ok := at[k]; ok {
			out[i].Bytes += s.Bytes
			out[i].Calls += s.Calls
			out[i].Inaccurate = out[i].Inaccurate || s.Inaccurate
			continue
		}
		at[k] = len(out)
		s.Extra = append([]string(nil), s.Extra...)
		out = append(out, s)
	}
	return out
}

// Largest returns the n sites with the most bytes, most first, ties by Key;
// sites is not reordered.
func Largest(sites []Site, n int) []Site {
	out := append([]Site(nil), sites...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Bytes != out[j].Bytes {
			return out[i].Bytes > out[j].Bytes
		}
		return out[i].Key() < out[j].Key()
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}
