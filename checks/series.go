package checks

import (
	"math"
	"sort"
	"time"

	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/slab"
)

// Series is one signal over a run, ready to judge: values at times in
// seconds since the run's first sample.
type Series struct {
	Kind    Kind
	Subject string
	// Unit of Values: "bytes" or "objects".
	Unit   string
	Times  []float64
	Values []float64
	// Decreasing marks a series whose fall is the leak direction
	// (MemAvailable); it is judged negated.
	Decreasing bool
	// Context marks a series charted for context and never judged.
	Context bool
	// Indexes are the sample indexes of the points.
	Indexes []int
	// ObjectSizeBytes is a slab cache's object size (last seen).
	ObjectSizeBytes int64
	// Bytes are a kmemleak signature's reported bytes per point.
	Bytes []float64
	// SizesBytes, Culprit and Frames describe a kmemleak signature (last seen).
	SizesBytes []int64
	Culprit    *kmemleak.Frame
	Frames     []kmemleak.Frame
	// AllocCallers are the allocation-site functions of a slab cache (last seen).
	AllocCallers []string
	// ConsecutiveScans is how many samples, up to the last, held the subject
	// (for kmemleak: how many scans reported the signature).
	ConsecutiveScans int
}

// Meminfo subjects judged.
const (
	SubjectSUnreclaim   = "SUnreclaim"
	SubjectUnaccounted  = "Unaccounted"
	SubjectMemAvailable = "MemAvailable"
	// SubjectSlab is charted for context, never judged: its reclaimable part
	// comes and goes with memory pressure.
	SubjectSlab = "Slab"
)

// defaultIntervalSeconds stands in for a sample's time when it has none.
const defaultIntervalSeconds = 600

// BuildSeries turns a run's samples into series, one per source (Sources)
// and subject: slab cache active bytes per cache, kmemleak object count per
// signature, anonymous memory per process incarnation, vmalloc bytes per
// caller, and the meminfo figures. Samples are ordered by time; a sample whose time does not
// advance is dropped. Caches, signatures and processes that appear mid-run
// start their series there; gaps in the sample indexes are fine. Every
// sample is used, whatever its boot (Judge keeps the last boot's).
func BuildSeries(samples []Sample) []Series {
	b := NewSeriesBuilder()
	b.allBoots = true
	for _, s := range orderSamples(samples) {
		b.Add(s)
	}
	return b.Series()
}

// SeriesBuilder builds series incrementally, one sample at a time, keeping
// only the points (8 bytes a value, 16 for a kmemleak signature, plus one
// time axis shared by the series) and the few last-seen details findings
// need — never the samples. A soak adds each
// sample as it is taken and judges the builder, so its memory grows with the
// number of points, not with the size of the samples.
//
// Samples must be added in time order; one whose time does not advance past
// the previous one is dropped. When the boot ID changes the series restart
// (only the last boot is judged) and Reboots counts the change.
type SeriesBuilder struct {
	// times and indexes are per kept sample of the current boot.
	times   []float64
	indexes []int

	// sets holds one set of series per source, in Sources order.
	sets []seriesSet

	// fastOnly keeps only the sources marked Fast (NewFastSeriesBuilder).
	fastOnly              bool
	added                 int
	prevAt                time.Time
	prevIndex             int
	prevBootID            string
	firstAt               time.Time
	firstIndex            int
	reboots               int
	allBoots              bool
	lastMemAvailableBytes float64
	lastSlabs             []slab.Cache
}

// NewFastSeriesBuilder returns an empty builder that keeps only the fast
// sources' series, from full and fast samples alike: the early test's view
// of a run sampled at two rates.
func NewFastSeriesBuilder() *SeriesBuilder {
	b := NewSeriesBuilder()
	b.fastOnly = true
	return b
}

// NewSeriesBuilder returns an empty builder.
func NewSeriesBuilder() *SeriesBuilder {
	b := &SeriesBuilder{lastMemAvailableBytes: math.NaN()}
	b.reset()
	return b
}

