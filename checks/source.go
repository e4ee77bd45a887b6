package checks

import (
	"bytes"
	"path"
	"strings"

	"github.com/leakgate/leakgate/checks/allocinfo"
	"github.com/leakgate/leakgate/checks/kmemleak"
	"github.com/leakgate/leakgate/checks/meminfo"
	"github.com/leakgate/leakgate/checks/pageowner"
	"github.com/leakgate/leakgate/checks/slab"
)

// Source describes one kind of data the gate reads from a target: what one
// sample reads, how it is parsed, which series it yields, how its series are
// judged, and how findings about it are named and charted. The table of
// sources (Sources) drives SnapshotPaths, ParseSnapshot, SeriesBuilder, the
// policy's floors and validation, the failure message and the report: a new
// kernel source is a parser package plus one entry in that table
// (docs/EXTENDING.md).
type Source struct {
	// Kind names the source in series, findings, policy keys and CSV files.
	Kind Kind
	// Noun names one subject of this kind in a message ("slab cache").
	Noun string
	// Unit of the series values: "bytes" or "objects".
	Unit string
	// Rule says how the source's series are judged.
	Rule Rule
	// Cause is true when a finding of this kind names where memory goes (a
	// cache, a backtrace, a call site, a process) rather than an aggregate
	// symptom (a meminfo figure); messages lead with causes.
	Cause bool
	// Fast is true for cheap counters, worth reading more often than the
	// heavy evidence (kmemleak scans, per-process smaps).
	Fast bool
	// Reclaim is true for memory the kernel may give back when asked
	// (drop_caches, a cache's shrink): the end-of-run reclaim probe reads
	// the source again and a flagged series that gave its growth back is
	// reclaimable, not a leak.
	Reclaim bool
	// MinGrowthBytes and MinSlopeBytesPerHour are the default materiality
	// floors of a RuleTrend source (Policy overrides them per kind).
	MinGrowthBytes, MinSlopeBytesPerHour int64
	// TopGrowers charts the subjects that grew most in the report's overview
	// and names them in progress lines.
	TopGrowers bool
	// Overview lists subjects always charted in the report's overview.
	Overview []string
	// Signature marks subjects that are backtrace signatures (a 16-hex
	// digest, then frames): messages name them by the digest and culprit.
	Signature bool

	// Paths lists the target paths and globs one sample reads.
	Paths func(opts SampleOptions) []string
	// Parse reads the source's files of one snapshot into the sample.
	Parse func(c *ParseContext, s *Sample)
	// Read reports whether the sample holds this source's data (nil: always).
	// A sample that did not read it adds no points, not even zeros.
	Read func(s *Sample) bool
	// Points yields the sample's value per subject.
	Points func(s *Sample, emit func(Point))
	// ZeroWhenAbsent marks a cumulative source (kmemleak's report): a subject
	// missing from a sample that read the source has gone to zero.
	ZeroWhenAbsent bool
}

// Rule is how a source's series are judged.
type Rule int

// The rules.
const (
	// RuleTrend: the statistical trend test with materiality floors in bytes,
	// across all trend series of a run (Benjamini–Hochberg).
	RuleTrend Rule = iota
	// RuleScans: kmemleak's rule — a signature reported in consecutive scans
	// whose count never falls and grows (KmemleakMin*).
	RuleScans
)

// Point is one subject's value in one sample, with what a finding shows
// about the subject (the last sample's details win; zero fields keep the
// earlier ones).
type Point struct {
	Subject string
	Value   float64
	// Bytes is the value in bytes for a series counted in objects.
	Bytes float64
	// Context marks a series charted for context and never judged.
	Context bool
	// Decreasing marks a series whose fall is the leak direction.
	Decreasing      bool
	ObjectSizeBytes int64
	SizesBytes      []int64
	Culprit         *kmemleak.Frame
	Frames          []kmemleak.Frame
	AllocCallers    []string
}

// Sources is the table of data sources, in the order their series and
// findings are listed. Callers must not modify it.
func Sources() []Source { return sources }

