package checks

import (
	"bytes"
	"fmt"
	"path"
	"sort"

	"github.com/leakgate/leakgate/checks/slab"
)

// maxSlabLinks bounds a /sys/kernel/slab listing (a distribution kernel
// has about 300 names).
const maxSlabLinks = 1 << 16

// ParseSlabLinks reads a listing of /sys/kernel/slab, one "name\ttarget"
// line per entry, target empty for a real directory and the link text for
// a symlink (every member of a merged group is a symlink to the group's
// directory; mm/slub.c sysfs_slab_add). A directory's line may carry a third
// field, its reclaim_account ("name\t\t1"). Lines without a tab or with an
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
		target, account, hasAccount := bytes.Cut(target, []byte{'\t'})
		if !ok || !ValidCacheName(string(name)) || bytes.ContainsAny(account, "\t") ||
			(hasAccount && len(target) > 0) {
			if bad++; first == "" {
				first = fmt.Sprintf("%.80q", line)
			}
			continue
		}
		if len(out) == maxSlabLinks {
			return out, fmt.Errorf("parse /sys/kernel/slab listing: more than %d entries; the rest are ignored", maxSlabLinks)
		}
		out = append(out, slab.SysfsEntry{Name: string(name), Target: string(target), ReclaimAccount: string(account) == "1"})
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

// ReclaimAccounted lists the cache names, sorted, that the kernel accounts as
// reclaimable slab (SReclaimable: dentry, inode caches, buffer heads, …):
// each directory with reclaim_account 1 and every name linked to it. Their
// growth is not part of SUnreclaim.
func ReclaimAccounted(entries []slab.SysfsEntry) []string {
	dirs := map[string]bool{}
	for _, e := range entries {
		if e.Target == "" && e.ReclaimAccount {
			dirs[e.Name] = true
		}
	}
	var out []string
	for _, e := range entries {
		if dirs[e.Name] || (e.Target != "" && dirs[path.Base(e.Target)]) {
			out = append(out, e.Name)
		}
	}
	sort.Strings(out)
	return out
}
