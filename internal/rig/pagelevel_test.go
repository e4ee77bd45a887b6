package rig

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/leakgate/leakgate/checks/allocinfo"
	"github.com/leakgate/leakgate/checks/pageowner"
)

// Page-level leaks on the real 6.12 kernel: wlansim's RX pages and RX
// fragments, pinned on lists that never drain, are invisible to slabinfo and
// kmemleak; page_owner's show_stacks names wlansim's function and
// /proc/allocinfo names its site (pages) or the page-frag refill (fragments).
//
// With LEAKGATE_RIG_CAPTURE=1 it refreshes testdata/rig/captured/allocinfo,
// page_owner-show_stacks, page_owner-count_threshold and mem_profiling, and
// the parser fixtures in testdata/allocinfo and testdata/pageowner.

const (
	showStacks     = "/sys/kernel/debug/page_owner_stacks/show_stacks"
	countThreshold = "/sys/kernel/debug/page_owner_stacks/count_threshold"
)

func TestRigPageLevelLeaksAreNamedByPageOwnerAndAllocinfo(t *testing.T) {
	t.Parallel()
	vm := Start(t, BootOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	r := remote{t: t, vm: vm, ctx: ctx}
	captured := map[string][]byte{}
	own := []string{"wlansim"}

	t.Run("allocinfo is on from boot and page_owner was booted on", func(t *testing.T) {
		r := r.with(t)
		if got := strings.TrimSpace(r.run("cat", "/proc/sys/vm/mem_profiling")); got != "1" {
			t.Errorf("/proc/sys/vm/mem_profiling = %q, want 1 (MEM_ALLOC_PROFILING_ENABLED_BY_DEFAULT)", got)
		}
		if cmdline := r.run("cat", "/proc/cmdline"); !strings.Contains(" "+cmdline, " page_owner=on") {
			t.Errorf("/proc/cmdline %q lacks page_owner=on", cmdline)
		}
		head := firstLine(r.run("head", "-2", "/proc/allocinfo"))
		if head != "allocinfo - version: 1.0" {
			t.Errorf("/proc/allocinfo starts %q, want the 1.0 header", head)
		}
		if got := strings.TrimSpace(r.run("cat", countThreshold)); got != "0" {
			t.Errorf("count_threshold = %q at boot, want 0", got)
		}
		captured["mem_profiling"] = []byte(r.run("cat", "/proc/sys/vm/mem_profiling"))
	})

	t.Run("RX fragments freed as they are used hold no more than the ring", func(t *testing.T) {
		r := r.with(t)
		r.setParam("rx_frags", "1")
		frames0 := r.intParam("rx_frames")
		r.send(400)
		r.waitParamAtLeast("rx_frames", frames0+300)
		if got := r.intParam("pinned_frags"); got != 0 {
			t.Errorf("pinned_frags = %d with page_leak off, want 0", got)
		}
		// 32 ring slots of 2 KiB span at most 3 chunks of 32 KiB (8 pages each).
		if pages := culpritPages(t, r.run("cat", showStacks), own, "wlansim_rx_fill_frag"); pages > 24 {
			t.Errorf("wlansim_rx_fill_frag holds %d pages with the leak off, want at most 24 (the ring's chunks)", pages)
		}
		r.setParam("rx_frags", "0")
	})

	t.Run("pinned RX fragments are named by page_owner and seen by allocinfo only as the frag refill", func(t *testing.T) {
		r := r.with(t)
		refill0 := siteBytes(t, r.run("cat", "/proc/allocinfo"), "__page_frag_cache_refill", "")
		r.setParam("leak_every", "4")
		r.setParam("page_leak", "1")
		r.setParam("rx_frags", "1")
		frames0 := r.intParam("rx_frames")
		r.send(400)
		r.waitParamAtLeast("rx_frames", frames0+300)
		r.setParam("rx_frags", "0")
		r.setParam("page_leak", "0")
		pinned := r.intParam("pinned_frags")
		if pinned < 60 {
			t.Fatalf("pinned_frags = %d after 400 frames with leak_every=4, want at least 60", pinned)
		}
		// Each pinned 2 KiB fragment keeps its 32 KiB chunk: with one in 4
		// pinned, every chunk of 16 fragments holds one.
		stacks := r.run("cat", showStacks)
		pages := culpritPages(t, stacks, own, "wlansim_rx_fill_frag")
		if min := int64(pinned) * 8 / 16; pages < min {
			t.Errorf("wlansim_rx_fill_frag holds %d pages with %d pinned fragments, want at least %d", pages, pinned, min)
		}
		refill := siteBytes(t, r.run("cat", "/proc/allocinfo"), "__page_frag_cache_refill", "")
		if refill-refill0 < pages*pageowner.PageBytes/2 {
			t.Errorf("allocinfo __page_frag_cache_refill %d -> %d bytes, want growth near the %d pinned pages", refill0, refill, pages)
		}
		// kmemleak does not track pages: nothing of wlansim's RX fragments.
		r.run("sh", "-c", "echo scan > /sys/kernel/debug/kmemleak")
		time.Sleep(6 * time.Second)
		r.run("sh", "-c", "echo scan > /sys/kernel/debug/kmemleak")
		if rep := r.run("cat", "/sys/kernel/debug/kmemleak"); strings.Contains(rep, "wlansim_rx_fill") {
			t.Errorf("kmemleak reports wlansim_rx_fill*; pinned pages should be invisible to it:\n%.2000s", rep)
		}
	})

	t.Run("pinned RX pages are named by page_owner and by their own allocinfo site", func(t *testing.T) {
		r := r.with(t)
		r.setParam("rx_page_order", "1")
		r.setParam("leak_every", "4")
		r.setParam("page_leak", "1")
		r.setParam("rx_pages", "1")
		frames0 := r.intParam("rx_frames")
		r.send(400)
		r.waitParamAtLeast("rx_frames", frames0+300)
		r.setParam("rx_pages", "0")
		r.setParam("page_leak", "0")
		pinned := int64(r.intParam("pinned_pages"))
		if pinned < 60 {
			t.Fatalf("pinned_pages = %d after 400 frames with leak_every=4, want at least 60", pinned)
		}
		info := r.run("cat", "/proc/allocinfo")
		if !strings.Contains(info, " drivers/net/wireless/wlansim/wlansim.c:") || !strings.Contains(info, " [wlansim] func:wlansim_rx_fill_page ") {
			t.Errorf("/proc/allocinfo lacks the site drivers/net/wireless/wlansim/wlansim.c:<line> [wlansim] func:wlansim_rx_fill_page:\n%s", grepLines(info, "wlansim"))
		}
		// Order 1: 8 KiB a page; the ring holds 32 more.
		got := siteBytes(t, info, "wlansim_rx_fill_page", "wlansim")
		if want := pinned * 8192; got < want || got > want+32*8192 {
			t.Errorf("allocinfo wlansim_rx_fill_page [wlansim] = %d bytes with %d pinned order-1 pages, want %d to %d", got, pinned, want, want+32*8192)
		}
		r.run("sh", "-c", "echo 16 > "+countThreshold)
		stacks := r.run("cat", showStacks)
		pages := culpritPages(t, stacks, own, "wlansim_rx_fill_page")
		if pages < pinned*2 || pages > pinned*2+64 {
			t.Errorf("page_owner: wlansim_rx_fill_page holds %d base pages, want %d to %d", pages, pinned*2, pinned*2+64)
		}
		rep, err := pageowner.Parse([]byte(stacks), own)
		if err != nil {
			t.Fatalf("parse show_stacks: %v", err)
		}
		for _, s := range rep.Stacks {
			if s.Pages < 16 {
				t.Errorf("count_threshold=16 printed a stack with %d pages", s.Pages)
			}
		}
		captured["allocinfo"] = []byte(info)
		captured["page_owner-show_stacks"] = []byte(stacks)
		captured["page_owner-count_threshold"] = []byte(r.run("cat", countThreshold))
		captured["meminfo-pagelevel"] = []byte(r.run("cat", "/proc/meminfo"))
		r.run("sh", "-c", "echo 0 > "+countThreshold)
	})

	t.Run("module unload frees every pinned page and fragment", func(t *testing.T) {
		r := r.with(t)
		// wlansimd holds /dev/wlansim open and busybox init respawns it:
		// stop it and unload in the gap before the respawn opens it again.
		r.run("sh", "-c", `for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
			kill $(pidof wlansimd) 2>/dev/null; rmmod wlansim 2>/dev/null && exit 0; sleep 0.2
		done; echo "rmmod wlansim: still in use after 20 tries" >&2; exit 1`)
		// lib/alloc_tag.c logs a module's sites that still hold memory at unload.
		if log := r.run("dmesg"); strings.Contains(log, "allocated at module unload") {
			t.Errorf("the kernel reports wlansim memory still allocated at unload:\n%s", grepLines(log, "allocated at module unload"))
		}
		stacks := r.run("cat", showStacks)
		for _, f := range []string{"wlansim_rx_fill_page", "wlansim_rx_fill_frag"} {
			if strings.Contains(stacks, f+"+") {
				t.Errorf("show_stacks still lists %s after rmmod", f)
			}
		}
	})

	if os.Getenv("LEAKGATE_RIG_CAPTURE") == "1" && !t.Failed() {
		saveCaptured(t, captured)
		saveParserFixtures(t, captured)
	}
}

// culpritPages sums the pages of the show_stacks stacks blamed on function.
func culpritPages(t *testing.T, stacks string, own []string, function string) int64 {
	t.Helper()
	rep, err := pageowner.Parse([]byte(stacks), own)
	if err != nil {
		t.Fatalf("parse show_stacks: %v\n%.2000s", err, stacks)
	}
	var n int64
	for _, s := range rep.Stacks {
		if s.Culprit != nil && s.Culprit.Function == function {
			n += s.Pages
		}
	}
	return n
}

// siteBytes sums the allocinfo bytes of the sites of function (and module).
func siteBytes(t *testing.T, text, function, module string) int64 {
	t.Helper()
	info, err := allocinfo.Parse([]byte(text))
	if err != nil {
		t.Fatalf("parse /proc/allocinfo: %v", err)
	}
	var n int64
	found := false
	for _, s := range info.Sites {
		if s.Func == function && s.Module == module {
			n += s.Bytes
			found = true
		}
	}
	if !found {
		t.Fatalf("/proc/allocinfo has no site func:%s [%s]", function, module)
	}
	return n
}

// saveParserFixtures copies the captures into the parsers' fixture folders.
func saveParserFixtures(t *testing.T, files map[string][]byte) {
	t.Helper()
	dir, err := ScriptsDir()
	if err != nil {
		t.Fatal(err)
	}
	root := dir + "/../.."
	for src, dst := range map[string]string{
		"allocinfo":              "testdata/allocinfo/allocinfo-6.12.117-qemu-rig.txt",
		"page_owner-show_stacks": "testdata/pageowner/show_stacks-6.12.117-qemu-rig.txt",
	} {
		if err := os.WriteFile(root+"/"+dst, files[src], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("refreshed the parser fixtures; run go test -update ./checks/allocinfo ./checks/pageowner and review the .want diffs")
}

// grepLines returns the lines of text containing substr.
func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
