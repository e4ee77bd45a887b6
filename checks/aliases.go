package checks

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/leakgate/leakgate/checks/slab"
)

// maxSlabLinks bounds a /sys/kernel/slab listing (a distribution kernel
// has about 300 names).
const maxSlabLinks = 1 << 16

// ParseSlabLinks reads a listing of /sys/kernel/slab, one "name\ttarget"
// line per entry, target empty for a real directory and the link text for
// a symlink (every member of a merged group is a symlink to the group's
// directory; mm/slub.c sysfs_slab_add). Lines without a tab or with an
// empty or path-like name are errors, counted and skipped: the rest still
// counts.
func ParseSlabLinks(b []byte) ([]slab.SysfsEntry, error) {
	var out []slab.SysfsEntry
	bad, first := 0, ""
	for line := range bytes.Lines(b) {
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			continue
		}
		name, target, ok := bytes.Cut(line, []byte{'\t'})
		if !ok || !ValidCacheName(string(name)) || bytes.ContainsAny(target, "\t") {
			if bad++; first == "" {
				first = fmt.Sprintf("%.80q", line)
			}
			continue
		}
		if len(out) == maxSlabLinks {
			return out, fmt.Errorf("parse /sys/kernel/slab listing: more than %d entries; the rest are ignored", maxSlabLinks)
		}
		out = append(out, slab.SysfsEntry{Name: string(name), Target: string(target)})
	}
	if bad > 0 {
		return out, fmt.Errorf("parse /sys/kernel/slab listing: %d malformed lines skipped, first %s", bad, first)
	}
	return out, nil
}

// SlabAliases maps each slab cache name to the other cache names merged
// with it, for the groups that really share a cache. /proc/slabinfo lists a
// merged group under one name only, so a driver's cache can hide in a
// "kmalloc-256" or ":0000256" row; a finding names what else is in it.
func SlabAliases(entries []slab.SysfsEntry) map[string][]string {
	out := map[string][]string{}
	for _, g := range slab.ResolveAliases(entries) {
		if !g.Shared() {
			continue
		}
		for _, name := range append([]string{g.Dir}, g.Names...) {
			var others []string
			for _, o := range g.Names {
				if o != name {
					others = append(others, o)
				}
			}
			sort.Strings(others)
			out[name] = others
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
