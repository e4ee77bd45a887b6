package checks

import (
	"sort"
	"strings"

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
	// ConsecutiveScans is how many scans, up to the last, reported a
	// kmemleak signature.
	ConsecutiveScans int
}

// Meminfo subjects judged.
const (
	SubjectSUnreclaim   = "SUnreclaim"
	SubjectUnaccounted  = "Unaccounted"
	SubjectMemAvailable = "MemAvailable"
)

// defaultIntervalSeconds stands in for a sample's time when it has none.
const defaultIntervalSeconds = 600

// BuildSeries turns a run's samples into series: slab cache active bytes
// per cache, kmemleak object count per signature, anonymous memory per
// process incarnation, and the meminfo figures SUnreclaim, Unaccounted and
// MemAvailable. Samples are ordered by time; a sample whose time does not
// advance is dropped. Caches, signatures and processes that appear mid-run
// start their series there; gaps in the sample indexes are fine.
func BuildSeries(samples []Sample) []Series {
	ordered := orderSamples(samples)
	if len(ordered) == 0 {
		return nil
	}
	times := sampleTimes(ordered)
	var out []Series
	out = append(out, slabSeries(ordered, times)...)
	out = append(out, kmemleakSeries(ordered, times)...)
	out = append(out, processSeries(ordered, times)...)
	out = append(out, meminfoSeries(ordered, times)...)
	return out
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

// sampleTimes gives seconds since the first sample; a sample without a time
// is placed by its index at the default 10 min interval.
func sampleTimes(s []Sample) []float64 {
	t := make([]float64, len(s))
	for i := range s {
		if !s[i].At.IsZero() && !s[0].At.IsZero() {
			t[i] = s[i].At.Sub(s[0].At).Seconds()
		} else {
			t[i] = float64(s[i].Index-s[0].Index) * defaultIntervalSeconds
		}
		if i > 0 && t[i] <= t[i-1] {
			t[i] = t[i-1] + 1e-3 // keep time strictly increasing
		}
	}
	return t
}

// builder accumulates series by key in first-seen order.
type builder struct {
	order []string
	byKey map[string]*Series
}

func newBuilder() *builder { return &builder{byKey: map[string]*Series{}} }

func (b *builder) get(key string, init func() Series) *Series {
	s, ok := b.byKey[key]
	if !ok {
		v := init()
		s = &v
		b.byKey[key] = s
		b.order = append(b.order, key)
	}
	return s
}

func (b *builder) add(s *Series, idx int, t, v float64) {
	s.Times = append(s.Times, t)
	s.Values = append(s.Values, v)
	s.Indexes = append(s.Indexes, idx)
}

func (b *builder) series() []Series {
	out := make([]Series, 0, len(b.order))
	for _, k := range b.order {
		out = append(out, *b.byKey[k])
	}
	return out
}

func slabSeries(samples []Sample, times []float64) []Series {
	b := newBuilder()
	for i, s := range samples {
		for _, c := range s.Slabs {
			ser := b.get(c.Name, func() Series { return Series{Kind: KindSlab, Subject: c.Name, Unit: "bytes"} })
			b.add(ser, s.Index, times[i], float64(c.ActiveBytes()))
			ser.ObjectSizeBytes = c.ObjectSizeBytes
			if sites, ok := s.AllocSites[c.Name]; ok {
				ser.AllocCallers = allocCallers(sites)
			}
		}
	}
	return b.series()
}

func allocCallers(sites []slab.AllocSite) []string {
	out := make([]string, 0, len(sites))
	for _, a := range sites {
		if a.Caller != "" && !strings.HasPrefix(a.Caller, "<") {
			out = append(out, a.Caller)
		}
	}
	return out
}

// kmemleakSeries counts objects per signature in every sample that read
// the report (kmemleak's report is cumulative and never cleared, so a
// signature missing from a later scan had its objects freed: count 0).
func kmemleakSeries(samples []Sample, times []float64) []Series {
	b := newBuilder()
	for i, s := range samples {
		if _, failed := s.Errors[PathKmemleak]; failed {
			continue
		}
		seen := map[string]bool{}
		for _, g := range s.Leaks {
			if seen[g.Signature] {
				continue
			}
			seen[g.Signature] = true
			ser := b.get(g.Signature, func() Series {
				return Series{Kind: KindKmemleak, Subject: g.Signature, Unit: "objects"}
			})
			b.add(ser, s.Index, times[i], float64(g.Count))
			ser.Bytes = append(ser.Bytes, float64(g.Bytes))
			ser.SizesBytes, ser.Culprit, ser.Frames = g.SizesBytes, g.Culprit, g.Frames
			ser.ConsecutiveScans++
		}
		for _, key := range b.order {
			if !seen[key] {
				ser := b.byKey[key]
				b.add(ser, s.Index, times[i], 0)
				ser.Bytes = append(ser.Bytes, 0)
				ser.ConsecutiveScans = 0
			}
		}
	}
	return b.series()
}

func processSeries(samples []Sample, times []float64) []Series {
	b := newBuilder()
	for i, s := range samples {
		for _, p := range s.Procs {
			key := p.Key()
			ser := b.get(key, func() Series { return Series{Kind: KindProcess, Subject: key, Unit: "bytes"} })
			v := p.RSSAnonBytes
			if p.HasPSSAnon {
				v = p.PSSAnonBytes
			}
			b.add(ser, s.Index, times[i], float64(v))
		}
	}
	return b.series()
}

func meminfoSeries(samples []Sample, times []float64) []Series {
	b := newBuilder()
	for i, s := range samples {
		if len(s.Mem) == 0 {
			continue
		}
		if v, ok := s.Mem["SUnreclaim"]; ok {
			ser := b.get(SubjectSUnreclaim, func() Series {
				return Series{Kind: KindMeminfo, Subject: SubjectSUnreclaim, Unit: "bytes"}
			})
			b.add(ser, s.Index, times[i], float64(v))
		}
		if _, ok := s.Mem["MemTotal"]; ok {
			ser := b.get(SubjectUnaccounted, func() Series {
				return Series{Kind: KindMeminfo, Subject: SubjectUnaccounted, Unit: "bytes"}
			})
			b.add(ser, s.Index, times[i], float64(s.UnaccountedBytes))
		}
		if v, ok := s.Mem["MemAvailable"]; ok {
			ser := b.get(SubjectMemAvailable, func() Series {
				return Series{Kind: KindMeminfo, Subject: SubjectMemAvailable, Unit: "bytes", Decreasing: true}
			})
			b.add(ser, s.Index, times[i], float64(v))
		}
	}
	return b.series()
}
