package harness

// Compact samples.jsonl: a sample line repeated, in full, what had not
// changed since the sample before it (every allocation site, slab cache,
// process and kmemleak group), so a run folder grew by far more than the
// compressed raw snapshot each sample came from. A sample is now written
// as a SampleDelta against the previous sample line — per JSON field, per
// array element and per object key, only what changed — with a full
// sample line every keyframeEvery samples, so that rebuilding one sample
// reads at most that many lines. The raw snapshot stays the source of
// truth; samples.jsonl is its parsed index and the fallback for a torn raw.
// Folders written before (full sample lines only) load as they did.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/leakgate/leakgate/checks"
)

// keyframeEvery is how often a full sample line is written: one full line,
// then deltas. A sample is rebuilt from at most this many lines.
const keyframeEvery = 32

// SampleDelta is a sample written as the changes from the sample line
// before it (Base).
type SampleDelta struct {
	Index int       `json:"index"`
	At    time.Time `json:"at"`
	// Base is the index of the sample this one is a delta against.
	Base int `json:"base"`
	// Patch turns Base's JSON object into this sample's (see jsonPatch);
	// nil when nothing changed.
	Patch *jsonPatch `json:"patch,omitempty"`
}

// jsonPatch turns one JSON value into another. Exactly one field is set:
// Full replaces the value; Array rebuilds an array from runs of the base
// array's elements and new elements; Object patches an object key by key
// (a key absent from Object is unchanged); Removed drops an object's key.
type jsonPatch struct {
	Full    json.RawMessage       `json:"f,omitempty"`
	Array   []arrayOp             `json:"a,omitempty"`
	Object  map[string]*jsonPatch `json:"o,omitempty"`
	Removed bool                  `json:"x,omitempty"`
}

// arrayOp is a run of Copy[1] elements of the base array from Copy[0], or
// one new element Value.
type arrayOp struct {
	Copy  *[2]int         `json:"c,omitempty"`
	Value json.RawMessage `json:"v,omitempty"`
}

// maxPatchDepth is how deep objects are patched key by key (a sample, then
// e.g. alloc_sites' caches); deeper objects are array elements or whole
// values.
const maxPatchDepth = 2

// diffJSON returns the patch turning base into cur, or nil when they are
// the same bytes.
func diffJSON(base, cur json.RawMessage, depth int) (*jsonPatch, error) {
	if bytes.Equal(base, cur) {
		return nil, nil
	}
	switch {
	case isJSON(base, '{') && isJSON(cur, '{') && depth < maxPatchDepth:
		var b, c map[string]json.RawMessage
		if err := json.Unmarshal(base, &b); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(cur, &c); err != nil {
			return nil, err
		}
		p := &jsonPatch{Object: map[string]*jsonPatch{}}
		for k, cv := range c {
			bv, ok := b[k]
			if !ok {
				p.Object[k] = &jsonPatch{Full: cv}
				continue
			}
			sub, err := diffJSON(bv, cv, depth+1)
			if err != nil {
				return nil, err
			}
			if sub != nil {
				p.Object[k] = sub
			}
		}
		for k := range b {
			if _, ok := c[k]; !ok {
				p.Object[k] = &jsonPatch{Removed: true}
			}
		}
		if len(p.Object) == 0 {
			return &jsonPatch{Full: cur}, nil
		}
		return p, nil
	case isJSON(base, '[') && isJSON(cur, '['):
		var b, c []json.RawMessage
		if err := json.Unmarshal(base, &b); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(cur, &c); err != nil {
			return nil, err
		}
		if len(c) == 0 {
			return &jsonPatch{Full: cur}, nil
		}
		return &jsonPatch{Array: diffArray(b, c)}, nil
	}
	return &jsonPatch{Full: cur}, nil
}

// diffArray writes cur as runs copied from base where its elements are
// base's (by bytes), new elements elsewhere.
func diffArray(base, cur []json.RawMessage) []arrayOp {
	at := make(map[string]int, len(base))
	for i := len(base) - 1; i >= 0; i-- {
		at[string(base[i])] = i
	}
	var ops []arrayOp
	next := -1 // the base index that would extend the last copy run
	for _, e := range cur {
		if next >= 0 && next < len(base) && bytes.Equal(base[next], e) {
			ops[len(ops)-1].Copy[1]++
			next++
			continue
		}
		if j, ok := at[string(e)]; ok {
			ops = append(ops, arrayOp{Copy: &[2]int{j, 1}})
			next = j + 1
			continue
		}
		ops = append(ops, arrayOp{Value: e})
		next = -1
	}
	return ops
}

func isJSON(v json.RawMessage, open byte) bool {
	v = bytes.TrimLeft(v, " \t\r\n")
	return len(v) > 0 && v[0] == open
}

// errBadPatch marks a delta that does not apply to its base.
var errBadPatch = errors.New("the delta does not apply to the sample it names as its base")

