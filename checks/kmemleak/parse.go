package kmemleak

import (
	"errors"
	"io"
)

// Parse reads a whole kmemleak report and returns its objects (up to
// Options.MaxObjects) and its groups by signature, each object with its
// Culprit and Signature set. Garbage between blocks is skipped and counted,
// never fatal; only a read error is returned, together with the report parsed
// so far. Memory is bounded by the object cap and the distinct signatures; use
// Options.GroupsOnly or Options.Each, or NewScanner with a Grouper, to keep no
// objects.
func Parse(r io.Reader, opts Options) (*Report, error) {
	limit := opts.MaxObjects
	if limit <= 0 {
		limit = DefaultMaxObjects
	}
	if opts.GroupsOnly || opts.Each != nil {
		limit = 0
	}
	sc := NewScanner(r)
	g := NewGrouper(opts.OwnModules)
	rep := &Report{Objects: []Object{}}
	var err error
	for {
		var obj Object
		keep := len(rep.Objects) < limit
		sc.lean = !keep && opts.Each == nil
		obj, err = sc.Next()
		if errors.Is(err, io.EOF) {
			err = nil
			break
		}
		if err != nil && !obj.Truncated {
			break
		}
		g.Add(&obj)
		if opts.Each != nil {
			each := obj // escapes to the heap; obj itself must not
			if eerr := opts.Each(&each); eerr != nil {
				err = eerr
				break
			}
		}
		rep.ObjectCount++
		rep.Bytes += obj.SizeBytes
		if obj.Truncated {
			rep.TruncatedObjects++
		}
		if keep {
			rep.Objects = append(rep.Objects, obj)
		} else if opts.Each == nil && !opts.GroupsOnly {
			rep.Truncated = true
		}
		if err != nil {
			break
		}
	}
	rep.Groups = g.Groups()
	rep.Skipped = sc.Skipped()
	rep.Ungrouped = g.Ungrouped()
	return rep, err
}

// Options tune Parse.
type Options struct {
	// OwnModules are module names or symbol prefixes whose frames are blamed
	// first ("mt7916_ap", "hostadpt_"); see OwnMatcher.
	OwnModules []string
	// MaxObjects caps the objects kept in Report.Objects; 0 means
	// DefaultMaxObjects. Objects beyond it are still counted and grouped.
	MaxObjects int
	// GroupsOnly keeps no objects at all: memory stays bounded by the number of
	// distinct signatures, whatever the report's size.
	GroupsOnly bool
	// Each, when set, is given every object in report order, with Culprit and
	// Signature set, instead of keeping it. An error from Each stops the parse
	// and is returned. It lets a caller stream every object of a report of
	// any size.
	Each func(*Object) error
}

// DefaultMaxObjects is the cap on kept objects when Options.MaxObjects is 0:
// about 60 MB of parsed objects at 16 frames each (≈ 1.8 KB per object,
// measured). A 100 MB report holds about 100,000 objects.
const DefaultMaxObjects = 1 << 15

// Report is one parsed kmemleak report.
type Report struct {
	// Objects in report order, at most the cap; Truncated says some were not kept.
	Objects []Object `json:"objects"`
	// Groups by signature, most objects first.
	Groups []Group `json:"groups"`
	// Truncated is true when more objects were seen than kept.
	Truncated bool `json:"truncated,omitempty"`
	// Skipped counts lines that belonged to no block or could not be read.
	Skipped int `json:"skipped_lines,omitempty"`
	// ObjectCount and Bytes total every object seen, kept or not.
	ObjectCount int   `json:"object_count"`
	Bytes       int64 `json:"bytes"`
	// TruncatedObjects counts objects cut short (normally only the last).
	TruncatedObjects int `json:"truncated_objects,omitempty"`
	// Ungrouped counts objects past MaxGroups distinct signatures.
	Ungrouped int `json:"ungrouped,omitempty"`
}
