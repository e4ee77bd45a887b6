package harness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/leakgate/leakgate/checks"
	"github.com/leakgate/leakgate/remote"
)

// SampleConfig tunes TakeSample.
type SampleConfig struct {
	// OwnModules are modules or symbol prefixes blamed first.
	OwnModules []string
	// Scan runs the kmemleak sample scans first, as a soak sample does.
	Scan bool
	// Clock times the wait between scans (default SystemClock).
	Clock Clock
}

// TakeSample takes one sample outside a soak, for debugging: it writes the
// raw snapshot (raw.tar.gz) and the parsed sample (sample.json) into dir,
// raw first, and returns the sample.
func TakeSample(ctx context.Context, tgt remote.Target, dir string, cfg SampleConfig) (checks.Sample, error) {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock()
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return checks.Sample{}, fmt.Errorf("create %s: %w", dir, err)
	}
	s := &soak{cfg: Config{ScanTimeout: DefaultScanTimeout}, clock: cfg.Clock, tgt: tgt}
	var note string
	if cfg.Scan {
		var err error
		if note, err = s.runScanSteps(ctx, sampleScanSteps()); err != nil {
			return checks.Sample{}, err
		}
	}
	snap, err := tgt.ReadFiles(ctx, snapshotPaths(cfg.OwnModules), remote.ReadOptions{})
	if err != nil {
		return checks.Sample{}, fmt.Errorf("read snapshot on %s: %w", tgt.Name(), err)
	}
	at := cfg.Clock.Now()
	var raw []byte
	{
		buf := &bytesBuffer{}
		if err := encodeSnapshot(buf, 0, at, snap); err != nil {
			return checks.Sample{}, fmt.Errorf("encode snapshot: %w", err)
		}
		raw = buf.b
	}
	if err := writeFileSync(filepath.Join(dir, "raw.tar.gz"), raw); err != nil {
		return checks.Sample{}, err
	}
	smp := newSample(0, at, snap, cfg.OwnModules)
	if note != "" {
		if smp.Errors == nil {
			smp.Errors = map[string]string{}
		}
		smp.Errors[kmemleakPath] = note
	}
	if err := writeJSONFile(filepath.Join(dir, "sample.json"), smp); err != nil {
		return smp, err
	}
	return smp, nil
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