// applyJSON applies p to base (nil p: base unchanged).
func applyJSON(base json.RawMessage, p *jsonPatch) (json.RawMessage, error) {
	switch {
	case p == nil:
		return base, nil
	case p.Full != nil:
		return p.Full, nil
	case p.Object != nil:
		var b map[string]json.RawMessage
		if err := json.Unmarshal(base, &b); err != nil || b == nil {
			return nil, fmt.Errorf("%w: an object patch on a value that is not an object", errBadPatch)
		}
		for k, sub := range p.Object {
			if sub == nil {
				continue
			}
			if sub.Removed {
				delete(b, k)
				continue
			}
			v, err := applyJSON(b[k], sub)
			if err != nil {
				return nil, err
			}
			b[k] = v
		}
		return json.Marshal(b)
	case p.Array != nil:
		var b []json.RawMessage
		if err := json.Unmarshal(base, &b); err != nil {
			return nil, fmt.Errorf("%w: an array patch on a value that is not an array", errBadPatch)
		}
		out := make([]json.RawMessage, 0, len(b))
		for _, op := range p.Array {
			switch {
			case op.Copy != nil:
				from, n := op.Copy[0], op.Copy[1]
				if from < 0 || n < 0 || from > len(b) || n > len(b)-from {
					return nil, fmt.Errorf("%w: elements %d+%d of an array of %d", errBadPatch, from, n, len(b))
				}
				out = append(out, b[from:from+n]...)
			case op.Value != nil:
				out = append(out, op.Value)
			default:
				return nil, fmt.Errorf("%w: an array step that neither copies nor adds", errBadPatch)
			}
		}
		return json.Marshal(out)
	}
	return nil, fmt.Errorf("%w: an empty patch", errBadPatch)
}

// compactor turns each sample into its samples.jsonl record: a full sample
// every keyframeEvery samples, a SampleDelta against the previous one
// otherwise. It keeps the previous sample's JSON (one sample's worth).
type compactor struct {
	prev      json.RawMessage
	prevIndex int
	sinceFull int
}

// record returns the record to write for smp; commit must be called once
// it is written, so that a line that failed to reach the disk is never a
// base.
func (c *compactor) record(smp *checks.Sample) (Record, func(), error) {
	cur, err := json.Marshal(smp)
	if err != nil {
		return Record{}, nil, err
	}
	commit := func(full bool) func() {
		return func() {
			c.prev, c.prevIndex = cur, smp.Index
			if full {
				c.sinceFull = 1
			} else {
				c.sinceFull++
			}
		}
	}
	if c.prev == nil || c.sinceFull >= keyframeEvery {
		return Record{Sample: smp}, commit(true), nil
	}
	p, err := diffJSON(c.prev, cur, 0)
	if err != nil {
		return Record{}, nil, err
	}
	return Record{Delta: &SampleDelta{Index: smp.Index, At: smp.At, Base: c.prevIndex, Patch: p}}, commit(false), nil
}

// sampleLines rebuilds samples from samples.jsonl lines, full or delta,
// reading a delta's base (and its base, up to the last full line) as
// needed; the last sample rebuilt is kept, so reading in index order
// rebuilds each sample from one line.
type sampleLines struct {
	read func(offset int64) (Record, error)
	// offsets are the sample lines by index.
	offsets map[int]int64
	// last is the JSON of the last sample rebuilt.
	lastIndex int
	last      json.RawMessage
}

// sample rebuilds the sample at index i.
func (s *sampleLines) sample(i int) (checks.Sample, error) {
	raw, err := s.json(i, keyframeEvery+1)
	if err != nil {
		return checks.Sample{}, err
	}
	var smp checks.Sample
	if err := json.Unmarshal(raw, &smp); err != nil {
		return checks.Sample{}, fmt.Errorf("sample %d: %w", i, err)
	}
	if smp.Index != i {
		return checks.Sample{}, fmt.Errorf("sample %d: rebuilt as sample %d", i, smp.Index)
	}
	return smp, nil
}

func (s *sampleLines) json(i, budget int) (json.RawMessage, error) {
	if s.last != nil && s.lastIndex == i {
		return s.last, nil
	}
	off, ok := s.offsets[i]
	if !ok {
		return nil, fmt.Errorf("sample %d: no line in %s", i, SamplesFile)
	}
	rec, err := s.read(off)
	if err != nil {
		return nil, err
	}
	var out json.RawMessage
	switch {
	case rec.Sample != nil:
		if out, err = json.Marshal(rec.Sample); err != nil {
			return nil, err
		}
	case rec.Delta != nil:
		if budget <= 1 || rec.Delta.Base >= i {
			return nil, fmt.Errorf("sample %d: its delta chain does not reach a full sample line within %d lines", i, keyframeEvery)
		}
		base, err := s.json(rec.Delta.Base, budget-1)
		if err != nil {
			return nil, fmt.Errorf("sample %d: base %w", i, err)
		}
		if out, err = applyJSON(base, rec.Delta.Patch); err != nil {
			return nil, fmt.Errorf("sample %d: %w", i, err)
		}
	default:
		return nil, fmt.Errorf("sample %d: the line at byte %d is not a sample", i, off)
	}
	s.lastIndex, s.last = i, out
	return out, nil
}