func (b *SeriesBuilder) reset() {
	b.times, b.indexes = nil, nil
	b.sets = make([]seriesSet, len(sources))
	for i := range b.sets {
		b.sets[i] = newSeriesSet()
	}
	b.lastMemAvailableBytes = math.NaN()
	b.lastSlabs = nil
}

// Add appends one sample's points. The sample is not retained, except its
// slab cache list until the next Add (for kmalloc bucket sizes); do not
// modify that list afterwards.
func (b *SeriesBuilder) Add(s Sample) {
	if b.added > 0 {
		if s.At.IsZero() || b.prevAt.IsZero() {
			if s.Index <= b.prevIndex {
				return
			}
		} else if !s.At.After(b.prevAt) {
			return
		}
		if !b.allBoots && s.BootID != "" && b.prevBootID != "" && s.BootID != b.prevBootID {
			b.reboots++
			b.reset()
		}
	}
	b.added++
	b.prevAt, b.prevIndex, b.prevBootID = s.At, s.Index, s.BootID

	pos := len(b.times)
	var t float64
	if pos == 0 {
		b.firstAt, b.firstIndex = s.At, s.Index
	} else {
		if !s.At.IsZero() && !b.firstAt.IsZero() {
			t = s.At.Sub(b.firstAt).Seconds()
		} else {
			t = float64(s.Index-b.firstIndex) * defaultIntervalSeconds
		}
		if last := b.times[pos-1]; t <= last {
			t = last + 1e-3 // keep time strictly increasing
		}
	}
	b.times = append(b.times, t)
	b.indexes = append(b.indexes, s.Index)

	for i := range sources {
		b.addSource(&sources[i], &b.sets[i], &s, pos)
	}
	if v, ok := s.Mem["MemAvailable"]; ok {
		b.lastMemAvailableBytes = float64(v)
	}
	b.lastSlabs = s.Slabs
}

// Start is the time of the first sample the series hold (time 0 of Times).
func (b *SeriesBuilder) Start() time.Time { return b.firstAt }

// Samples is how many samples the series hold (of the last boot).
func (b *SeriesBuilder) Samples() int { return len(b.times) }

// Reboots counts boot ID changes seen so far.
func (b *SeriesBuilder) Reboots() int { return b.reboots }

// Points counts the points held across all series.
func (b *SeriesBuilder) Points() int {
	n := 0
	for _, set := range b.sets {
		for _, p := range set.list {
			n += len(p.values)
		}
	}
	return n
}

// LatestMemAvailableBytes is the last MemAvailable read (NaN when none).
func (b *SeriesBuilder) LatestMemAvailableBytes() float64 { return b.lastMemAvailableBytes }

// Series returns the series built so far, source by source in Sources
// order, each source's in first-seen order. Times, Values, Indexes
// and Bytes may share the builder's storage: treat them as read-only, and
// call Series again after more samples are added.
func (b *SeriesBuilder) Series() []Series {
	if len(b.times) == 0 {
		return nil
	}
	var out []Series
	for _, set := range b.sets {
		for _, p := range set.list {
			out = append(out, b.materialize(p))
		}
	}
	return out
}

func (b *SeriesBuilder) materialize(p *partial) Series {
	s := p.meta
	n := len(p.values)
	s.Values = p.values[:n:n]
	if p.bytes != nil {
		s.Bytes = p.bytes[:n:n]
	}
	if p.pos == nil { // contiguous to the last sample: share the time axis
		end := p.start + n
		s.Times = b.times[p.start:end:end]
		s.Indexes = b.indexes[p.start:end:end]
		return s
	}
	s.Times = make([]float64, n)
	s.Indexes = make([]int, n)
	for i, at := range p.pos {
		s.Times[i] = b.times[at]
		s.Indexes[i] = b.indexes[at]
	}
	return s
}

// kmallocSizes lists the kmalloc bucket sizes of the last sample.
func (b *SeriesBuilder) kmallocSizes() []int64 {
	return kmallocSizes(Sample{Slabs: b.lastSlabs})
}

// partial is one series being built: its points are values at positions
// in the builder's time axis — contiguous from start while pos is nil.
type partial struct {
	meta   Series
	start  int
	pos    []int32
	values []float64
	bytes  []float64
}

