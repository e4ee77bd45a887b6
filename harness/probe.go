package harness

import (
	"bytes"
	"context"
	"fmt"
	"github.com/leakgate/leakgate/internal/human"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/checks/allocinfo"
	"github.com/leakgate/leakgate/remote"
)

// ProbeRawDir holds the raw snapshots the end-of-run probes read
// (raw/probes/reclaim.tar.gz).
const ProbeRawDir = "probes"

// ReclaimProbe records the end-of-run reclaim probe in run.json.
type ReclaimProbe struct {
	At time.Time `json:"at"`
	// Caches are the slab caches the judge flagged and the probe asked to
	// shrink (other flagged series are re-measured after drop_caches only).
	Caches []string `json:"caches,omitempty"`
	// Note says what went wrong, when something did (the results may still stand).
	Note    string                 `json:"note,omitempty"`
	Results []checks.ReclaimResult `json:"results,omitempty"`
}

// minGaveBack is the share of its growth a flagged cache must give back to
// the reclaim probe to be reclaimable rather than a leak: a cache that
// shrinks back to near where it started was holding cache, not leaking.
const minGaveBack = 0.8

// reclaimScript drops the clean page cache, dentries and inodes (writes 3
// to its first argument, /proc/sys/vm/drop_caches, after sync), then asks
// each slab cache to shrink (writes 1 to each further argument,
// /sys/kernel/slab/<cache>/shrink, SLUB). The shrinks are best effort: a
// cache without the file keeps its objects.
const reclaimScript = `sync; echo 3 > "$1" || exit 3; shift
for f in "$@"; do echo 1 > "$f" 2>/dev/null; done; exit 0`

