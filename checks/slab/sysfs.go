package slab

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"sort"
)

// SysfsCache is the exact per-cache figures from /sys/kernel/slab/<cache>/.
// Counts from sysfs are exact where /proc/slabinfo's active_objs is fuzzy
// (per-CPU free slots count as active there; mm/slub.c).
type SysfsCache struct {
	Objects      int64 `json:"objects"`
	TotalObjects int64 `json:"total_objects"`
	// ObjectSizeBytes is the payload; SlabSizeBytes adds metadata and alignment.
	ObjectSizeBytes int64 `json:"object_size"`
	SlabSizeBytes   int64 `json:"slab_size"`
	Reclaimable     bool  `json:"reclaim_account"`
	// AliasCount is the "aliases" file: how many other caches merged into this one.
	AliasCount int64 `json:"aliases"`
	// StoreUser is true when the cache records allocation owners (slab_debug=U).
	StoreUser bool `json:"store_user"`
	// Present lists the files that were given and parsed, so a zero value can
	// be told from a missing file.
	Present []string `json:"present,omitempty"`
}

// sysfsFiles are the files ParseSysfsCache understands, in order.
var sysfsFiles = []string{"objects", "total_objects", "object_size", "slab_size", "reclaim_account", "aliases", "store_user"}

// ParseSysfsCache reads the files of one /sys/kernel/slab/<cache>/ directory,
// keyed by file name ("objects", "object_size", ...). Missing files are left
// zero and absent from Present; a file that does not parse is reported in
// the joined error while the others are still read. Counts may be followed
// by per-node figures ("<n> N0=<n> N1=<n>"), which are ignored.
func ParseSysfsCache(files map[string][]byte) (SysfsCache, error) {
	var s SysfsCache
	var errs []error
	for _, name := range sysfsFiles {
		b, ok := files[name]
		if !ok {
			continue
		}
		v, err := parseSysfsNumber(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("parse slab sysfs %s: %w", name, err))
			continue
		}
		switch name {
		case "objects":
			s.Objects = v
		case "total_objects":
			s.TotalObjects = v
		case "object_size":
			s.ObjectSizeBytes = v
		case "slab_size":
			s.SlabSizeBytes = v
		case "reclaim_account":
			s.Reclaimable = v != 0
		case "aliases":
			s.AliasCount = v
		case "store_user":
			s.StoreUser = v != 0
		}
		s.Present = append(s.Present, name)
	}
	return s, errors.Join(errs...)
}

// parseSysfsNumber reads the leading count of "<n>[ N<node>=<n>...]\n".
func parseSysfsNumber(b []byte) (int64, error) {
	b = bytes.TrimSpace(b)
	if i := bytes.IndexAny(b, " \t"); i >= 0 {
		b = b[:i]
	}
	return parseInt(b)
}

// SysfsEntry is one name under /sys/kernel/slab: a real directory (Target
// empty) or a symlink to the merged group's directory (Target is the link
// text, e.g. ":0000064" or "../slab/:A-0000192").
type SysfsEntry struct {
	Name   string `json:"name"`
	Target string `json:"target,omitempty"`
	// ReclaimAccount is the directory's reclaim_account (SLAB_RECLAIM_ACCOUNT:
	// the cache counts as SReclaimable, not SUnreclaim); false for a symlink
	// or when the listing did not say.
	ReclaimAccount bool `json:"reclaim_account,omitempty"`
}

// MergedCache is one real cache directory and every name that points at it.
// Shared reports whether several caches really share it.
type MergedCache struct {
	// Dir is the directory all members resolve to (":0000064", "kmalloc-64").
	Dir string `json:"dir"`
	// Names are the symlinked member names, sorted; empty for an unmerged cache.
	Names []string `json:"names,omitempty"`
}

// Shared is true when more than one cache name resolves to this directory.
func (m MergedCache) Shared() bool { return len(m.Names) > 1 }

// ResolveAliases groups /sys/kernel/slab entries by the directory they
// resolve to, so a merged group is counted once however many names point at
// it (every member, the first creator included, is a symlink; mm/slub.c
// sysfs_slab_add). The result is sorted by Dir.
func ResolveAliases(entries []SysfsEntry) []MergedCache {
	byDir := map[string]*MergedCache{}
	get := func(dir string) *MergedCache {
		m, ok := byDir[dir]
		if !ok {
			m = &MergedCache{Dir: dir}
			byDir[dir] = m
		}
		return m
	}
	for _, e := range entries {
		if e.Target == "" {
			get(e.Name)
			continue
		}
		m := get(path.Base(e.Target))
		m.Names = append(m.Names, e.Name)
	}
	out := make([]MergedCache, 0, len(byDir))
	for _, m := range byDir {
		sort.Strings(m.Names)
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dir < out[j].Dir })
	return out
}

// MergedCount is the number of symlinked names: every mergeable cache is
// one, so 0 means merging is off (slab_nomerge or debug options). Groups
// with more than one name (Shared) are the caches /proc/slabinfo cannot
// tell apart.
func MergedCount(groups []MergedCache) int {
	n := 0
	for _, g := range groups {
		n += len(g.Names)
	}
	return n
}

// ApplyAliases fills each cache's Aliases with the other names merged into
// the same directory, so a finding on "kmalloc-64" can name the driver cache
// hiding in it.
func ApplyAliases(caches []Cache, groups []MergedCache) {
	members := map[string][]string{}
	for _, g := range groups {
		for _, n := range g.Names {
			members[n] = g.Names
		}
		if len(g.Names) > 0 {
			members[g.Dir] = g.Names
		}
	}
	for i := range caches {
		var others []string
		for _, n := range members[caches[i].Name] {
			if n != caches[i].Name {
				others = append(others, n)
			}
		}
		caches[i].Aliases = others
	}
}

// ApplySysfs replaces slabinfo's fuzzy counts with sysfs's exact ones where
// sysfs had them, and records reclaimability and the payload size.
func (c *Cache) ApplySysfs(s SysfsCache) {
	for _, f := range s.Present {
		switch f {
		case "objects":
			c.ActiveObjects = s.Objects
		case "total_objects":
			c.NumObjects = s.TotalObjects
		case "reclaim_account":
			c.Reclaimable = s.Reclaimable
		case "object_size":
			c.PayloadSizeBytes = s.ObjectSizeBytes
		}
	}
}
