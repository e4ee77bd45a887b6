package slab

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/leakgate/leakgate/checks/internal/lines"
)

// The straightforward parsers the fast ones replaced, kept as the reference
// the fuzz targets below hold the fast ones to: same sites, same errors.

func referenceParseAllocCalls(b []byte) (AllocReport, error) {
	var r AllocReport
	r.Truncated = len(b) >= allocCallsPageCutBytes || (len(b) > 0 && b[len(b)-1] != '\n')
	r.Sites = []AllocSite{}
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
		if isNoData(line) {
			r.NoData = true
			continue
		}
		r.Sites = append(r.Sites, AllocSite{})
		if err := parseSiteHeader(line, in, &r.Sites[len(r.Sites)-1]); err != nil {
			r.Sites = r.Sites[:len(r.Sites)-1]
			rowErrs.Add(lineNo, line, err)
		}
	}
	if len(rowErrs.Lines) > 0 {
		return r, &rowErrs
	}
	return r, nil
}

func referenceParseAllocTraces(b []byte) (AllocReport, error) {
	var r AllocReport
	r.Truncated = len(b) > 0 && b[len(b)-1] != '\n'
	r.Sites = []AllocSite{}
	in := newInterner()
	var rowErrs RowErrors
	var cur *AllocSite
	lineNo := 0
	for len(b) > 0 {
		var line []byte
		line, b = lines.Next(b)
		lineNo++
		first, _ := lines.NextToken(line)
		if len(first) == 0 {
			cur = nil
			continue
		}
		if isNoData(line) {
			r.NoData = true
			continue
		}
		if isCount(first) {
			r.Sites = append(r.Sites, AllocSite{})
			cur = &r.Sites[len(r.Sites)-1]
			if err := parseSiteHeader(line, in, cur); err != nil {
				r.Sites = r.Sites[:len(r.Sites)-1]
				rowErrs.Add(lineNo, line, err)
				cur = nil
			}
			continue
		}
		if cur == nil || line[0] != ' ' && line[0] != '\t' {
			rowErrs.Add(lineNo, line, errors.New("stack line outside an entry"))
			continue
		}
		if len(cur.Stack) >= maxStackLines {
			rowErrs.Add(lineNo, line, fmt.Errorf("more than %d stack lines in one entry", maxStackLines))
			continue
		}
		cur.Stack = append(cur.Stack, in.get(bytes.TrimSpace(line)))
	}
	if len(rowErrs.Lines) > 0 {
		return r, &rowErrs
	}
	return r, nil
}

// sameReport compares two parses: sites, flags and the error text.
func sameReport(t *testing.T, in []byte, got, want AllocReport, gotErr, wantErr error) {
	t.Helper()
	if len(got.Sites) == 0 && len(want.Sites) == 0 {
		got.Sites, want.Sites = nil, nil
	}
	if !reflect.DeepEqual(got, want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("input %q:\n got %+v (%v)\nwant %+v (%v)", in, got, gotErr, want, wantErr)
	}
}

func FuzzParseAllocCallsMatchesReference(f *testing.F) {
	f.Add(readFixture(f, "alloc_calls-4.19.txt"))
	f.Add(readFixture(f, "alloc_calls-4.19-no-data.txt"))
	f.Add([]byte("  5 +a+0x1/0x2 [m] waste=1/2 age=1/2/3 pid=4-5 cpus= nodes=0-1\n\vNo data\n 1 a age=1/2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gotErr := ParseAllocCalls(b)
		want, wantErr := referenceParseAllocCalls(b)
		sameReport(t, b, got, want, gotErr, wantErr)
	})
}

func FuzzParseAllocTracesMatchesReference(f *testing.F) {
	f.Add(readFixture(f, "alloc_traces-5.15.txt"))
	f.Add(readFixture(f, "alloc_traces-6.1-waste.txt"))
	f.Add([]byte("  5 a+0x1/0x2 age=1 pid=1\n\tf1\n        f2 \n\vNo data\n  x\n\n 7 b age=2 pid=1\n        f1\n        f2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gotErr := ParseAllocTraces(b)
		want, wantErr := referenceParseAllocTraces(b)
		sameReport(t, b, got, want, gotErr, wantErr)
	})
}

func referenceParseSlabinfo(b []byte) ([]Cache, error) {
	var caches []Cache
	var rowErrs RowErrors
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
		c, err := parseSlabinfoRow(splitFields(line, nil))
		if err != nil {
			rowErrs.Add(lineNo, line, err)
			continue
		}
		caches = append(caches, c)
	}
	if len(rowErrs.Lines) > 0 {
		return caches, &rowErrs
	}
	return caches, nil
}

func FuzzParseSlabinfoMatchesReference(f *testing.F) {
	for _, n := range []string{"slabinfo-6.18.44.txt", "slabinfo-5.4-long-name.txt", "slabinfo-4.9-slab-globalstat.txt", "slabinfo-5.4-bad-row.txt"} {
		f.Add(readFixture(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, gotErr := ParseSlabinfo(b)
		want, wantErr := referenceParseSlabinfo(b)
		if len(got) == 0 && len(want) == 0 {
			got, want = nil, nil
		}
		if !reflect.DeepEqual(got, want) || fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("input %q:\n got %+v (%v)\nwant %+v (%v)", b, got, gotErr, want, wantErr)
		}
	})
}