// SourceOf returns the source of a kind.
func SourceOf(kind Kind) (Source, bool) {
	for _, s := range sources {
		if s.Kind == kind {
			return s, true
		}
	}
	return Source{}, false
}

// Noun names a subject of kind in a message; an unknown kind names itself.
func Noun(kind Kind) string {
	if s, ok := SourceOf(kind); ok {
		return s.Noun
	}
	return string(kind)
}

// IsCause reports whether a finding of kind names a cause (see Source.Cause).
func IsCause(kind Kind) bool {
	s, ok := SourceOf(kind)
	return ok && s.Cause
}

// sources is the registry. Each entry's functions are below it.
var sources = []Source{
	{
		Kind: KindSlab, Noun: "slab cache", Unit: "bytes", Rule: RuleTrend, Cause: true, Fast: true, Reclaim: true,
		// 1 MiB of slab in 12 h is 60 MiB a month on a 128–512 MiB device;
		// 16 KiB/h is 384 KiB a day.
		MinGrowthBytes: 1 << 20, MinSlopeBytesPerHour: 16 << 10,
		TopGrowers: true,
		Paths:      slabPaths, Parse: parseSlab, Points: slabPoints,
	},
	{
		Kind: KindKmemleak, Noun: "kmemleak signature", Unit: "objects", Rule: RuleScans, Cause: true, Signature: true,
		Paths: func(SampleOptions) []string { return []string{PathKmemleak} },
		Parse: parseKmemleak, Points: kmemleakPoints, ZeroWhenAbsent: true,
		// A report that failed to read says nothing about which objects
		// were freed: no zeros for it.
		Read: func(s *Sample) bool { _, failed := s.Errors[PathKmemleak]; return !failed },
	},
	{
		Kind: KindProcess, Noun: "process", Unit: "bytes", Rule: RuleTrend, Cause: true,
		MinGrowthBytes: 2 << 20, MinSlopeBytesPerHour: 32 << 10,
		TopGrowers: true,
		Paths:      processPaths, Parse: parseProcesses, Points: processPoints,
	},
	{
		Kind: KindVmalloc, Noun: "vmalloc caller", Unit: "bytes", Rule: RuleTrend, Cause: true, Fast: true, Reclaim: true,
		MinGrowthBytes: 1 << 20, MinSlopeBytesPerHour: 16 << 10,
		Paths: func(SampleOptions) []string { return []string{PathVmallocinfo} },
		Parse: parseVmalloc, Points: vmallocPoints,
	},
	{
		// Page-level growth slab and kmemleak cannot see (pages, page
		// fragments, page_pool, vmalloc), by call site; cheap to read.
		Kind: KindAllocinfo, Noun: "allocation site", Unit: "bytes", Rule: RuleTrend, Cause: true, Fast: true, Reclaim: true,
		MinGrowthBytes: 1 << 20, MinSlopeBytesPerHour: 16 << 10,
		Paths: func(SampleOptions) []string { return []string{allocinfo.Path} },
		Parse: parseAllocinfo, Points: allocinfoPoints,
		// Absent on kernels before 6.10 or without the option: not an error.
		Read: func(s *Sample) bool { return s.Allocinfo != nil },
	},
	{
		// The stack behind page-level growth, naming the driver when
		// allocinfo names only a generic helper; debugfs, slow grid.
		Kind: KindPageOwner, Noun: "page stack", Unit: "bytes", Rule: RuleTrend, Cause: true, Signature: true, Reclaim: true,
		MinGrowthBytes: 1 << 20, MinSlopeBytesPerHour: 16 << 10,
		Paths: func(SampleOptions) []string { return []string{pageowner.ShowStacksPath} },
		Parse: parsePageStacks, Points: pageStackPoints,
		Read: func(s *Sample) bool { return s.PageStacks != nil },
	},
	{
		Kind: KindMeminfo, Noun: "meminfo", Unit: "bytes", Rule: RuleTrend, Fast: true, Reclaim: true,
		// Aggregates are noisier than any one cache: higher floors.
		MinGrowthBytes: 4 << 20, MinSlopeBytesPerHour: 64 << 10,
		Overview: []string{SubjectMemAvailable, SubjectSlab, SubjectSUnreclaim},
		Paths:    func(SampleOptions) []string { return []string{PathMeminfo} },
		Parse:    parseMeminfo, Points: meminfoPoints,
	},
}