// reclaimProbe runs the reclaim probe when the final judgement flagged slab
// caches: it asks the kernel to give memory back, reads the cheap counters
// once more (raw snapshot kept in raw/probes/reclaim.tar.gz) and records
// which flagged caches gave their growth back. It reports whether it
// recorded results.
func (s *soak) reclaimProbe(ctx context.Context) bool {
	r := s.rec
	if s.cfg.NoReclaimProbe || checks.ReclaimFindings(r.Judgement) == 0 {
		return false
	}
	caches := checks.ReclaimCandidates(r.Judgement)
	s.status("reclaim probe")
	probe := &ReclaimProbe{At: s.clock.Now(), Caches: caches}
	r.Meta.Reclaim = probe
	defer func() {
		if err := s.st.writeJSON(RunFile, r.Meta); err != nil {
			s.logf("reclaim probe: record: %v", err)
		}
	}()
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	argv := []string{"sh", "-c", reclaimScript, "sh", "/proc/sys/vm/drop_caches"}
	for _, c := range caches {
		argv = append(argv, "/sys/kernel/slab/"+c+"/shrink")
	}
	paths := make([]int, 0, len(argv)-4)
	for i := 4; i < len(argv); i++ {
		paths = append(paths, i)
	}
	res, err := s.tgt.Run(pctx, argv, remote.RunOptions{MaxOutputBytes: 1 << 16, PathArgs: paths})
	switch {
	case err != nil:
		probe.Note = fmt.Sprintf("ask the kernel to reclaim: %v", err)
		return false
	case res.ExitStatus != 0:
		probe.Note = fmt.Sprintf("write /proc/sys/vm/drop_caches: exit status %d: %s", res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
		return false
	}
	opts := sampleOptions(s.cfg.OwnModules)
	snap, err := s.tgt.ReadFiles(pctx, checks.ReclaimPaths(opts), remote.ReadOptions{})
	if err != nil {
		probe.Note = fmt.Sprintf("read after reclaim: %v", err)
		return false
	}
	at := s.clock.Now()
	name := filepath.Join(s.st.dir, RawDir, ProbeRawDir, "reclaim.tar.gz")
	if err := os.MkdirAll(filepath.Dir(name), dirMode); err != nil {
		s.logf("reclaim probe: %v", err)
	} else if _, err := s.st.writeRawAs(name, -1, at, snap); err != nil {
		s.logf("reclaim probe: %v", err)
	}
	after := checks.ParseSnapshot(-1, at, snap.Files, snap.Errors, opts) // a full parse of what was read
	probe.Results = checks.Reclaim(r.Judgement, r.seriesBuilder(), after, minGaveBack)
	for _, res := range probe.Results {
		s.logf("reclaim probe: %s %s: %.0f %% of its growth came back (%s -> %s)", res.Kind, res.Subject, 100*res.GaveBack, human.Bytes(float64(res.LastBytes)), human.Bytes(float64(res.AfterBytes)))
	}
	return true
}

// ModuleReload records the reload probe of one module in run.json.
type ModuleReload struct {
	Module string    `json:"module"`
	At     time.Time `json:"at"`
	// MemAvailable before the unload and after it; CameBackBytes is the
	// difference (what the module and its users held).
	MemAvailableBeforeBytes int64 `json:"mem_available_before_bytes"`
	MemAvailableAfterBytes  int64 `json:"mem_available_after_bytes"`
	CameBackBytes           int64 `json:"came_back_bytes"`
	// Held are the call sites the kernel reported still holding memory at
	// unload (allocinfo, 6.10+): leaks.
	Held []allocinfo.HeldAtUnload `json:"held_at_unload,omitempty"`
	// Unloaded and Reloaded say whether each command succeeded.
	Unloaded bool   `json:"unloaded"`
	Reloaded bool   `json:"reloaded"`
	Note     string `json:"note,omitempty"`
}

// reloadProbe unloads and loads again each of the profile's reload_modules
// after the last sample: the memory that comes back is what the module
// held, and every call site the kernel reports still holding memory at
// unload is a leak with its site. The target is left with the module
// loaded. It reports whether it recorded anything.
func (s *soak) reloadProbe(ctx context.Context) bool {
	if s.cfg.NoReloadProbe || s.cfg.Profile == nil || len(s.cfg.Profile.ReloadModules) == 0 {
		return false
	}
	s.status("reload probe")
	r := s.rec
	defer func() {
		if err := s.st.writeJSON(RunFile, r.Meta); err != nil {
			s.logf("reload probe: record: %v", err)
		}
	}()
	for _, m := range s.cfg.Profile.ReloadModules {
		res := s.reloadOne(ctx, m)
		r.Meta.Reload = append(r.Meta.Reload, res)
		s.logf("reload probe: %s: unloaded %v, reloaded %v, %s came back, %d sites held memory at unload %s", m.Module, res.Unloaded, res.Reloaded, human.Bytes(float64(res.CameBackBytes)), len(res.Held), res.Note)
	}
	return true
}

func (s *soak) reloadOne(ctx context.Context, m ReloadModule) ModuleReload {
	res := ModuleReload{Module: m.Module, At: s.clock.Now()}
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	run := func(what string, argv []string) ([]byte, bool) {
		out, err := s.tgt.Run(pctx, argv, remote.RunOptions{MaxOutputBytes: 16 << 20})
		switch {
		case err != nil:
			note("%s: %v", what, err)
			return nil, false
		case out.ExitStatus != 0:
			note("%s: exit status %d: %s", what, out.ExitStatus, strings.TrimSpace(string(out.Stderr)))
			return out.Stdout, false
		}
		return out.Stdout, true
	}
	memAvailable := func() int64 {
		opts := sampleOptions(s.cfg.OwnModules)
		opts.Fast = true
		snap, err := s.tgt.ReadFiles(pctx, []string{checks.PathMeminfo}, remote.ReadOptions{})
		if err != nil {
			note("read meminfo: %v", err)
			return 0
		}
		smp := checks.ParseSnapshot(-1, s.clock.Now(), snap.Files, snap.Errors, opts)
		return int64(smp.Mem["MemAvailable"])
	}
	logCmd := m.Log
	if len(logCmd) == 0 {
		logCmd = []string{"dmesg"}
	}
	logBefore, _ := run("kernel log before the unload", logCmd)
	res.MemAvailableBeforeBytes = memAvailable()
	_, res.Unloaded = run("unload "+m.Module, m.Unload)
	logAfter, _ := run("kernel log after the unload", logCmd)
	res.MemAvailableAfterBytes = memAvailable()
	if res.MemAvailableBeforeBytes > 0 && res.MemAvailableAfterBytes > 0 {
		res.CameBackBytes = res.MemAvailableAfterBytes - res.MemAvailableBeforeBytes
	}
	// Only what the kernel said since the unload began.
	logAfter = bytes.TrimPrefix(logAfter, logBefore)
	for _, h := range allocinfo.ParseUnload(logAfter) {
		if h.Module == m.Module {
			res.Held = append(res.Held, h)
		}
	}
	_, res.Reloaded = run("load "+m.Module, m.Load)
	res.Note = strings.Join(notes, "; ")
	return res
}
