package slab

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readSysfsDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	entries, err := os.ReadDir(filepath.Join("..", "..", "testdata", "slab", dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		files[e.Name()] = readFixture(t, filepath.Join(dir, e.Name()))
	}
	return files
}

func TestParseSysfsCache_RealMergedCacheOf6_18(t *testing.T) {
	s, err := ParseSysfsCache(readSysfsDir(t, "sysfs-6.18.44-_0000048"))
	if err != nil {
		t.Fatalf("ParseSysfsCache: %v", err)
	}
	want := SysfsCache{Objects: 255, TotalObjects: 255, ObjectSizeBytes: 48, SlabSizeBytes: 48, AliasCount: 5,
		Present: []string{"objects", "total_objects", "object_size", "slab_size", "reclaim_account", "aliases", "store_user"}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
}

func TestParseSysfsCache_ReadsFlagsAndKeepsGoodFilesNextToABadOne(t *testing.T) {
	s, err := ParseSysfsCache(map[string][]byte{
		"objects":         []byte("1200 N0=700 N1=500\n"),
		"reclaim_account": []byte("1\n"),
		"store_user":      []byte("1\n"),
		"slab_size":       []byte("garbage\n"),
	})
	if err == nil || !strings.Contains(err.Error(), "slab_size") {
		t.Fatalf("err = %v, want one naming slab_size", err)
	}
	if s.Objects != 1200 || !s.Reclaimable || !s.StoreUser || s.SlabSizeBytes != 0 {
		t.Errorf("got %+v", s)
	}
}

func TestResolveAliases_RealSysfsOf6_18CountsEachDirectoryOnce(t *testing.T) {
	var entries []SysfsEntry
	for _, line := range strings.Split(strings.TrimSpace(string(readFixture(t, "sysfs-links-6.18.44.txt"))), "\n") {
		name, target, _ := strings.Cut(line, " -> ")
		entries = append(entries, SysfsEntry{Name: name, Target: target})
	}
	groups := ResolveAliases(entries)
	var g48 MergedCache
	dirs := 0
	for _, g := range groups {
		if g.Dir == ":0000048" {
			g48 = g
		}
		if !strings.Contains(g.Dir, "/") {
			dirs++
		}
	}
	wantNames := []string{"Acpi-Namespace", "ksm_mm_slot", "shared_policy_node", "xfs_ifork", "xfs_log_ticket", "xfs_refc_intent"}
	if !reflect.DeepEqual(g48.Names, wantNames) {
		t.Errorf(":0000048 names = %v, want %v", g48.Names, wantNames)
	}
	realDirs := 0
	for _, e := range entries {
		if e.Target == "" {
			realDirs++
		}
	}
	if len(groups) != realDirs || dirs != realDirs {
		t.Errorf("%d groups, want one per real directory (%d)", len(groups), realDirs)
	}
	if MergedCount(groups) != len(entries)-realDirs {
		t.Errorf("MergedCount = %d, want %d", MergedCount(groups), len(entries)-realDirs)
	}
}

func TestApplyAliases_NamesTheCachesHiddenInASlabinfoRow(t *testing.T) {
	caches := []Cache{{Name: "kmalloc-256"}, {Name: "dentry"}}
	groups := ResolveAliases([]SysfsEntry{
		{Name: ":0000256"}, {Name: "dentry"},
		{Name: "kmalloc-256", Target: ":0000256"}, {Name: "wl_sta_cache", Target: "../slab/:0000256"},
	})
	ApplyAliases(caches, groups)
	if !reflect.DeepEqual(caches[0].Aliases, []string{"wl_sta_cache"}) || caches[1].Aliases != nil {
		t.Errorf("aliases = %v / %v", caches[0].Aliases, caches[1].Aliases)
	}
}

func TestCacheApplySysfs_PrefersExactCounts(t *testing.T) {
	c := Cache{Name: "dentry", ActiveObjects: 900, NumObjects: 1000, ObjectSizeBytes: 192}
	c.ApplySysfs(SysfsCache{Objects: 850, TotalObjects: 1000, ObjectSizeBytes: 176, Reclaimable: true, Present: []string{"objects", "object_size", "reclaim_account"}})
	if c.ActiveObjects != 850 || c.NumObjects != 1000 || c.PayloadSizeBytes != 176 || !c.Reclaimable {
		t.Errorf("got %+v", c)
	}
}

func TestMergedCache_SharedNeedsTwoNames(t *testing.T) {
	groups := ResolveAliases([]SysfsEntry{{Name: ":0000064"}, {Name: "kmalloc-64", Target: ":0000064"}, {Name: ":0000128"}, {Name: "a", Target: ":0000128"}, {Name: "b", Target: ":0000128"}})
	if len(groups) != 2 || groups[0].Shared() || !groups[1].Shared() {
		t.Fatalf("groups = %+v", groups)
	}
}