// lastAt is the position of the last point (len(values) > 0).
func (p *partial) lastAt() int {
	if p.pos != nil {
		return int(p.pos[len(p.pos)-1])
	}
	return p.start + len(p.values) - 1
}

func (p *partial) add(at int, v float64) {
	n := len(p.values)
	switch {
	case n == 0:
		p.start = at
	case p.pos == nil && at != p.start+n:
		p.pos = make([]int32, n, 2*n+1)
		for i := range p.pos {
			p.pos[i] = int32(p.start + i)
		}
	}
	if p.pos != nil {
		p.pos = append(p.pos, int32(at))
	}
	p.values = append(p.values, v)
}

// seriesSet holds partials by key in first-seen order.
type seriesSet struct {
	list  []*partial
	byKey map[string]*partial
}

func newSeriesSet() seriesSet { return seriesSet{byKey: map[string]*partial{}} }

func (set *seriesSet) get(key string, init func() Series) *partial {
	p, ok := set.byKey[key]
	if !ok {
		p = &partial{meta: init()}
		set.byKey[key] = p
		set.list = append(set.list, p)
	}
	return p
}

// addSource adds one source's points of a sample at position at. A subject
// appears once per sample (the first point wins). For a cumulative source
// a subject the sample lacks drops to zero, and ConsecutiveScans counts the
// samples, up to the last, that held it.
func (b *SeriesBuilder) addSource(src *Source, set *seriesSet, s *Sample, at int) {
	if (s.Fast || b.fastOnly) && !src.Fast {
		return // a fast sample did not read it, or the builder does not keep it
	}
	if src.Read != nil && !src.Read(s) {
		return
	}
	var seen map[string]bool
	if src.ZeroWhenAbsent {
		seen = map[string]bool{}
	}
	src.Points(s, func(pt Point) {
		p := set.get(pt.Subject, func() Series {
			return Series{Kind: src.Kind, Subject: pt.Subject, Unit: src.Unit, Decreasing: pt.Decreasing, Context: pt.Context}
		})
		if n := len(p.values); n > 0 && p.lastAt() == at {
			return // a repeated subject within one sample
		}
		p.add(at, pt.Value)
		if src.Unit != "bytes" {
			p.bytes = append(p.bytes, pt.Bytes)
		}
		p.meta.update(pt)
		if seen != nil {
			seen[pt.Subject] = true
			p.meta.ConsecutiveScans++
		}
	})
	if seen == nil {
		return
	}
	for _, p := range set.list {
		if !seen[p.meta.Subject] {
			p.add(at, 0)
			p.bytes = append(p.bytes, 0)
			p.meta.ConsecutiveScans = 0
		}
	}
}

// update keeps a point's details as the series' last-seen ones; zero
// fields leave the earlier details in place.
func (s *Series) update(pt Point) {
	if pt.ObjectSizeBytes != 0 {
		s.ObjectSizeBytes = pt.ObjectSizeBytes
	}
	if pt.SizesBytes != nil {
		s.SizesBytes = pt.SizesBytes
	}
	if pt.Culprit != nil {
		s.Culprit = pt.Culprit
	}
	if pt.Frames != nil {
		s.Frames = pt.Frames
	}
	if pt.AllocCallers != nil {
		s.AllocCallers = pt.AllocCallers
	}
}

// orderSamples sorts by time (then index) and drops samples whose time
// does not advance.
func orderSamples(samples []Sample) []Sample {
	s := append([]Sample(nil), samples...)
	sort.SliceStable(s, func(i, j int) bool {
		if !s[i].At.Equal(s[j].At) {
			return s[i].At.Before(s[j].At)
		}
		return s[i].Index < s[j].Index
	})
	out := s[:0]
	for _, x := range s {
		if len(out) > 0 {
			prev := out[len(out)-1]
			if x.At.IsZero() || prev.At.IsZero() {
				if x.Index <= prev.Index {
					continue
				}
			} else if !x.At.After(prev.At) {
				continue
			}
		}
		out = append(out, x)
	}
	return out
}