// ReclaimPaths is what the reclaim probe reads once the kernel was asked to
// give memory back: every path of the sources marked Reclaim, as a fast
// sample reads them (slabinfo without alloc_traces).
func ReclaimPaths(opts SampleOptions) []string {
	opts.Fast = true
	paths := []string{PathBootID, PathUptime}
	for _, src := range sources {
		if src.Reclaim {
			paths = append(paths, src.Paths(opts)...)
		}
	}
	return paths
}

// ParseContext is what a source's parser sees of one snapshot.
type ParseContext struct {
	// Files are the snapshot's files by target path (globs expanded).
	Files map[string][]byte
	// Opts are the sample's options.
	Opts  SampleOptions
	s     *Sample
	quiet []func(path string) bool
}

// File returns the file at path, recording "not in the snapshot" when the
// snapshot lacks it.
func (c *ParseContext) File(p string) ([]byte, bool) {
	b, ok := c.Files[p]
	if !ok {
		if _, already := c.s.Errors[p]; !already {
			c.s.Errors[p] = "not in the snapshot"
		}
	}
	return b, ok
}

// Fail records a problem with the file at path; the rest of the sample counts.
func (c *ParseContext) Fail(p string, err error) {
	if err != nil {
		c.s.Errors[p] = err.Error()
	}
}

// IgnoreReadErrors drops the snapshot's read errors for which quiet is true:
// they carry no news (a glob that matched nothing, a process that exited).
func (c *ParseContext) IgnoreReadErrors(quiet func(path string) bool) {
	c.quiet = append(c.quiet, quiet)
}

func (c *ParseContext) isQuiet(p string) bool {
	for _, q := range c.quiet {
		if q(p) {
			return true
		}
	}
	return false
}

// ---- slab caches ----------------------------------------------------------

// slabPaths is slabinfo, and on full samples the allocation sites of the
// caches that track them: alloc_traces runs to megabytes (every site's
// stacks) and is heavy evidence, not a cheap counter.
func slabPaths(opts SampleOptions) []string {
	paths := []string{PathSlabinfo}
	if opts.Fast {
		return paths
	}
	if opts.AllocTraces {
		paths = append(paths, GlobAllocTraces)
	}
	for _, c := range opts.AllocCallsCaches {
		if ValidCacheName(c) {
			paths = append(paths, "/sys/kernel/slab/"+c+"/alloc_calls")
		}
	}
	return paths
}

func parseSlab(c *ParseContext, s *Sample) {
	if b, ok := c.File(PathSlabinfo); ok {
		var err error
		s.Slabs, err = slab.ParseSlabinfo(b)
		c.Fail(PathSlabinfo, err)
	}
	parseAllocSites(c.Files, s)
	c.IgnoreReadErrors(func(p string) bool { return p == GlobAllocTraces })
}

