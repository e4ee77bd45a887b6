package harness

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/remote"
)

// ReclaimProbe records the end-of-run reclaim probe in run.json.
type ReclaimProbe struct {
	At time.Time `json:"at"`
	// Caches are the slab caches the judge flagged and the probe asked to shrink.
	Caches []string `json:"caches"`
	// Note says what went wrong, when something did (the results may still stand).
	Note    string                 `json:"note,omitempty"`
	Results []checks.ReclaimResult `json:"results,omitempty"`
}

// minGaveBack is the share of its growth a flagged cache must give back to
// the reclaim probe to be reclaimable rather than a leak: a cache that
// shrinks back to near where it started was holding cache, not leaking.
const minGaveBack = 0.8

// reclaimScript drops the clean page cache, dentries and inodes
// (/proc/sys/vm/drop_caches = 3, after sync), then asks each slab cache
// named in its arguments to shrink (/sys/kernel/slab/<cache>/shrink, SLUB).
// Both writes are best effort: a cache without shrink keeps its objects.
const reclaimScript = `sync; echo 3 > "` + rootPrefix + `$1" || exit 3; shift
for c in "$@"; do echo 1 > "` + rootPrefix + `/sys/kernel/slab/$c/shrink" 2>/dev/null; done; exit 0`

// reclaimProbe runs the reclaim probe when the final judgement flagged slab
// caches: it asks the kernel to give memory back, reads the cheap counters
// once more (raw snapshot kept in raw/probe-reclaim.tar.gz) and records
// which flagged caches gave their growth back. It reports whether it
// recorded results.
func (s *soak) reclaimProbe(ctx context.Context) bool {
	r := s.rec
	caches := checks.ReclaimCandidates(r.Judgement.Judgement)
	if s.cfg.NoReclaimProbe || len(caches) == 0 {
		return false
	}
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
	argv := append([]string{"sh", "-c", reclaimScript, "sh", "/proc/sys/vm/drop_caches"}, caches...)
	res, err := s.tgt.Run(pctx, argv, remote.RunOptions{MaxOutputBytes: 1 << 16})
	switch {
	case err != nil:
		probe.Note = fmt.Sprintf("ask the kernel to reclaim: %v", err)
		return false
	case res.ExitStatus != 0:
		probe.Note = fmt.Sprintf("write /proc/sys/vm/drop_caches: exit status %d: %s", res.ExitStatus, strings.TrimSpace(string(res.Stderr)))
		return false
	}
	opts := sampleOptions(s.cfg.OwnModules)
	opts.Fast = true
	snap, err := s.tgt.ReadFiles(pctx, checks.SnapshotPaths(opts), remote.ReadOptions{})
	if err != nil {
		probe.Note = fmt.Sprintf("read after reclaim: %v", err)
		return false
	}
	at := s.clock.Now()
	if _, err := s.st.writeRawAs(filepath.Join(s.st.dir, RawDir, "probe-reclaim.tar.gz"), -1, at, snap); err != nil {
		s.logf("reclaim probe: %v", err)
	}
	after := checks.ParseSnapshot(-1, at, snap.Files, snap.Errors, opts)
	probe.Results = checks.Reclaim(r.Judgement.Judgement, r.seriesBuilder(), after, minGaveBack)
	for _, res := range probe.Results {
		s.logf("reclaim probe: %s: %.0f %% of its growth came back (%d -> %d bytes)", res.Cache, 100*res.GaveBack, res.LastBytes, res.AfterBytes)
	}
	return true
}