func slabPoints(s *Sample, emit func(Point)) {
	for _, c := range s.Slabs {
		p := Point{Subject: c.Name, Value: float64(c.ActiveBytes()), ObjectSizeBytes: c.ObjectSizeBytes}
		if sites, ok := s.AllocSites[c.Name]; ok {
			p.AllocCallers = allocCallers(sites)
		}
		emit(p)
	}
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

// parseAllocSites reads every alloc_traces (debugfs, ≥ 5.14) and
// alloc_calls (sysfs, ≤ 5.13) file present into Sample.AllocSites by cache.
func parseAllocSites(files map[string][]byte, s *Sample) {
	for p, b := range files {
		var rep slab.AllocReport
		var err error
		switch {
		case strings.HasPrefix(p, "/sys/kernel/debug/slab/") && path.Base(p) == "alloc_traces":
			rep, err = slab.ParseAllocTraces(b)
		case strings.HasPrefix(p, "/sys/kernel/slab/") && path.Base(p) == "alloc_calls":
			rep, err = slab.ParseAllocCalls(b)
		default:
			continue
		}
		if err != nil {
			s.Errors[p] = err.Error()
		} else if rep.Truncated {
			s.Errors[p] = "cut short (alloc_calls stops at one page): some allocation sites may be missing"
		}
		if len(rep.Sites) == 0 {
			continue
		}
		if s.AllocSites == nil {
			s.AllocSites = map[string][]slab.AllocSite{}
		}
		s.AllocSites[path.Base(path.Dir(p))] = rep.Sites
	}
}

// ---- kmemleak ------------------------------------------------------------

func parseKmemleak(c *ParseContext, s *Sample) {
	b, ok := c.File(PathKmemleak)
	if !ok {
		return
	}
	rep, err := kmemleak.Parse(bytes.NewReader(b), kmemleak.Options{OwnModules: c.Opts.OwnModules, GroupsOnly: true})
	c.Fail(PathKmemleak, err)
	if rep != nil {
		s.Leaks = rep.Groups
		s.LeakObjects = rep.ObjectCount
	}
}

// kmemleakPoints counts objects per signature (kmemleak's report is
// cumulative and never cleared during a soak).
func kmemleakPoints(s *Sample, emit func(Point)) {
	for _, g := range s.Leaks {
		emit(Point{Subject: g.Signature, Value: float64(g.Count), Bytes: float64(g.Bytes),
			SizesBytes: g.SizesBytes, Culprit: g.Culprit, Frames: g.Frames})
	}
}

// ---- processes -----------------------------------------------------------

func processPaths(opts SampleOptions) []string {
	if opts.SkipProcesses {
		return nil
	}
	return []string{GlobProcStatus, GlobProcStat, GlobProcSmapsRollup}
}

func parseProcesses(c *ParseContext, s *Sample) {
	if c.Opts.SkipProcesses {
		return
	}
	pt := parseProcs(c.Files, s.Errors)
	s.Procs, s.Observer = pt.splitObserver(c.Opts.ReaderPID)
	c.IgnoreReadErrors(func(p string) bool { return pt.quiet(p, s.Observer) })
}

// processPoints is anonymous memory per process incarnation: proportional
// (Pss_Anon) where the kernel has it, resident otherwise.
func processPoints(s *Sample, emit func(Point)) {
	for _, pr := range s.Procs {
		v := pr.RSSAnonBytes
		if pr.HasPSSAnon {
			v = pr.PSSAnonBytes
		}
		emit(Point{Subject: pr.Key(), Value: float64(v)})
	}
}

// ---- vmalloc -------------------------------------------------------------

func parseVmalloc(c *ParseContext, s *Sample) {
	if b, ok := c.File(PathVmallocinfo); ok {
		var err error
		s.Vmalloc, err = meminfo.ParseVmallocinfo(b)
		c.Fail(PathVmallocinfo, err)
	}
}

// vmallocPoints is the vmalloc'd size per caller: the areas' printed sizes,
// which include one guard page per area, so the figure does not depend on
// the target's page size (pages= counts pages of unknown size).
func vmallocPoints(s *Sample, emit func(Point)) {
	for _, v := range s.Vmalloc {
		subject := v.Caller
		if v.Module != "" {
			subject += " [" + v.Module + "]"
		}
		emit(Point{Subject: subject, Value: float64(v.SizeBytes)})
	}
}

// ---- meminfo -------------------------------------------------------------

func parseMeminfo(c *ParseContext, s *Sample) {
	if b, ok := c.File(PathMeminfo); ok {
		var err error
		s.Mem, err = meminfo.Parse(b)
		c.Fail(PathMeminfo, err)
		s.UnaccountedBytes, s.UnaccountedCaveats = meminfo.Unaccounted(s.Mem)
	}
}

// meminfoPoints yields the aggregates judged (SUnreclaim, the unaccounted
// residual, MemAvailable falling) and Slab, charted for context.
func meminfoPoints(s *Sample, emit func(Point)) {
	if len(s.Mem) == 0 {
		return
	}
	if v, ok := s.Mem["SUnreclaim"]; ok {
		emit(Point{Subject: SubjectSUnreclaim, Value: float64(v)})
	}
	if _, ok := s.Mem["MemTotal"]; ok {
		emit(Point{Subject: SubjectUnaccounted, Value: float64(s.UnaccountedBytes)})
	}
	if v, ok := s.Mem["MemAvailable"]; ok {
		emit(Point{Subject: SubjectMemAvailable, Value: float64(v), Decreasing: true})
	}
	if v, ok := s.Mem["Slab"]; ok {
		emit(Point{Subject: SubjectSlab, Value: float64(v), Context: true})
	}
}

// ---- allocinfo -----------------------------------------------------------

// AllocinfoMinBytes is the smallest call site followed: a kernel has
// thousands of sites, most of a few KiB; a leak's site crosses 64 KiB long
// before it reaches the 1 MiB floor, and its series starts there.
const AllocinfoMinBytes = 64 << 10

func parseAllocinfo(c *ParseContext, s *Sample) {
	b, ok := c.Files[allocinfo.Path]
	if !ok {
		// Kernels before 6.10 have no allocinfo: not worth an error a sample.
		c.IgnoreReadErrors(func(p string) bool { return p == allocinfo.Path })
		return
	}
	info, err := allocinfo.Parse(b)
	c.Fail(allocinfo.Path, err)
	if info == nil {
		return
	}
	kept := make([]allocinfo.Site, 0, 64)
	for _, site := range allocinfo.Merge(info.Sites) {
		if site.Bytes >= AllocinfoMinBytes {
			kept = append(kept, site)
		}
	}
	s.Allocinfo = kept
}

// allocinfoPoints is each site's live bytes. A generic site (allocator
// internals, page-fragment and skb helpers, library helpers: charged for
// every caller, allocinfo.GenericReason) is charted for context and never
// judged alone: allocator internals count again what slabinfo and
// vmallocinfo count, and the others name no culprit — page_owner's stack
// does.
func allocinfoPoints(s *Sample, emit func(Point)) {
	for _, site := range s.Allocinfo {
		emit(Point{Subject: site.Key(), Value: float64(site.Bytes), AllocCallers: []string{site.Func}, Context: allocinfo.IsGeneric(site)})
	}
}

// ---- page_owner stacks ---------------------------------------------------

func parsePageStacks(c *ParseContext, s *Sample) {
	b, ok := c.Files[pageowner.ShowStacksPath]
	if !ok {
		// Without page_owner=on (or before 6.10) there is no show_stacks.
		c.IgnoreReadErrors(func(p string) bool { return p == pageowner.ShowStacksPath })
		return
	}
	rep, err := pageowner.Parse(b, c.Opts.OwnModules)
	c.Fail(pageowner.ShowStacksPath, err)
	if rep == nil {
		return
	}
	s.PageStacks = pageowner.Merge(rep.Stacks)
	if s.PageStacks == nil {
		s.PageStacks = []pageowner.Stack{}
	}
}

// pageStackPoints is each stack's outstanding pages in bytes (base pages of
// pageowner.PageBytes). The slab pages of kmemleak's own metadata are
// charted for context, never judged: they grow with what kmemleak tracks.
func pageStackPoints(s *Sample, emit func(Point)) {
	for _, st := range s.PageStacks {
		emit(Point{Subject: st.Key(), Value: float64(st.Pages * pageowner.PageBytes), Culprit: st.Culprit, Frames: st.Frames,
			Context: st.Bookkeeping != "" || processMemory(st.Frames)})
	}
}

// processMemory reports whether a stack allocates process or page-cache
// memory: a page fault, tmpfs or the page cache (mm/memory.c, mm/shmem.c,
// mm/filemap.c). Those pages belong to processes (judged per process) and
// to meminfo, not to a driver.
func processMemory(frames []kmemleak.Frame) bool {
	for _, f := range frames {
		switch {
		case f.Function == "handle_mm_fault", f.Function == "__handle_mm_fault", f.Function == "do_anonymous_page",
			strings.HasPrefix(f.Function, "shmem_"), strings.HasPrefix(f.Function, "filemap_"), strings.HasPrefix(f.Function, "__filemap_"),
			strings.HasPrefix(f.Function, "page_cache_ra"):
			return true
		}
	}
	return false
}
